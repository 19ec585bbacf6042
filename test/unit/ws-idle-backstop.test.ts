// uWS's idle timeout is only a backstop behind our heartbeats: it must never drop a quiet, healthy socket before its
// ping (README: V2 pings after max(websocket_ping_interval, activity_timeout / 2, 5) s, then 4201 without a pong).
// uWS caps idleTimeout at 960 s, so past that the backstop is off (idleTimeout 0).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { loadConfig } from '../../src/config/load.ts';
import { pingAfterSeconds } from '../../src/worker/heartbeat.ts';
import { WsServer } from '../../src/worker/wsServer.ts';

function idleTimeoutFor(fileContents: Record<string, unknown>): { idle: number; pingAfter: number } | 'refused' {
  let config;
  try {
    config = loadConfig({ fileContents: { ...fileContents, apps: [{ id: 'a', key: 'k', secret: 's' }] }, env: {} });
  } catch {
    return 'refused';
  }
  const stub = {} as never;
  const server = new WsServer({ config, workerIndex: 0, quota: stub, ipQuota: stub, counters: stub, channelCounts: stub, log: stub, toPrimary: () => {}, presenceToPrimary: () => {}, isDraining: () => false });
  let idle = -1;
  const fakeApp = { ws: (_pattern: string, behavior: { idleTimeout: number }) => { idle = behavior.idleTimeout; } };
  server.attach(fakeApp as never);
  return { idle, pingAfter: pingAfterSeconds(2, config) };
}

describe('the V2 ping comes before uWS idles a silent socket out', () => {
  for (const settings of [{ websocket_ping_interval: 1200 }, { activity_timeout: 3600 }]) {
    test(`with ${JSON.stringify(settings)}`, () => {
      const r = idleTimeoutFor(settings);
      if (r === 'refused') return; // a refused setting is a fine mend too
      assert.ok(r.idle === 0 || r.idle > r.pingAfter, `uWS idleTimeout ${r.idle} s drops a silent V2 socket before our ping at ${r.pingAfter} s`);
    });
  }
});
