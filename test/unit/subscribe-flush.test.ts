// A subscription lets the publishes its worker holds out before the socket joins the topic
// (worker/subscriptions.ts join, worker/fanoutHold.ts): they came before it, so the new subscriber must not get
// them (a presence member_added among them would announce a member its member list already has). A V2
// re-subscribe with a new filter flushes while the socket still has its old subscription, so it gets them there.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig } from '../../src/config/load.ts';
import type { SocketState } from '../../src/worker/socketState.ts';
import { subscribe } from '../../src/worker/subscriptions.ts';
import type { WsServer } from '../../src/worker/wsServer.ts';

function fakeWorker(protocol: 1 | 2) {
  const config = loadConfig({ env: {} });
  const calls: string[] = [];
  const core = {
    deps: { config },
    delivery: { flushHeld: () => calls.push('flush held') },
    channels: { add: () => true, remove: () => {} },
    fanout: { join: () => 'v2-topic', leave: () => {} },
    holds: { shouldHold: () => false, drop: () => {} },
    replay: { position: () => ({ streamId: 's', serial: 0 }) },
    cache: { get: () => undefined },
    countSubscription: () => {},
    send: () => calls.push('subscription_succeeded'),
    sendError: (_s: unknown, e: string) => calls.push(`error ${e}`),
  } as unknown as WsServer;
  const socket = {
    protocol,
    app: config.apps[0],
    appIndex: 0,
    socketId: '1.1',
    userId: null,
    channels: new Map(),
    pendingPresence: new Map(),
    ws: { subscribe: () => calls.push('join topic'), unsubscribe: () => calls.push('leave topic') },
  } as unknown as SocketState;
  return { core, socket, calls };
}

test('a subscribe lets held publishes out before the socket joins the topic', () => {
  const { core, socket, calls } = fakeWorker(1);
  subscribe(core, socket, { channel: 'big' });
  assert.deepEqual(calls, ['flush held', 'join topic', 'subscription_succeeded']);
});

test('a V2 re-subscribe with another filter lets them out before it leaves the old subscription', () => {
  const { core, socket, calls } = fakeWorker(2);
  subscribe(core, socket, { channel: 'big' });
  calls.length = 0;
  subscribe(core, socket, { channel: 'big', filter: { tags: { key: 'k', cmp: 'eq', val: 'v' } } });
  assert.deepEqual(calls.slice(0, 2), ['flush held', 'leave topic']);
});
