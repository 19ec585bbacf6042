// The worker's hot replay buffer (§3.5, §3.6): positions, resume lookups (`since`), rewind (`recent`),
// the ring-size cap, TTL expiry and stream changes. Time is the injected `now`.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { V2Meta } from '../../src/ipc/messages.ts';
import { channelEvent } from '../../src/protocol/frames.ts';
import { ReplayMirror, type SinceResult } from '../../src/worker/replayMirror.ts';
import { V2Fanout } from '../../src/worker/v2Fanout.ts';
import { V2Message } from '../../src/worker/v2Message.ts';

const APP = 'app1';
const CH = 'orders';

function meta(serial: number | undefined, publishedAt: number, over: Partial<V2Meta> = {}): V2Meta {
  return {
    channel: CH,
    event: 'order.created',
    messageId: `m${serial}`,
    streamId: serial === undefined ? undefined : 's1',
    serial,
    ephemeral: false,
    publishedAt,
    ...over,
  };
}

function record(m: ReplayMirror, app: string, meta: V2Meta, frame: string): void {
  m.record(app, V2Message.built(meta, frame));
}

/** Records serials `from..to` of stream `streamId` on CH, one per ms starting at `t0`. */
function fill(m: ReplayMirror, from: number, to: number, t0 = 0, streamId = 's1'): void {
  for (let s = from; s <= to; s++) record(m, APP, meta(s, t0 + (s - from), { streamId }), `frame${s}`);
}

function serials(r: SinceResult): number[] {
  assert.ok(r.ok, `expected ok, got ${JSON.stringify(r)}`);
  return r.entries.map((e) => e.serial);
}

describe('ReplayMirror: record and position', () => {
  test('no position before anything is recorded', () => {
    const m = new ReplayMirror(100, 120_000);
    assert.equal(m.position(APP, CH, 0), undefined);
    assert.deepEqual(m.recent(APP, CH, { count: 10 }, 0), []);
  });

  test('position is the newest stream and serial', () => {
    const m = new ReplayMirror(100, 120_000);
    fill(m, 1, 3);
    assert.deepEqual(m.position(APP, CH, 10), { streamId: 's1', serial: 3 });
    record(m, APP, meta(4, 11), 'frame4');
    assert.deepEqual(m.position(APP, CH, 12), { streamId: 's1', serial: 4 });
  });

  test('channels and apps are kept apart', () => {
    const m = new ReplayMirror(100, 120_000);
    fill(m, 1, 3);
    record(m, APP, meta(7, 0, { channel: 'other', streamId: 's2' }), 'x');
    record(m, 'app2', meta(9, 0, { streamId: 's3' }), 'y');
    assert.deepEqual(m.position(APP, CH, 1), { streamId: 's1', serial: 3 });
    assert.deepEqual(m.position(APP, 'other', 1), { streamId: 's2', serial: 7 });
    assert.deepEqual(m.position('app2', CH, 1), { streamId: 's3', serial: 9 });
    assert.equal(m.position('app2', 'other', 1), undefined);
  });

  test('metas without a position (recovery off, or ephemeral) are not recorded', () => {
    const m = new ReplayMirror(100, 120_000);
    record(m, APP, meta(undefined, 0), 'no-position');
    record(m, APP, meta(undefined, 0, { ephemeral: true }), 'ephemeral');
    record(m, APP, meta(1, 0, { streamId: undefined }), 'serial-only');
    assert.equal(m.position(APP, CH, 1), undefined);
    assert.deepEqual(m.recent(APP, CH, { count: 10 }, 1), []);
  });

  test('the V2 fan-out does not put ephemeral messages in the mirror', () => {
    const m = new ReplayMirror(100, 120_000);
    const fanout = new V2Fanout(m);
    const publish = () => 0;
    const deliver = (v2: V2Meta) => fanout.deliver(APP, `2\n${APP}\n${CH}`, V2Message.built(v2, `f${v2.serial}`), undefined, publish, () => true);
    deliver(meta(1, 0));
    deliver(meta(2, 1, { ephemeral: true }));
    assert.deepEqual(
      m.recent(APP, CH, { count: 10 }, 2).map((e) => e.frame),
      ['f1'],
    );
  });
});

describe('ReplayMirror: since (resume)', () => {
  test('returns exactly the missed entries, oldest first, with frames and the last message id', () => {
    const m = new ReplayMirror(100, 120_000);
    fill(m, 1, 5);
    const r = m.since(APP, CH, 's1', 2, 10);
    assert.ok(r.ok);
    assert.deepEqual(
      r.entries.map((e) => [e.serial, e.frame]),
      [
        [3, 'frame3'],
        [4, 'frame4'],
        [5, 'frame5'],
      ],
    );
    assert.equal(r.streamId, 's1');
    assert.equal(r.serial, 5);
    assert.equal(r.lastMessageId, 'm5');
  });

  test('from serial 0 with everything retained: all entries', () => {
    const m = new ReplayMirror(100, 120_000);
    fill(m, 1, 4);
    assert.deepEqual(serials(m.since(APP, CH, 's1', 0, 10)), [1, 2, 3, 4]);
  });

  test('position equal to the newest: recovered with 0 entries', () => {
    const m = new ReplayMirror(100, 120_000);
    fill(m, 1, 5);
    const r = m.since(APP, CH, 's1', 5, 10);
    assert.ok(r.ok);
    assert.deepEqual(r.entries, []);
    assert.equal(r.serial, 5);
  });

  test('another stream id: stream_reset / stream_id_mismatch with the current stream (no serials, as Sockudo)', () => {
    const m = new ReplayMirror(100, 120_000);
    fill(m, 1, 5);
    assert.deepEqual(m.since(APP, CH, 'old-stream', 3, 10), { ok: false, code: 'stream_reset', reason: 'stream_id_mismatch', currentStreamId: 's1' });
  });

  test('a serial ahead of the stream: position_expired (the hot buffer cannot serve it and there is no history), as Sockudo', () => {
    const m = new ReplayMirror(100, 120_000);
    fill(m, 1, 5);
    const r = m.since(APP, CH, 's1', 6, 10);
    assert.equal(r.ok, false);
    assert.ok(!r.ok);
    assert.equal(r.code, 'position_expired');
    assert.equal(r.reason, 'hot_replay_expired_and_durable_history_disabled');
    assert.deepEqual(r, { ok: false, code: 'position_expired', reason: 'hot_replay_expired_and_durable_history_disabled' }, 'the fall-through to (absent) durable history names no stream or serials');
  });

  test('a stream opened with no message yet: its position is serial 0, a resume from it is served, and it lasts the window', () => {
    const m = new ReplayMirror(100, 1000);
    assert.deepEqual(m.open(APP, CH, 'fresh', 0, 10), { streamId: 'fresh', serial: 0 });
    assert.deepEqual(m.position(APP, CH, 20), { streamId: 'fresh', serial: 0 });
    const empty = m.since(APP, CH, 'fresh', 0, 20);
    assert.ok(empty.ok);
    assert.equal(empty.entries.length, 0);
    // Messages on the opened stream are replayed from it.
    record(m, APP, meta(1, 30, { streamId: 'fresh' }), 'frame1');
    const one = m.since(APP, CH, 'fresh', 0, 40);
    assert.ok(one.ok);
    assert.deepEqual(one.entries.map((e) => e.serial), [1]);
    // With no message it is forgotten once the window has passed since it was opened.
    m.open(APP, 'quiet', 'q', 0, 10);
    assert.deepEqual(m.position(APP, 'quiet', 1000), { streamId: 'q', serial: 0 });
    assert.equal(m.position(APP, 'quiet', 1011), undefined);
  });

  test('open keeps a stream that has messages, and replaces one still empty (the stream the primary kept wins)', () => {
    const m = new ReplayMirror(100, 120_000);
    fill(m, 1, 3);
    assert.deepEqual(m.open(APP, CH, 'other', 0, 10), { streamId: 's1', serial: 3 });
    m.open(APP, 'quiet', 'mine', 0, 10);
    assert.deepEqual(m.open(APP, 'quiet', 'kept', 7, 11), { streamId: 'kept', serial: 7 });
    assert.deepEqual(m.position(APP, 'quiet', 12), { streamId: 'kept', serial: 7 });
    // A serial before the one it was opened at cannot be served: position_expired.
    const r = m.since(APP, 'quiet', 'kept', 5, 12);
    assert.ok(!r.ok);
    assert.equal(r.code, 'position_expired');
  });

  test('a position older than the buffer holds falls through to (absent) durable history: position_expired, no serials', () => {
    const m = new ReplayMirror(3, 120_000);
    fill(m, 1, 6); // keeps 4, 5, 6
    assert.deepEqual(m.since(APP, CH, 's1', 2, 10), { ok: false, code: 'position_expired', reason: 'hot_replay_expired_and_durable_history_disabled' });
    // The oldest retained entry's predecessor is still a contiguous resume.
    assert.deepEqual(serials(m.since(APP, CH, 's1', 3, 10)), [4, 5, 6]);
  });

  test('a mirror that started mid-stream cannot vouch for earlier serials', () => {
    const m = new ReplayMirror(100, 120_000);
    fill(m, 10, 12); // this worker first saw serial 10
    const r = m.since(APP, CH, 's1', 8, 20);
    assert.ok(!r.ok);
    assert.equal(r.code, 'position_expired');
    assert.equal(m.oldestSerial(APP, CH, 20), 10);
    assert.deepEqual(serials(m.since(APP, CH, 's1', 9, 20)), [10, 11, 12]);
  });

  test('a hole in the recorded serials is not replayed as if contiguous', () => {
    const m = new ReplayMirror(100, 120_000);
    for (const s of [1, 2, 4, 5]) record(m, APP, meta(s, s), `frame${s}`);
    assert.equal(m.since(APP, CH, 's1', 1, 10).ok, false);
    assert.deepEqual(serials(m.since(APP, CH, 's1', 3, 10)), [4, 5]);
  });

  test('serials recorded out of order still resume with exactly those after the position', () => {
    const m = new ReplayMirror(100, 120_000);
    for (const s of [2, 1, 3]) record(m, APP, meta(s, s), `frame${s}`);
    assert.deepEqual(serials(m.since(APP, CH, 's1', 1, 10)), [2, 3]);
  });

  test('nothing retained for the channel: position_expired', () => {
    const m = new ReplayMirror(100, 120_000);
    const r = m.since(APP, CH, 's1', 0, 0);
    assert.ok(!r.ok);
    assert.equal(r.code, 'position_expired');
  });
});

describe('ReplayMirror: ring size and TTL', () => {
  test('at most maxSize entries per channel, oldest dropped first', () => {
    const m = new ReplayMirror(3, 120_000);
    fill(m, 1, 5);
    assert.deepEqual(
      m.recent(APP, CH, { count: 100 }, 10).map((e) => e.serial),
      [3, 4, 5],
    );
    assert.deepEqual(m.position(APP, CH, 10), { streamId: 's1', serial: 5 });
  });

  test('entries older than the TTL are dropped; those within it stay', () => {
    const m = new ReplayMirror(100, 1_000);
    record(m, APP, meta(1, 0), 'frame1');
    record(m, APP, meta(2, 500), 'frame2');
    record(m, APP, meta(3, 900), 'frame3');
    // At exactly the TTL an entry is still kept.
    assert.deepEqual(serials(m.since(APP, CH, 's1', 0, 1_000)), [1, 2, 3]);
    // 1 ms later serial 1 is gone, so a resume from 0 has a gap ...
    const r = m.since(APP, CH, 's1', 0, 1_001);
    assert.ok(!r.ok);
    assert.equal(r.code, 'position_expired');
    assert.equal(m.oldestSerial(APP, CH, 1_001), 2);
    // ... and a resume from 1 still works.
    assert.deepEqual(serials(m.since(APP, CH, 's1', 1, 1_001)), [2, 3]);
    assert.deepEqual(
      m.recent(APP, CH, { count: 10 }, 1_001).map((e) => e.serial),
      [2, 3],
    );
  });

  test('a channel whose entries all expired is forgotten: no position, resume expired', () => {
    const m = new ReplayMirror(100, 1_000);
    fill(m, 1, 3, 0);
    assert.deepEqual(m.position(APP, CH, 1_000), { streamId: 's1', serial: 3 });
    assert.equal(m.position(APP, CH, 1_003), undefined);
    const r = m.since(APP, CH, 's1', 3, 1_003);
    assert.ok(!r.ok);
    assert.equal(r.code, 'position_expired');
    // A later publish of the same stream starts a fresh buffer at its serial.
    record(m, APP, meta(4, 5_000), 'frame4');
    assert.deepEqual(m.position(APP, CH, 5_000), { streamId: 's1', serial: 4 });
    assert.deepEqual(serials(m.since(APP, CH, 's1', 3, 5_000)), [4]);
  });

  test('sweep drops expired entries of every channel', () => {
    const m = new ReplayMirror(100, 1_000);
    fill(m, 1, 2, 0);
    record(m, APP, meta(1, 0, { channel: 'other' }), 'o1');
    record(m, APP, meta(2, 2_000, { channel: 'other' }), 'o2');
    m.sweep(2_500);
    assert.equal(m.position(APP, CH, 2_500), undefined);
    assert.deepEqual(
      m.recent(APP, 'other', { count: 10 }, 2_500).map((e) => e.frame),
      ['o2'],
    );
  });
});

describe('ReplayMirror: stream change', () => {
  test('a message on a new stream id clears the old stream', () => {
    const m = new ReplayMirror(100, 120_000);
    fill(m, 1, 5, 0, 's1');
    record(m, APP, meta(1, 10, { streamId: 's2' }), 'new1');
    assert.deepEqual(m.position(APP, CH, 11), { streamId: 's2', serial: 1 });
    assert.deepEqual(
      m.recent(APP, CH, { count: 100 }, 11).map((e) => e.frame),
      ['new1'],
    );
    const old = m.since(APP, CH, 's1', 3, 11);
    assert.ok(!old.ok);
    assert.equal(old.code, 'stream_reset');
    assert.equal(old.currentStreamId, 's2');
    assert.deepEqual(serials(m.since(APP, CH, 's2', 0, 11)), [1]);
  });
});

describe('ReplayMirror: recent (rewind)', () => {
  test('by count: the last N, oldest first; more than held gives all', () => {
    const m = new ReplayMirror(100, 120_000);
    fill(m, 1, 5);
    assert.deepEqual(
      m.recent(APP, CH, { count: 2 }, 10).map((e) => e.serial),
      [4, 5],
    );
    assert.deepEqual(
      m.recent(APP, CH, { count: 1 }, 10).map((e) => e.frame),
      ['frame5'],
    );
    assert.deepEqual(
      m.recent(APP, CH, { count: 50 }, 10).map((e) => e.serial),
      [1, 2, 3, 4, 5],
    );
  });

  test('by seconds: those published within the window, oldest first', () => {
    const m = new ReplayMirror(100, 120_000);
    record(m, APP, meta(1, 0), 'frame1');
    record(m, APP, meta(2, 5_000), 'frame2');
    record(m, APP, meta(3, 8_000), 'frame3');
    record(m, APP, meta(4, 9_500), 'frame4');
    const now = 10_000;
    assert.deepEqual(
      m.recent(APP, CH, { seconds: 2 }, now).map((e) => e.serial),
      [3, 4],
    );
    assert.deepEqual(
      m.recent(APP, CH, { seconds: 5 }, now).map((e) => e.serial),
      [2, 3, 4],
      'an entry exactly 5 s old is inside a 5 s window',
    );
    assert.deepEqual(
      m.recent(APP, CH, { seconds: 100 }, now).map((e) => e.serial),
      [1, 2, 3, 4],
    );
  });

  test('recent never returns expired entries', () => {
    const m = new ReplayMirror(100, 1_000);
    record(m, APP, meta(1, 0), 'frame1');
    record(m, APP, meta(2, 1_500), 'frame2');
    assert.deepEqual(
      m.recent(APP, CH, { seconds: 60 }, 2_000).map((e) => e.serial),
      [2],
    );
    assert.deepEqual(
      m.recent(APP, CH, { count: 10 }, 2_000).map((e) => e.serial),
      [2],
    );
  });
});

describe('ReplayMirror: what a replay gives back', () => {
  test('a message kept by its V1 frame replays the V2 frame a live V2 subscriber got, tags and extras included', () => {
    const m = new ReplayMirror(100, 120_000);
    const v1 = channelEvent('order.created', CH, '{"id":1}');
    const live = meta(1, 0, { tags: { region: 'eu' }, extras: { headers: { priority: 'high' } } });
    m.record(APP, V2Message.fromV1(live, v1));
    const [e] = m.recent(APP, CH, { count: 1 }, 1);
    assert.equal(e.frame, V2Message.fromV1(live, v1).frame);
    assert.match(e.frame, /"tags":\{"region":"eu"\}/);
    assert.deepEqual(e.extras, { headers: { priority: 'high' } });
    assert.equal(e.messageId, 'm1');
  });

  test('recordV1 (no V2Message built) keeps the same message as record', () => {
    const byObject = new ReplayMirror(100, 120_000);
    const byFields = new ReplayMirror(100, 120_000);
    for (let s = 1; s <= 3; s++) {
      const v1 = channelEvent(`e${s}`, CH, `data${s}`);
      const tags = s === 2 ? { kind: 'b' } : undefined;
      byObject.record(APP, V2Message.fromV1(meta(s, s, { event: `e${s}`, tags }), v1));
      byFields.recordV1(APP, CH, `e${s}`, v1, `m${s}`, 's1', s, s, tags, undefined);
    }
    const view = (r: ReplayMirror) => r.recent(APP, CH, { count: 10 }, 5).map((e) => [e.serial, e.event, e.messageId, e.publishedAt, e.tags, e.frame]);
    assert.deepEqual(view(byFields), view(byObject));
    assert.match(view(byFields)[1][5] as string, /"tags":\{"kind":"b"\}/);
  });

  test('a message that came with its V2 frame (a client event) replays that frame and its user_id', () => {
    const m = new ReplayMirror(100, 120_000);
    m.record(APP, V2Message.built(meta(1, 0, { event: 'client-typing', userId: 'u1' }), 'the-v2-frame'));
    const [e] = m.recent(APP, CH, { count: 1 }, 1);
    assert.equal(e.frame, 'the-v2-frame');
    assert.equal(e.userId, 'u1');
    assert.equal(e.hasV2Source, true);
  });

  test('trimming keeps every field of an entry together, rare ones included', () => {
    const m = new ReplayMirror(4, 120_000);
    for (let s = 1; s <= 12; s++) m.record(APP, V2Message.fromV1(meta(s, s, s % 3 === 0 ? { tags: { n: String(s) } } : {}), channelEvent('e', CH, `d${s}`)));
    const kept = m.recent(APP, CH, { count: 100 }, 20);
    assert.deepEqual(
      kept.map((e) => [e.serial, e.messageId, e.tags?.n]),
      [
        [9, 'm9', '9'],
        [10, 'm10', undefined],
        [11, 'm11', undefined],
        [12, 'm12', '12'],
      ],
    );
    assert.ok(kept.every((e) => e.frame.includes(`"data":"d${e.serial}"`)));
  });
});
