// The uWebSockets.js loader: native binary or a clear UwsLoadError, never the package's slow pure-JS fallback.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, sep } from 'node:path';
import { describe, test } from 'node:test';
import { UwsLoadError, loadNativeUws, nativeBinaryPath, uws } from '../../src/transport/uws.ts';

const require = createRequire(import.meta.url);
const packageDir = dirname(require.resolve('uWebSockets.js/package.json'));

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'sockudo-uws-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function loadError(dir: string): UwsLoadError {
  let caught: unknown;
  try {
    loadNativeUws(dir);
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof UwsLoadError, `expected a UwsLoadError, got ${String(caught)}`);
  assert.equal(caught.name, 'UwsLoadError');
  return caught;
}

describe('nativeBinaryPath', () => {
  test('names the binary for this platform, arch and Node ABI under binaries/', () => {
    const p = nativeBinaryPath('/pkg');
    assert.equal(p, join('/pkg', 'binaries', `uws_${process.platform}_${process.arch}_${process.versions.modules}.node`));
  });
});

describe('loadNativeUws', () => {
  test('an empty directory: UwsLoadError saying which binary is missing and that the fallback is refused', (t) => {
    const dir = tempDir(t);
    const err = loadError(dir);
    assert.ok(err.message.includes(nativeBinaryPath(dir)), err.message);
    assert.ok(err.message.includes(process.version), 'names the running Node version');
    assert.ok(err.message.includes(`ABI ${process.versions.modules}`));
    assert.match(err.message, /no native binary/);
    assert.match(err.message, /fallback/);
  });

  test('a directory whose binary is garbage: UwsLoadError naming the file and the load failure', (t) => {
    const dir = tempDir(t);
    const path = nativeBinaryPath(dir);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, 'this is not a shared object\n');
    const err = loadError(dir);
    assert.ok(err.message.includes(path), err.message);
    assert.match(err.message, /failed to load: \S/);
  });

  test('a binary for another ABI next to the expected name does not count', (t) => {
    const dir = tempDir(t);
    mkdirSync(join(dir, 'binaries'));
    writeFileSync(join(dir, 'binaries', `uws_${process.platform}_${process.arch}_1.node`), '');
    assert.match(loadError(dir).message, /no native binary/);
  });

  test('the installed package directory loads the native module', () => {
    const mod = loadNativeUws(packageDir);
    assert.equal(typeof mod.App, 'function');
    assert.match(Function.prototype.toString.call(mod.App), /\[native code\]/);
  });
});

describe('uws()', () => {
  test('returns the native module, not the package’s JS fallback', () => {
    const mod = uws();
    assert.equal(typeof mod.App, 'function');
    assert.equal(typeof mod.us_socket_local_port, 'function');
    // the fallback's App is a plain JS function; the addon's is native code
    assert.match(Function.prototype.toString.call(mod.App), /\[native code\]/);
    assert.match(Function.prototype.toString.call(mod.us_socket_local_port), /\[native code\]/);
    // it is exactly the addon at the expected path
    assert.equal(mod, require(nativeBinaryPath(packageDir)));
    // and neither the package entry point (which may fall back) nor the fallback was loaded
    const loaded = Object.keys(require.cache);
    const fallbackDir = `${join(packageDir, 'dist')}${sep}`;
    assert.ok(!loaded.some((p) => p.startsWith(fallbackDir)), `fallback loaded: ${loaded.filter((p) => p.startsWith(fallbackDir))}`);
    assert.ok(!loaded.includes(join(packageDir, 'src', 'uws.js')), 'package entry point loaded');
  });

  test('is loaded once and cached', () => {
    assert.equal(uws(), uws());
  });

  test('App() builds an app without listening', () => {
    const app = uws().App();
    assert.equal(typeof app.ws, 'function');
    assert.equal(typeof app.listen, 'function');
  });
});
