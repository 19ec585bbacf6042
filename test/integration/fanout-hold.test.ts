// Publishes to a channel with a large audience on a worker, while publishes stream, are held for a moment and
// written together (src/worker/fanoutHold.ts). Through the real server and SDK: every subscriber gets every
// publish once, in one order shared by all, a publish sent after all of them comes last, and some were held.
// With a V2 audience the held publishes wait for their V2 positions and go out with them: serials in order.
// (That nothing overtakes a held publish is checked deterministically in test/unit/channel-delivery-hold.test.ts:
// here the keyed publish's round trip through the primary outlasts the hold.)
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DEVELOPMENT_APP } from '../../src/config/schema.ts';
import { LARGE_FANOUT } from '../../src/worker/fanoutHold.ts';
import { RawClient, openV2, serverSdk } from '../helpers/clients.ts';
import { type TestServer, eventually, startTestServer } from '../helpers/server.ts';
import { signedUrl } from '../helpers/signing.ts';

const CHANNEL = 'big';
const PUBLISHES = 60;

async function metric(port: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{app_id="${DEVELOPMENT_APP.id}"`));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : Number.NaN;
}

/**
 * Enough clients subscribed to CHANNEL on one worker for the channel to count as large there, opened 50 at a time;
 * `prefix`: the protocol's event prefix (`pusher` for V1, `sockudo` for V2).
 */
async function openSubscribed(open: () => Promise<RawClient>, prefix: 'pusher' | 'sockudo'): Promise<RawClient[]> {
  const clients: RawClient[] = [];
  for (let opened = 0; opened < LARGE_FANOUT + 8; opened += 50) {
    const batch = await Promise.all(Array.from({ length: Math.min(50, LARGE_FANOUT + 8 - opened) }, open));
    await Promise.all(batch.map((c) => c.request({ event: `${prefix}:subscribe`, data: { channel: CHANNEL } }, (f) => f.event.endsWith('subscription_succeeded'))));
    clients.push(...batch);
  }
  return clients;
}

/** The channel's `n` events a client got (V1 or V2), in the order it got them. */
function events(c: RawClient) {
  return c.frames.filter((f) => f.channel === CHANNEL && f.event === 'n');
}

/** The data of the channel's events a client got, in the order it got them. */
function received(c: RawClient): string[] {
  return c.frames.filter((f) => f.channel === CHANNEL && !f.event.startsWith('pusher')).map((f) => f.data as string);
}

describe('publishes held for a large audience', () => {
  let server: TestServer;
  const subscribers: RawClient[] = [];

  before(async () => {
    server = await startTestServer({ workers: 1 });
    // Enough subscribers on the one worker for the channel to count as large there.
    subscribers.push(...(await openSubscribed(() => RawClient.open(server.port), 'pusher')));
  });

  after(async () => {
    for (const c of subscribers) c.close();
    await server.shutdown();
  });

  test('every subscriber gets each publish once, all in the same order, the last one sent last, and some were held', async () => {
    const heldBefore = await metric(server.metricsPort as number, 'sockudo_publishes_held_total');
    const sdk = serverSdk(server.port);
    // Sent at once: after the first, the worker sees them stream and holds them.
    await Promise.all(Array.from({ length: PUBLISHES }, (_, i) => sdk.trigger(CHANNEL, 'n', String(i))));
    // Every one of those was answered; this one, with an idempotency key, goes through the primary.
    const body = JSON.stringify({ name: 'n', channel: CHANNEL, data: 'last' });
    const path = `/apps/${DEVELOPMENT_APP.id}/events`;
    const res = await fetch(signedUrl(`http://127.0.0.1:${server.port}`, { path, body }), {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Idempotency-Key': `after-${Date.now()}` },
      body,
    });
    assert.equal(res.status, 200);

    await eventually(() => subscribers.every((c) => received(c).length === PUBLISHES + 1), 'every publish at every subscriber', 20_000);
    const order = received(subscribers[0]);
    assert.equal(order.at(-1), 'last', 'the publish sent after all the others came last');
    assert.deepEqual(
      order.slice(0, -1).sort((a, b) => Number(a) - Number(b)),
      Array.from({ length: PUBLISHES }, (_, i) => String(i)),
      'each publish once',
    );
    for (const c of subscribers) assert.deepEqual(received(c), order);
    assert.ok((await metric(server.metricsPort as number, 'sockudo_publishes_held_total')) > heldBefore, 'some publishes were held');
  });
});

describe('publishes held for a large V2 audience', () => {
  let server: TestServer;
  const subscribers: RawClient[] = [];
  /** The channel messages a V2 client got, in order: data and serial. */
  const messages = (c: RawClient) => c.frames.filter((f) => f.channel === CHANNEL && !f.event.includes(':')).map((f) => ({ data: f.data as string, serial: f.serial as number }));

  before(async () => {
    server = await startTestServer({ workers: 1 });
    subscribers.push(...(await openSubscribed(() => openV2(server.port), 'sockudo')));
  });

  after(async () => {
    for (const c of subscribers) c.close();
    await server.shutdown();
  });

  test('every V2 subscriber gets each publish once, with serials one after another, and some were held', async () => {
    const sdk = serverSdk(server.port);
    // A fresh V2 subscription waits a moment for a resume before it joins live delivery (worker/liveHold.ts):
    // once every subscriber has this one, all are live.
    await sdk.trigger(CHANNEL, 'n', 'first');
    await eventually(() => subscribers.every((c) => messages(c).length === 1), 'the first publish at every subscriber', 20_000);
    const heldBefore = await metric(server.metricsPort as number, 'sockudo_publishes_held_total');
    await Promise.all(Array.from({ length: PUBLISHES }, (_, i) => sdk.trigger(CHANNEL, 'n', String(i))));

    await eventually(() => subscribers.every((c) => messages(c).length === PUBLISHES + 1), 'every publish at every subscriber', 20_000);
    const order = messages(subscribers[0]);
    assert.deepEqual(
      order.slice(1).map((m) => m.data).sort((a, b) => Number(a) - Number(b)),
      Array.from({ length: PUBLISHES }, (_, i) => String(i)),
      'each publish once',
    );
    for (let k = 1; k < order.length; k++) assert.equal(order[k].serial, order[k - 1].serial + 1, 'serials one after another, in the order received');
    for (const c of subscribers) assert.deepEqual(messages(c), order);
    assert.ok((await metric(server.metricsPort as number, 'sockudo_publishes_held_total')) > heldBefore, 'some publishes were held');
  });
});

describe('publishes held on two workers, each for its own and the primary’s hand-overs', () => {
  let server: TestServer;
  const subscribers: RawClient[] = [];
  /** A few V2 subscribers on each worker: the held publishes a worker numbers itself (worker/positionTracker.ts). */
  const v2: RawClient[] = [];

  before(async () => {
    server = await startTestServer({ workers: 2 });
    // A large audience on each worker (each has its own port besides the shared one).
    for (const port of server.workerPorts) {
      subscribers.push(...(await openSubscribed(() => RawClient.open(port), 'pusher')));
      for (let i = 0; i < 3; i++) {
        const c = await openV2(port);
        await c.request({ event: 'sockudo:subscribe', data: { channel: CHANNEL } }, (f) => f.event.endsWith('subscription_succeeded'));
        v2.push(c);
      }
    }
  });

  after(async () => {
    for (const c of [...subscribers, ...v2]) c.close();
    await server.shutdown();
  });

  // Whether a worker holds here depends on how the publishes interleave on two threads, so this test claims only
  // what holds either way: nothing lost, repeated or reordered. That hand-overs are held, in their place, is
  // checked deterministically in test/unit/channel-delivery-hold.test.ts.
  test('publishes answered by both workers reach every subscriber once, in one order on both workers', async () => {
    const path = `/apps/${DEVELOPMENT_APP.id}/events`;
    // A first publish gives the channel a position on both workers (the primary's), and ends the V2 subscribers'
    // wait for a resume (worker/liveHold.ts).
    await serverSdk(server.port).trigger(CHANNEL, 'n', 'first');
    await eventually(() => [...subscribers, ...v2].every((c) => events(c).length === 1), 'the first publish at every subscriber', 20_000);
    // Half through each worker: each delivers its own and gets the other's from the primary.
    await Promise.all(
      Array.from({ length: PUBLISHES }, async (_, i) => {
        const body = JSON.stringify({ name: 'n', channel: CHANNEL, data: String(i) });
        const port = server.workerPorts[i % 2];
        const res = await fetch(signedUrl(`http://127.0.0.1:${port}`, { path, body }), { method: 'POST', headers: { 'Content-Type': 'application/json' }, body });
        assert.equal(res.status, 200);
      }),
    );
    await eventually(() => [...subscribers, ...v2].every((c) => events(c).length === PUBLISHES + 1), 'every publish at every subscriber', 20_000);
    const order = received(subscribers[0]);
    assert.deepEqual(
      order.slice(1).sort((a, b) => Number(a) - Number(b)),
      Array.from({ length: PUBLISHES }, (_, i) => String(i)),
      'each publish once',
    );
    for (const c of subscribers) assert.deepEqual(received(c), order, 'the same order on both workers');
    // V2: the same frames on both workers, whichever thread numbered a message, serials one after another.
    const v2Texts = (c: RawClient) => c.texts.filter((_, i) => c.frames[i].channel === CHANNEL && c.frames[i].event === 'n');
    for (const c of v2) assert.deepEqual(v2Texts(c), v2Texts(v2[0]));
    const frames = events(v2[0]);
    assert.deepEqual(frames.map((f) => f.data), order, 'V2 in the V1 order');
    for (let k = 1; k < frames.length; k++) assert.equal(frames[k].serial, (frames[k - 1].serial as number) + 1);
  });
  // Held publishes of one worker, one after another in stamp order, are numbered by that worker itself
  // (worker/positionTracker.ts); the other worker gets them from the primary, which adopts those numbers.
  test('a stream through one worker, numbered there: the same V2 frames on both workers, serials one after another', async () => {
    const path = `/apps/${DEVELOPMENT_APP.id}/events`;
    // Through the primary first, so both workers have a position of the channel to continue from.
    const start = events(v2[0]).length;
    await serverSdk(server.port).trigger(CHANNEL, 'n', 'one-first');
    await eventually(() => [...subscribers, ...v2].every((c) => events(c).length === start + 1), 'the first publish at every subscriber', 20_000);
    const before = start + 1;
    await Promise.all(
      Array.from({ length: PUBLISHES }, async (_, i) => {
        // Some are batches that also name a channel new to the workers: the primary numbers those, and the worker
        // must not number a later publish before their answers come (or it would give a serial twice).
        const fresh = i % 5 === 2;
        const body = fresh
          ? JSON.stringify({ batch: [{ name: 'n', channel: CHANNEL, data: `one-${i}` }, { name: 'n', channel: `fresh-${i}`, data: 'x' }] })
          : JSON.stringify({ name: 'n', channel: CHANNEL, data: `one-${i}` });
        const res = await fetch(signedUrl(`http://127.0.0.1:${server.workerPorts[0]}`, { path: fresh ? `${path.slice(0, -'events'.length)}batch_events` : path, body }), {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body,
        });
        assert.equal(res.status, 200);
      }),
    );
    await eventually(() => [...subscribers, ...v2].every((c) => events(c).length === before + PUBLISHES), 'every publish at every subscriber', 20_000);
    const v2Texts = (c: RawClient) => c.texts.filter((_, i) => c.frames[i].channel === CHANNEL && c.frames[i].event === 'n');
    for (const c of v2) assert.deepEqual(v2Texts(c), v2Texts(v2[0]), 'the same bytes on both workers');
    const frames = events(v2[0]);
    for (let k = 1; k < frames.length; k++) assert.equal(frames[k].serial, (frames[k - 1].serial as number) + 1);
    assert.deepEqual(frames.map((f) => f.data), received(subscribers[0]), 'V2 in the V1 order');
    assert.equal(new Set(frames.map((f) => f.message_id)).size, frames.length);
  });
});
