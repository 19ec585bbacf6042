// Protocol V2 on the same port as V1, with a reference-following raw client: V2-only fields, per-channel
// serials, resume without loss or duplicates across threads, rewind, filters, wildcards, echo, heartbeats.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Pusher from 'pusher';
import { type Frame, RawClient, openV2, serverSdk } from '../helpers/clients.ts';
import { type TestServer, eventually, startTestServer } from '../helpers/server.ts';

const sdk = new Pusher({ appId: 'app-id', key: 'app-key', secret: 'app-secret', host: '127.0.0.1' });
const isEvent = (name: string, channel?: string) => (f: Frame) => f.event === name && (channel === undefined || f.channel === channel);
const userFrames = (c: RawClient, channel: string) => c.frames.filter((f) => f.channel === channel && !f.event.includes(':'));

async function sub(c: RawClient, data: Record<string, unknown>, prefix = 'sockudo'): Promise<Frame> {
  return c.request({ event: `${prefix}:subscribe`, data }, (f) => (f.event.endsWith('subscription_succeeded') && f.channel === data.channel) || f.event.endsWith(':error'));
}

describe('protocol V2', () => {
  let server: TestServer;
  let port: number;
  let publish: (channel: string | string[], body: Record<string, unknown>) => Promise<unknown>;
  before(async () => {
    server = await startTestServer();
    port = server.port;
    const http = serverSdk(port);
    // The SDK JSON-encodes `body`; its typings say string.
    publish = (channel, body) => http.post({ path: '/events', body: { channels: [channel].flat(), data: '{}', ...body } as unknown as string });
  });
  after(() => server.shutdown());

  // First in the file: no V2 socket is open on any worker yet, so no worker builds a V2 frame when the messages
  // arrive; a V2 client that connects afterwards must still get the full frames, derived from the recorded ones.
  test('messages published while no V2 socket is connected are replayed with every V2 field on both workers', async () => {
    const ch = 'before-any-v2';
    const v1 = await RawClient.open(server.workerPorts[0]);
    await sub(v1, { channel: ch }, 'pusher');
    for (const n of [1, 2]) await publish(ch, { name: `b${n}`, data: `d${n}`, tags: { region: 'eu' }, extras: { headers: { trace: 't' } } });
    await v1.next(isEvent('b2', ch));
    for (const workerPort of server.workerPorts) {
      // A worker that admitted b2 delivered its V1 frame before the primary numbered it, and records it only
      // when the numbers come: a rewind in between finds one message, so ask again until both are there.
      const c = await eventually(async () => {
        const client = await openV2(workerPort);
        await sub(client, { channel: ch, rewind: { count: 10 } });
        await client.next(isEvent('sockudo:rewind_complete', ch));
        if (userFrames(client, ch).length === 2) return client;
        client.close();
        return null;
      }, 'both messages recorded');
      const got = userFrames(c, ch);
      assert.deepEqual(
        got.map((f) => [f.event, f.data, f.serial, f.tags, f.extras]),
        [
          ['b1', 'd1', 1, { region: 'eu' }, { headers: { trace: 't' } }],
          ['b2', 'd2', 2, { region: 'eu' }, { headers: { trace: 't' } }],
        ],
      );
      assert.equal(new Set(got.map((f) => f.message_id)).size, 2);
      assert.equal(new Set(got.map((f) => f.stream_id)).size, 1);
      c.close();
    }
    v1.close();
  });

  // A worker skips the V2 side of a publish while an app has no V2 socket on it (it only records the message):
  // once its last V2 socket has gone, messages must still be recorded, and the next V2 socket must get them
  // replayed and later ones live.
  test('after the last V2 socket of a worker closes, publishes are still recorded and the next V2 socket gets them', async () => {
    const ch = 'after-last-v2';
    const workerPort = server.workerPorts[0];
    const first = await openV2(workerPort);
    await sub(first, { channel: ch });
    first.close();
    await first.closed();
    const watcher = await RawClient.open(workerPort);
    await sub(watcher, { channel: ch }, 'pusher');
    // Published through the other worker, so this one gets the V1 frame and its V2 side in one message from the
    // primary: once the watcher has the V1 frame, the V2 side has been handled here too.
    await serverSdk(server.workerPorts[1]).post({ path: '/events', body: { channels: [ch], name: 'while-none', data: 'a' } as unknown as string });
    await watcher.next(isEvent('while-none', ch));
    const next = await openV2(workerPort);
    await sub(next, { channel: ch, rewind: { count: 10 } });
    await next.next(isEvent('sockudo:rewind_complete', ch));
    await publish(ch, { name: 'live', data: 'b' });
    await next.next(isEvent('live', ch));
    assert.deepEqual(
      userFrames(next, ch).map((f) => [f.event, f.data, f.serial]),
      [
        ['while-none', 'a', 1],
        ['live', 'b', 2],
      ],
    );
    next.close();
    watcher.close();
  });

  // The worker that answered a publish builds its own frames from the primary's message ids and positions;
  // the other worker gets the primary's frames. Sent all at once, the first publishes go out to the V1
  // subscriber at admission (V2 side later) and the rest wait for the primary (worker/localPublishOrder.ts):
  // whichever way, both threads must send the same bytes, in the same order.
  test('publishes answered by one worker reach V2 subscribers on both workers as identical frames', async () => {
    const ch = 'same-bytes';
    const v1 = await RawClient.open(server.workerPorts[0]);
    const here = await openV2(server.workerPorts[0]);
    const there = await openV2(server.workerPorts[1]);
    await sub(v1, { channel: ch }, 'pusher');
    await sub(here, { channel: ch });
    await sub(there, { channel: ch });
    const http = serverSdk(server.workerPorts[0]);
    const count = 100;
    await Promise.all(
      Array.from({ length: count }, (_, n) =>
        http.post({ path: '/batch_events', body: { batch: [{ channel: ch, name: `b${n}`, data: `é${n}`, tags: n % 2 ? { k: `t${n}` } : undefined }] } as unknown as string }),
      ),
    );
    const all = (c: RawClient) => c.next(() => userFrames(c, ch).length === count);
    await Promise.all([all(v1), all(here), all(there)]);
    const texts = (c: RawClient) => c.texts.filter((t, i) => c.frames[i].channel === ch && !c.frames[i].event.includes(':'));
    assert.deepEqual(texts(here), texts(there));
    const mine = userFrames(here, ch);
    assert.deepEqual(
      mine.map((f) => f.serial),
      Array.from({ length: count }, (_, n) => n + 1),
    );
    assert.deepEqual(
      userFrames(v1, ch).map((f) => f.event),
      mine.map((f) => f.event),
      'V1 in the order of the serials',
    );
    assert.equal(new Set(mine.map((f) => f.message_id)).size, count);
    assert.equal(mine.filter((f) => f.tags !== undefined).length, count / 2);
    for (const c of [v1, here, there]) c.close();
  });

  // A worker numbers the publishes it delivers at once itself (worker/positionTracker.ts), the primary those it
  // handles (here: with `info`) and those of a channel the worker has no position for: one sequence all the same.
  test('publishes numbered by either worker or by the primary: one sequence, identical frames, an exact resume', async () => {
    const ch = 'numbered-here';
    const here = await openV2(server.workerPorts[0]);
    const there = await openV2(server.workerPorts[1]);
    const v1 = await RawClient.open(server.workerPorts[1]);
    await sub(here, { channel: ch });
    await sub(there, { channel: ch });
    await sub(v1, { channel: ch }, 'pusher');
    const count = 30;
    for (let n = 0; n < count; n++) {
      if (n % 3 === 2) await serverSdk(server.port).post({ path: '/events', body: { name: `n${n}`, channels: [ch], data: '{}', info: 'subscription_count' } as unknown as string });
      else await serverSdk(server.workerPorts[n % 2]).trigger(ch, `n${n}`, {});
      // Once both workers have it, the next publish finds the primary caught up and is delivered (and numbered) at once.
      await here.next(isEvent(`n${n}`, ch));
      await there.next(isEvent(`n${n}`, ch));
    }
    for (const c of [here, there, v1]) await eventually(() => userFrames(c, ch).length === count, `all ${count} publishes`);
    const texts = (c: RawClient) => c.texts.filter((_, i) => c.frames[i].channel === ch && !c.frames[i].event.includes(':'));
    assert.deepEqual(texts(there), texts(here), 'the same bytes on both workers');
    const mine = userFrames(here, ch);
    assert.deepEqual(mine.map((f) => f.event), Array.from({ length: count }, (_, n) => `n${n}`));
    assert.deepEqual(mine.map((f) => f.serial), Array.from({ length: count }, (_, n) => n + 1));
    assert.equal(new Set(mine.map((f) => f.stream_id)).size, 1);
    assert.equal(new Set(mine.map((f) => f.message_id)).size, count);
    assert.deepEqual(userFrames(v1, ch).map((f) => f.event), mine.map((f) => f.event));
    const late = await openV2(server.workerPorts[1]);
    await sub(late, { channel: ch });
    const from = late.frames.length;
    late.send({ event: 'sockudo:resume', data: { channel_positions: { [ch]: { stream_id: mine[9].stream_id, serial: 10 } } } });
    await late.next(isEvent('sockudo:resume_success'), 5000, from);
    assert.deepEqual(late.texts.slice(from).filter((_, i) => late.frames[from + i].channel === ch), texts(here).slice(10));
    for (const c of [here, there, v1, late]) c.close();
  });

  test('V1 and V2 subscribers of one channel: V2 fields only for V2, idempotency_key for nobody', async () => {
    const v1 = await RawClient.open(server.workerPorts[0]);
    const v2 = await openV2(server.workerPorts[1]);
    assert.equal(v2.frames[0].event, 'sockudo:connection_established');
    assert.match(String(v2.frames[0].message_id), /^[0-9a-f-]{36}$/, 'direct V2 frames carry a message_id');
    await sub(v1, { channel: 'mixed' }, 'pusher');
    await sub(v2, { channel: 'mixed' });
    for (const n of [1, 2, 3]) {
      await publish('mixed', { name: `e${n}`, data: JSON.stringify({ n }), tags: { region: 'eu' }, extras: { headers: { trace: 't' } }, idempotency_key: `k-${n}` });
    }
    await v1.next(isEvent('e3'));
    await v2.next(isEvent('e3'));
    assert.deepEqual(userFrames(v1, 'mixed'), [1, 2, 3].map((n) => ({ event: `e${n}`, channel: 'mixed', data: JSON.stringify({ n }) })));
    const got = userFrames(v2, 'mixed');
    assert.deepEqual(got.map((f) => f.serial), [1, 2, 3]);
    assert.equal(new Set(got.map((f) => f.stream_id)).size, 1);
    assert.equal(new Set(got.map((f) => f.message_id)).size, 3);
    for (const f of got) {
      assert.deepEqual(f.tags, { region: 'eu' });
      assert.deepEqual(f.extras, { headers: { trace: 't' } });
    }
    const all = JSON.stringify([...v1.frames, ...v2.frames]);
    assert.ok(!all.includes('idempotency'), 'no idempotency key on the wire');
    v1.close();
    v2.close();
  });

  test('subscription_succeeded carries the position; a resume on another thread replays exactly what was missed', async () => {
    const ch = 'resume-me';
    const first = await openV2(server.workerPorts[0]);
    // A worker answers a publish before the primary has given it a serial, so a subscribe right after the 200
    // may find the previous position; a V2 watcher on the resuming thread says when m5's serial got there (a V1
    // one would not: the admitting worker delivers V1 frames before the primary has the publish).
    const watcher = await openV2(server.workerPorts[1]);
    await sub(watcher, { channel: ch });
    await sub(first, { channel: ch });
    await publish(ch, { name: 'm1' });
    await publish(ch, { name: 'm2' });
    const m2 = await first.next(isEvent('m2', ch));
    first.terminate(); // an abrupt disconnect
    await first.closed();
    for (const n of [3, 4, 5]) await publish(ch, { name: `m${n}` });
    await watcher.next(isEvent('m5', ch));

    const again = await openV2(server.workerPorts[1]);
    const ok = await sub(again, { channel: ch });
    assert.equal(ok.stream_id, m2.stream_id);
    assert.equal(ok.serial, 5);
    const from = again.frames.length;
    again.send({ event: 'sockudo:resume', data: JSON.stringify({ channel_positions: { [ch]: { stream_id: m2.stream_id, serial: m2.serial, last_message_id: m2.message_id } } }) });
    const success = await again.next(isEvent('sockudo:resume_success'), 5000, from);
    await publish(ch, { name: 'm6' });
    await again.next(isEvent('m6', ch));
    const after = again.frames.slice(from).filter((f) => f.channel === ch || f.event === 'sockudo:resume_success');
    assert.deepEqual(
      after.map((f) => f.event),
      ['m3', 'm4', 'm5', 'sockudo:resume_success', 'm6'],
    );
    assert.deepEqual(after.filter((f) => f.channel === ch).map((f) => f.serial), [3, 4, 5, 6]);
    const data = JSON.parse(success.data as string);
    assert.deepEqual(data.failed, []);
    assert.equal(data.recovered[0].replayed, 3);
    assert.equal(data.recovered[0].position.serial, 5);
    again.close();
    watcher.close();
  });

  test('a publish between a reconnecting client\'s subscribe and its resume: delivered once, in order', async (t) => {
    // The worker holds a fresh subscription's live messages for HOLD_MS (250 ms) waiting for a resume. A try whose
    // subscribe-to-resume took longer than 150 ms (a stalled machine) let the hold end by design and is not judged;
    // the next try uses a new channel.
    for (let attempt = 1; ; attempt++) {
      const ch = `resume-race-${attempt}`;
      const first = await openV2(server.workerPorts[0]);
      await sub(first, { channel: ch });
      await publish(ch, { name: 'r1' });
      const r1 = await first.next(isEvent('r1', ch));
      first.terminate();
      await first.closed();
      await publish(ch, { name: 'r2' }); // missed while away

      const again = await openV2(server.workerPorts[1]);
      const from = again.frames.length;
      const subscribing = Date.now();
      await sub(again, { channel: ch });
      await publish(ch, { name: 'r3' }); // reaches the worker before the resume
      again.send({ event: 'sockudo:resume', data: JSON.stringify({ channel_positions: { [ch]: { stream_id: r1.stream_id, serial: r1.serial } } }) });
      const window = Date.now() - subscribing;
      await again.next(isEvent('r3', ch), 5000, from);
      await publish(ch, { name: 'r4' });
      await again.next(isEvent('r4', ch), 5000, from);
      const seen = again.frames.slice(from).filter((f) => f.channel === ch && f.event.startsWith('r'));
      again.close();
      if (window > 150 && attempt < 5) {
        t.diagnostic(`try ${attempt}: subscribe to resume took ${window} ms, past what the hold is sure to cover; trying again`);
        continue;
      }
      assert.ok(window <= 150, `every try took over 150 ms from subscribe to resume (last ${window} ms)`);
      assert.deepEqual(seen.map((f) => f.serial), [2, 3, 4], 'r2 replayed, r3 held back until after it, r4 live; nothing twice');
      return;
    }
  });

  test('a fresh V2 subscription without a resume gets its live messages after a short hold, none lost', async () => {
    const c = await openV2(server.workerPorts[0]);
    await sub(c, { channel: 'no-resume' });
    const sent = Date.now();
    await publish('no-resume', { name: 'n1' });
    await c.next(isEvent('n1', 'no-resume'));
    assert.ok(Date.now() - sent < 2000);
    c.close();
  });

  test('resume failures: unknown stream, V1, no positions', async () => {
    const ch = 'resume-fail';
    // The worker must have recorded x before the resume (a publish's 200 can come before the primary has
    // numbered it: README, "Recovery"); a watcher on that worker says when.
    const watcher = await openV2(server.workerPorts[0]);
    await sub(watcher, { channel: ch });
    await publish(ch, { name: 'x' });
    await watcher.next(isEvent('x', ch));
    watcher.close();
    const c = await openV2(server.workerPorts[0]);
    await sub(c, { channel: ch });
    const from = c.frames.length;
    c.send({ event: 'sockudo:resume', data: { channel_positions: { [ch]: { stream_id: 'not-the-stream', serial: 1 } } } });
    const failed = await c.next(isEvent('sockudo:resume_failed', ch), 5000, from);
    assert.equal(JSON.parse(failed.data as string).code, 'stream_reset');
    const success = await c.next(isEvent('sockudo:resume_success'), 5000, from);
    assert.equal(JSON.parse(success.data as string).failed.length, 1);
    const empty = await c.request({ event: 'sockudo:resume', data: { channel_positions: {} } }, (f) => f.event.endsWith(':error'));
    assert.equal((empty.data as { code: number }).code, 4302);
    c.close();
    const v1 = await RawClient.open(server.port);
    const refused = await v1.request({ event: 'pusher:resume', data: { channel_positions: { a: { stream_id: 's', serial: 1 } } } }, (f) => f.event === 'pusher:error');
    assert.equal((refused.data as { code: number }).code, 4301);
    v1.close();
  });

  test('rewind delivers retained messages, then rewind_complete, then live, without duplicates', async () => {
    const ch = 'rewind-me';
    // A publish's 200 comes from the worker before the primary has numbered it (README, "Recovery"), so a rewind
    // right after it may not find it yet (it then arrives live). A watcher on the same worker tells when that
    // worker has r4: it records a message before delivering it.
    const watcher = await openV2(server.workerPorts[0]);
    await sub(watcher, { channel: ch });
    for (const n of [1, 2, 3, 4]) await publish(ch, { name: `r${n}` });
    await watcher.next(isEvent('r4', ch));
    const c = await openV2(server.workerPorts[0]);
    await sub(c, { channel: ch, rewind: { count: 2 } });
    const done = await c.next(isEvent('sockudo:rewind_complete', ch));
    assert.deepEqual(done.data, { historical_count: 2, live_count: 0, complete: true, truncated_by_retention: false, truncated_by_limit: false });
    await publish(ch, { name: 'r5' });
    await c.next(isEvent('r5', ch));
    assert.deepEqual(
      c.frames.filter((f) => f.channel === ch && !f.event.includes('subscription')).map((f) => f.event),
      ['r3', 'r4', 'sockudo:rewind_complete', 'r5'],
    );
    const bySeconds = await openV2(server.workerPorts[0]); // the worker that has r5 (c got it there)
    await sub(bySeconds, { channel: ch, rewind: { seconds: 60 } });
    const all = await bySeconds.next(isEvent('sockudo:rewind_complete', ch));
    assert.equal((all.data as { historical_count: number }).historical_count, 5);
    const bad = await sub(bySeconds, { channel: 'rewind-bad', rewind: { count: 0 } });
    assert.equal((bad.data as { code: number }).code, 4000);
    c.close();
    bySeconds.close();
    watcher.close();
  });

  test('ephemeral messages reach V1 and V2 now, without a serial, and are never replayed', async () => {
    const ch = 'ephemeral';
    const v1 = await RawClient.open(server.workerPorts[0]);
    const v2 = await openV2(server.workerPorts[1]);
    await sub(v1, { channel: ch }, 'pusher');
    await sub(v2, { channel: ch });
    await publish(ch, { name: 'kept' });
    await publish(ch, { name: 'passing', extras: { ephemeral: true } });
    await publish(ch, { name: 'kept2' });
    await v1.next(isEvent('kept2'));
    const got = await v2.next(isEvent('passing'));
    assert.equal(got.serial, undefined);
    assert.deepEqual(got.extras, { ephemeral: true });
    assert.equal((await v2.next(isEvent('kept2'))).serial, 2, 'serials skip ephemeral messages');
    assert.deepEqual(v1.frames.filter((f) => f.channel === ch && !f.event.includes(':')).map((f) => f.event), ['kept', 'passing', 'kept2']);
    const late = await openV2(server.workerPorts[1]); // where v2 got kept2: that worker has recorded it
    await sub(late, { channel: ch, rewind: { count: 10 } });
    await late.next(isEvent('sockudo:rewind_complete'));
    assert.deepEqual(userFrames(late, ch).map((f) => f.event), ['kept', 'kept2']);
    for (const c of [v1, v2, late]) c.close();
  });

  test('filters by event name, tags and expression, on subscribers spread over both threads', async () => {
    const ch = 'ticker';
    const clients = await Promise.all([0, 1, 0, 1].map((i) => openV2(server.workerPorts[i])));
    const [byEvent, byTag, byExpr, byBoth] = clients;
    await sub(byEvent, { channel: ch, filter: { events: ['trade'] } });
    await sub(byTag, { channel: ch, filter: { tags: { op: 'or', nodes: [{ key: 'sym', cmp: 'eq', val: 'BTC' }, { key: 'px', cmp: 'gt', val: 500 }] } } });
    await sub(byExpr, { channel: ch, filter: { expression: 'data.total >= `100`' } });
    await sub(byBoth, { channel: ch, filter: { events: ['trade'], tags: { op: 'not', nodes: [{ key: 'sym', cmp: 'in', vals: ['BTC'] }] } } });
    const msgs = [
      { name: 'trade', tags: { sym: 'BTC', px: '10' }, data: JSON.stringify({ total: 5 }) },
      { name: 'quote', tags: { sym: 'ETH', px: '900' }, data: JSON.stringify({ total: 150 }) },
      { name: 'trade', tags: { sym: 'ETH', px: '1' }, data: JSON.stringify({ total: 100 }) },
      { name: 'end', tags: { sym: 'BTC' }, data: JSON.stringify({ total: 1000 }) },
    ];
    for (const m of msgs) await publish(ch, m);
    // "end" matches the tag and expression filters; the others need an unfiltered marker to know they are done.
    await byTag.next(isEvent('end'));
    await byExpr.next(isEvent('end'));
    const names = (c: RawClient) => userFrames(c, ch).map((f) => f.event + (f.tags ? `:${(f.tags as Record<string, string>).sym}` : ''));
    assert.deepEqual(names(byTag), ['trade:BTC', 'quote:ETH', 'end:BTC']);
    assert.deepEqual(names(byExpr), ['quote:ETH', 'trade:ETH', 'end:BTC']);
    await publish(ch, { name: 'trade', tags: { sym: 'XRP' }, data: '{}' });
    await byEvent.next((f) => f.event === 'trade' && (f.tags as Record<string, string>)?.sym === 'XRP');
    await byBoth.next((f) => f.event === 'trade' && (f.tags as Record<string, string>)?.sym === 'XRP');
    assert.deepEqual(names(byEvent), ['trade:BTC', 'trade:ETH', 'trade:XRP']);
    assert.deepEqual(names(byBoth), ['trade:ETH', 'trade:XRP']);
    const metrics = await (await fetch(`http://127.0.0.1:${server.metricsPort}/metrics`)).text();
    const suppressed = Number(/sockudo_event_filter_suppressed_total\{app_id="app-id",port="\d+"\} (\d+)/.exec(metrics)?.[1]);
    // 5 messages × 4 filtered sockets = 20 possible deliveries; 3 + 3 + 3 + 2 were delivered, 9 held back.
    assert.equal(suppressed, 9);
    const bad = await sub(byEvent, { channel: 'bad-filter', filter: { tags: { key: 'a', cmp: 'nope', val: 'x' } } });
    assert.equal((bad.data as { code: number }).code, 4300);
    for (const c of clients) c.close();
  });

  test('a wildcard subscription that asks for a rewind gets its rewind_complete (nothing replayed, not complete)', async () => {
    const c = await openV2(server.port);
    await sub(c, { channel: 'rewound:*', rewind: { count: 5 } });
    const done = await c.next(isEvent('sockudo:rewind_complete'));
    assert.equal(done.channel, 'rewound:*');
    assert.deepEqual(done.data, { historical_count: 0, live_count: 0, complete: false, truncated_by_retention: false, truncated_by_limit: false });
    c.close();
  });

  test('wildcard subscriptions receive every matching public channel', async () => {
    const c = await openV2(server.port);
    await sub(c, { channel: 'prices:*' });
    await publish(['prices:BTC', 'prices:ETH', 'other:BTC'], { name: 'tick' });
    await publish('prices:XRP', { name: 'last' });
    await c.next(isEvent('last'));
    assert.deepEqual(c.frames.filter((f) => f.event === 'tick').map((f) => f.channel), ['prices:BTC', 'prices:ETH']);
    const bad = await sub(c, { channel: 'private-*' });
    assert.equal((bad.data as { code: number }).code, 4300);
    const v1 = await RawClient.open(server.port);
    const refused = await sub(v1, { channel: 'prices:*' }, 'pusher');
    assert.equal((refused.data as { code: number }).code, 4300);
    v1.close();
    c.close();
  });

  // §3.7: "multiple matching subscriptions (exact + wildcard) are ORed; a socket gets a message once".
  test('a socket subscribed to a channel and to matching wildcards gets each message once', async () => {
    const c = await openV2(server.port);
    const ok = await sub(c, { channel: 'once:BTC' });
    // The resume ends the fresh socket's hold of its subscription, so every copy would go out at once.
    c.send({ event: 'sockudo:resume', data: { channel_positions: { 'once:BTC': { stream_id: ok.stream_id, serial: ok.serial } } } });
    await c.next(isEvent('sockudo:resume_success'));
    await sub(c, { channel: 'once:*' });
    await sub(c, { channel: 'once*' });
    const other = await openV2(server.port);
    await sub(other, { channel: 'once*' });
    await publish('once:BTC', { name: 'tick' });
    await publish('once:ETH', { name: 'tock' }); // wildcards only
    await publish('once:BTC', { name: 'fence' });
    await c.next(isEvent('fence'));
    await other.next(isEvent('fence'));
    // A second copy of anything would have left before the first fence; the second fence follows every copy.
    await publish('once:BTC', { name: 'fence2' });
    await c.next(isEvent('fence2'));
    const names = (r: RawClient) => r.frames.filter((f) => f.channel?.startsWith('once')).map((f) => `${f.event}@${f.channel}`);
    assert.deepEqual(names(c).filter((n) => !n.includes('subscription_succeeded')), ['tick@once:BTC', 'tock@once:ETH', 'fence@once:BTC', 'fence2@once:BTC']);
    assert.deepEqual(names(other).filter((n) => !n.includes('subscription_succeeded')).slice(0, 3), ['tick@once:BTC', 'tock@once:ETH', 'fence@once:BTC']);
    for (const r of [c, other]) r.close();
  });

  test('a fresh socket whose channel subscription is held (waiting for its resume) does not get a wildcard copy too', async () => {
    const c = await openV2(server.port);
    const ok = await sub(c, { channel: 'held-once:BTC' });
    await sub(c, { channel: 'held-once:*' });
    await publish('held-once:BTC', { name: 'tick' });
    await publish('held-once:BTC', { name: 'fence' });
    // The resume replays both messages from the position and ends the hold; a wildcard copy would have gone out at once.
    const from = c.frames.length;
    c.send({ event: 'sockudo:resume', data: { channel_positions: { 'held-once:BTC': { stream_id: ok.stream_id, serial: ok.serial } } } });
    await c.next(isEvent('sockudo:resume_success'), 5000, from);
    await publish('held-once:BTC', { name: 'fence2' });
    await c.next(isEvent('fence2'));
    assert.deepEqual(c.frames.filter((f) => f.channel === 'held-once:BTC' && !f.event.includes('subscription_succeeded')).map((f) => f.event), ['tick', 'fence', 'fence2']);
    c.close();
  });

  // §4.3: socket_id excludes that socket on V1 and V2; extras.echo does not apply to HTTP publishes.
  test('an HTTP publish with socket_id skips that V2 socket on every kind of subscription, even with extras.echo: true', async () => {
    const ch = 'sid:orders';
    const plain = await openV2(server.workerPorts[0]);
    const filtered = await openV2(server.workerPorts[1]);
    const wildcard = await openV2(server.workerPorts[0]);
    const other = await openV2(server.workerPorts[1]);
    await sub(plain, { channel: ch });
    await sub(filtered, { channel: ch, filter: { events: ['e', 'fence'] } });
    await sub(wildcard, { channel: 'sid:*' });
    await sub(other, { channel: ch });
    const http = serverSdk(server.port);
    for (const c of [plain, filtered, wildcard]) {
      await http.post({ path: '/events', body: { channels: [ch], name: 'e', data: c.socketId, socket_id: c.socketId, extras: { echo: true } } as unknown as string });
    }
    await http.post({ path: '/events', body: { channels: [ch], name: 'fence', data: '{}' } as unknown as string });
    for (const c of [plain, filtered, wildcard, other]) await c.next(isEvent('fence', ch));
    for (const c of [plain, filtered, wildcard]) {
      const got = c.frames.filter(isEvent('e', ch)).map((f) => f.data);
      assert.equal(got.length, 2);
      assert.ok(!got.includes(c.socketId), 'its own socket_id excluded it');
    }
    assert.equal(other.frames.filter(isEvent('e', ch)).length, 3);
    for (const c of [plain, filtered, wildcard, other]) c.close();
  });

  test('client events: V2 senders get their own unless echo is off; V1 senders never', async () => {
    const ch = 'private-echo';
    const join = async (c: RawClient) => {
      const { auth } = sdk.authorizeChannel(c.socketId, ch);
      await c.request({ event: c.frames[0].event.startsWith('sockudo') ? 'sockudo:subscribe' : 'pusher:subscribe', data: { channel: ch, auth } }, (f) => f.event.endsWith('subscription_succeeded'));
    };
    const echoing = await openV2(server.workerPorts[0]);
    const quiet = await openV2(server.workerPorts[1], '&echo_messages=false');
    const v1 = await RawClient.open(server.workerPorts[0]);
    for (const c of [echoing, quiet, v1]) await join(c);
    echoing.send({ event: 'client-a', channel: ch, data: { from: 'echoing' } });
    quiet.send({ event: 'client-b', channel: ch, data: { from: 'quiet' } });
    echoing.send({ event: 'client-c', channel: ch, data: {}, extras: { echo: false } });
    v1.send({ event: 'client-d', channel: ch, data: {} });
    const expected = new Map([
      [echoing, ['client-a', 'client-b', 'client-d']],
      [quiet, ['client-a', 'client-c', 'client-d']],
      [v1, ['client-a', 'client-b', 'client-c']],
    ]);
    // Client events and an HTTP publish come from different connections, with no order between them: wait for
    // every expected event first, then the fence shows nothing else was on its way (it follows them through the
    // primary to every worker).
    for (const [c, events] of expected) for (const e of events) await c.next(isEvent(e));
    await serverSdk(server.port).trigger(ch, 'fence', {});
    for (const c of expected.keys()) await c.next(isEvent('fence'));
    const seen = (c: RawClient) => c.frames.filter((f) => f.event.startsWith('client-')).map((f) => f.event).sort();
    for (const [c, events] of expected) assert.deepEqual(seen(c), events);
    const v2Copy = echoing.frames.find((f) => f.event === 'client-b');
    assert.equal(typeof v2Copy?.serial, 'number', 'V2 client events carry a serial');
    assert.equal(v1.frames.find((f) => f.event === 'client-a')?.serial, undefined);
    const metrics = await (await fetch(`http://127.0.0.1:${server.metricsPort}/metrics`)).text();
    assert.match(metrics, /sockudo_echo_suppressed_total\{app_id="app-id",port="\d+"\} 2/, 'quiet client-b and client-c with echo:false');
    for (const c of [echoing, quiet, v1]) c.close();
  });
});

describe('V2 heartbeats', () => {
  // Reference §1.6 line 118: native pings after max(websocket.ping_interval, activity_timeout / 2, 5) seconds.
  test('sockudo:ping gets sockudo:pong; native pings (never before 5 s) keep answering clients alive and close silent ones with 4201', async () => {
    const server = await startTestServer({ activity_timeout: 1, pong_timeout: 1, websocket_ping_interval: 1 });
    try {
      const alive = await openV2(server.workerPorts[0]);
      const opened = Date.now();
      const silent = await openV2(server.workerPorts[0], '', { autoPong: false });
      assert.deepEqual(await alive.request({ event: 'sockudo:ping', data: {} }, (f) => f.event === 'sockudo:pong'), { event: 'sockudo:pong' });
      assert.equal(await silent.closed(10_000), 4201);
      const closedAfter = Date.now() - opened;
      assert.ok(closedAfter >= 5900, `closed ${closedAfter} ms after opening: pinged before the 5 s floor`);
      // The silent socket was pinged and closed, so the answering one (same thread, older) has been pinged too.
      await alive.request({ event: 'sockudo:ping' }, (f) => f.event === 'sockudo:pong');
      assert.equal(alive.closeCode, null);
      assert.equal(alive.frames.filter((f) => f.event.endsWith('ping')).length, 0, 'no app-level pings on V2');
      alive.close();
    } finally {
      await server.shutdown();
    }
  });
});

describe('V2 with connection recovery off', () => {
  // Sockudo gives channel broadcasts a message_id, stream_id and serial only while recovery (or history) is on
  // (SOCKUDO-REFERENCE §3.3 rule 3); frames sent to one socket keep their message_id either way.
  test('broadcasts carry no message_id or position unless the publisher gave one; direct frames keep theirs; resume is refused', async () => {
    const server = await startTestServer({ connection_recovery: { enabled: false, buffer_ttl_seconds: 120, max_buffer_size: 100 } });
    try {
      const ch = 'private-plain';
      const http = serverSdk(server.port);
      const subscribers = [await openV2(server.workerPorts[0]), await openV2(server.workerPorts[1])];
      for (const c of subscribers) {
        assert.match(String(c.frames[0].message_id), /^[0-9a-f-]{36}$/, 'connection_established is a direct frame');
        const ack = await sub(c, { channel: ch, auth: sdk.authorizeChannel(c.socketId, ch).auth });
        assert.match(String(ack.message_id), /^[0-9a-f-]{36}$/, 'subscription_succeeded is a direct frame');
        assert.equal(ack.serial, undefined, 'no position to resume from');
      }
      // One publish answered by each worker's HTTP port, one with the publisher's own message_id, one client event.
      await http.trigger(ch, 'plain', { n: 1 });
      await serverSdk(server.workerPorts[1]).trigger(ch, 'plain-2', { n: 2 });
      await http.post({ path: '/events', body: { name: 'named', channels: [ch], data: '{}', message_id: 'publisher-id-1' } as unknown as string });
      subscribers[0].send({ event: 'client-hi', channel: ch, data: {} });
      for (const c of subscribers) {
        const plain = [await c.next(isEvent('plain', ch)), await c.next(isEvent('plain-2', ch)), await c.next(isEvent('client-hi', ch))];
        for (const f of plain) {
          assert.deepEqual([f.message_id, f.stream_id, f.serial], [undefined, undefined, undefined], `${f.event} on a V2 socket`);
        }
        const named = await c.next(isEvent('named', ch));
        assert.equal(named.message_id, 'publisher-id-1');
        assert.equal(named.serial, undefined);
      }
      // Concurrent publishes through both workers' HTTP ports: every socket, V1 or V2, on either worker, gets all of
      // them in one order (the host-wide order of API requests), V2 frames now leaving with the V1 ones.
      const v1s = [await RawClient.open(server.workerPorts[0]), await RawClient.open(server.workerPorts[1])];
      for (const c of v1s) await sub(c, { channel: 'burst' }, 'pusher');
      for (const c of subscribers) await sub(c, { channel: 'burst' });
      const ports = [server.workerPorts[0], server.workerPorts[1]];
      await Promise.all(Array.from({ length: 40 }, (_, n) => serverSdk(ports[n % 2]).trigger('burst', `b${n}`, {})));
      const orders = [];
      for (const c of [...v1s, ...subscribers]) {
        await eventually(() => userFrames(c, 'burst').length === 40, 'all 40 publishes');
        orders.push(userFrames(c, 'burst').map((f) => f.event));
      }
      for (const order of orders.slice(1)) assert.deepEqual(order, orders[0]);
      for (const c of v1s) c.close();

      // A client event, then at once a publish answered by the sender's worker: whichever goes first there, its V1
      // and V2 sockets get them in the same order (the client event's V2 frame no longer comes later, via the primary).
      const join = async (c: RawClient, prefix: string) => sub(c, { channel: ch, auth: sdk.authorizeChannel(c.socketId, ch).auth }, prefix);
      const watchers = [await RawClient.open(server.workerPorts[0]), await openV2(server.workerPorts[0]), await RawClient.open(server.workerPorts[1])];
      await join(watchers[0], 'pusher');
      await join(watchers[1], 'sockudo');
      await join(watchers[2], 'pusher');
      const sender = subscribers[0];
      const pairs = 5; // the sender stays under 10 client events a second
      for (let n = 0; n < pairs; n++) {
        sender.send({ event: `client-c${n}`, channel: ch, data: {} });
        await serverSdk(server.workerPorts[0]).trigger(ch, `p${n}`, {});
      }
      const pairOrder = (c: RawClient) => c.frames.filter((f) => f.channel === ch && /^(client-c|p)\d$/.test(f.event)).map((f) => f.event);
      const readers = [...watchers, subscribers[1]];
      for (const r of readers) await eventually(() => pairOrder(r).length === 2 * pairs, 'every client event and publish');
      assert.deepEqual(pairOrder(watchers[1]), pairOrder(watchers[0]), 'V2 and V1 sockets of the sender\'s worker');
      assert.deepEqual(pairOrder(subscribers[1]), pairOrder(watchers[2]), 'V2 and V1 sockets of the other worker');
      for (const w of watchers) w.close();

      // `info` gets an acknowledgement id in the answer, but the broadcast carries none; a cache hit is a frame to
      // one socket and gets a fresh message_id.
      const answer = (await (await http.post({ path: '/events', body: { name: 'with-info', channels: [ch], data: '{}', info: 'subscription_count' } as unknown as string })).json()) as {
        channels: Record<string, { acknowledgement_id?: string }>;
      };
      assert.match(String(answer.channels[ch].acknowledgement_id), /^[0-9a-f-]{36}$/);
      for (const c of subscribers) assert.equal((await c.next(isEvent('with-info', ch))).message_id, undefined);
      await http.trigger('cache-plain', 'cached', {});
      const late = await openV2(server.workerPorts[1]);
      await sub(late, { channel: 'cache-plain' });
      assert.match(String((await late.next(isEvent('cached', 'cache-plain'))).message_id), /^[0-9a-f-]{36}$/);
      late.close();

      const c = subscribers[0];
      const refused = await c.request({ event: 'sockudo:resume', data: { channel_positions: { [ch]: { stream_id: 's', serial: 1 } } } }, (f) => f.event.endsWith(':error'));
      assert.equal((refused.data as { code: number }).code, 4301);
      for (const s of subscribers) s.close();
    } finally {
      await server.shutdown();
    }
  });
});
