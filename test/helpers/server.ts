// Starts the real multi-threaded server in this process on free ports, for integration tests.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { loadConfig } from '../../src/config/load.ts';
import type { Config } from '../../src/config/schema.ts';
import { type ServerHandle, startServer } from '../../src/primary/server.ts';

export interface TestServer extends ServerHandle {
  config: Config;
}

/**
 * Two workers, per-worker test ports, port 0 everywhere, silent logs, and connection recovery on (off by default, as
 * Sockudo; most V2 tests check positions and resumes, and a test of recovery off says so); `overrides` are
 * config-file keys.
 */
export async function startTestServer(overrides: Record<string, unknown> = {}, env: NodeJS.ProcessEnv = {}): Promise<TestServer> {
  const config = loadConfig({
    fileContents: {
      port: 0,
      workers: 2,
      worker_ports: true,
      metrics: { port: 0 },
      log: { level: 'silent' },
      connection_recovery: { enabled: true },
      // Every test server gets its own push database unless the test brings one.
      ...overrides,
      push: { storage: { sqlite_path: join(mkdtempSync(join(tmpdir(), 'sockudo-push-')), 'push.sqlite') }, ...(overrides.push as object | undefined) },
    },
    env,
  });
  const handle = await startServer(config, pino({ level: 'silent' }));
  return { ...handle, config };
}

/** Polls `check` until it returns a truthy value or the deadline passes. */
export async function eventually<T>(check: () => T | Promise<T>, what: string, timeoutMs = 5000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
