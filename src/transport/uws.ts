// The only module that loads uWebSockets.js. It loads the native binary directly and refuses to go on
// without it: the package's own entry point silently falls back to a slow pure-JS implementation.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type * as UwsModule from 'uWebSockets.js';

export type { HttpRequest, HttpResponse, TemplatedApp, WebSocket, WebSocketBehavior, us_listen_socket } from 'uWebSockets.js';

export class UwsLoadError extends Error {
  override name = 'UwsLoadError';
}

const require = createRequire(import.meta.url);

/** Path of the native addon for this platform and Node ABI inside the installed package directory. */
export function nativeBinaryPath(packageDir: string): string {
  return join(packageDir, 'binaries', `uws_${process.platform}_${process.arch}_${process.versions.modules}.node`);
}

export function loadNativeUws(packageDir: string): typeof UwsModule {
  const path = nativeBinaryPath(packageDir);
  if (!existsSync(path)) {
    throw new UwsLoadError(
      `uWebSockets.js has no native binary for ${process.platform}-${process.arch} with Node ABI ${process.versions.modules} ` +
        `(Node ${process.version}); expected ${path}. Use Node 20, and refusing the pure-JS fallback.`,
    );
  }
  try {
    return require(path) as typeof UwsModule;
  } catch (err) {
    throw new UwsLoadError(`uWebSockets.js native binary ${path} failed to load: ${(err as Error).message}`);
  }
}

let loaded: typeof UwsModule | undefined;

/** The native uWS module; throws UwsLoadError when it cannot be had. */
export function uws(): typeof UwsModule {
  loaded ??= loadNativeUws(dirname(require.resolve('uWebSockets.js/package.json')));
  return loaded;
}
