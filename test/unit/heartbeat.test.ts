// When a silent socket is pinged: V1 after activity_timeout, V2 after Sockudo's
// max(websocket.ping_interval, activity_timeout / 2, 5) seconds (SOCKUDO-REFERENCE §1.6 line 118).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pingAfterSeconds } from '../../src/worker/heartbeat.ts';

test('V1 pings after activity_timeout; V2 after max(ping_interval, activity_timeout / 2, 5)', () => {
  const defaults = { activity_timeout: 120, websocket_ping_interval: 30 };
  assert.equal(pingAfterSeconds(1, defaults), 120);
  assert.equal(pingAfterSeconds(2, defaults), 60, 'the reference: 60 s with the defaults');
  assert.equal(pingAfterSeconds(2, { activity_timeout: 20, websocket_ping_interval: 30 }), 30, 'ping_interval is a floor');
  assert.equal(pingAfterSeconds(2, { activity_timeout: 4, websocket_ping_interval: 1 }), 5, 'never under 5 s');
  assert.equal(pingAfterSeconds(2, { activity_timeout: 15, websocket_ping_interval: 1 }), 7.5);
  assert.equal(pingAfterSeconds(1, { activity_timeout: 4, websocket_ping_interval: 1 }), 4, 'V1 keeps Pusher\'s rule');
});
