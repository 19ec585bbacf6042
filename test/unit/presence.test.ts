// Presence (§2.5): membership across sockets of one user, the member cap, the subscription_succeeded
// snapshot, and validation of `channel_data`.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import pino from 'pino';
import { type JoinResult, PresenceRegistry } from '../../src/channels/presence.ts';
import { parsePresenceData } from '../../src/channels/presenceData.ts';
import { loadConfig } from '../../src/config/load.ts';
import type { TopicFrame } from '../../src/ipc/messages.ts';
import { Publisher } from '../../src/primary/publisher.ts';
import { topicFor } from '../../src/protocol/topics.ts';

const CH = 'presence-room';
const UNLIMITED = Number.MAX_SAFE_INTEGER;

function joined(r: JoinResult): { firstSocketOfUser: boolean; ids: string[] } {
  assert.ok(r.ok, `expected the join to be accepted, got ${JSON.stringify(r)}`);
  return { firstSocketOfUser: r.firstSocketOfUser, ids: [...r.members.keys()] };
}

describe('PresenceRegistry: join and leave', () => {
  test("a user's first socket adds the member; a second tab does not", () => {
    const p = new PresenceRegistry();
    assert.deepEqual(joined(p.join('app', CH, 'u1', { name: 'Ann' }, 's1', 1, UNLIMITED)), { firstSocketOfUser: true, ids: ['u1'] });
    assert.deepEqual(joined(p.join('app', CH, 'u2', { name: 'Bob' }, 's2', 1, UNLIMITED)), { firstSocketOfUser: true, ids: ['u1', 'u2'] });
    assert.deepEqual(joined(p.join('app', CH, 'u1', { name: 'Ann' }, 's3', 1, UNLIMITED)), { firstSocketOfUser: false, ids: ['u1', 'u2'] });
    assert.deepEqual([...(p.members('app', CH).get('u1')?.sockets.keys() ?? [])], ['s1', 's3']);
    assert.deepEqual(p.members('app', CH).get('u1')?.info, { name: 'Ann' });
  });

  test('the member leaves with their last socket only', () => {
    const p = new PresenceRegistry();
    p.join('app', CH, 'u1', {}, 's1', 1, UNLIMITED);
    p.join('app', CH, 'u1', {}, 's2', 1, UNLIMITED);
    p.join('app', CH, 'u2', {}, 's3', 1, UNLIMITED);
    assert.equal(p.leave('app', CH, 'u1', 's1'), false, 'another tab is still there');
    assert.deepEqual([...p.members('app', CH).keys()], ['u1', 'u2']);
    assert.equal(p.leave('app', CH, 'u1', 's2'), true, 'last socket: the member left');
    assert.deepEqual([...p.members('app', CH).keys()], ['u2']);
    assert.equal(p.leave('app', CH, 'u2', 's3'), true);
    assert.equal(p.members('app', CH).size, 0);
  });

  test('leaves that do not match a membership change nothing', () => {
    const p = new PresenceRegistry();
    p.join('app', CH, 'u1', {}, 's1', 1, UNLIMITED);
    assert.equal(p.leave('app', CH, 'u1', 'not-a-socket'), false);
    assert.equal(p.leave('app', CH, 'u9', 's1'), false, 'socket of another user');
    assert.equal(p.leave('app', 'presence-other', 'u1', 's1'), false);
    assert.equal(p.leave('app2', CH, 'u1', 's1'), false);
    assert.deepEqual([...p.members('app', CH).keys()], ['u1']);
    assert.equal(p.leave('app', CH, 'u1', 's1'), true);
    assert.equal(p.leave('app', CH, 'u1', 's1'), false, 'a second leave of the same socket');
  });

  test('a member who left and comes back is a first socket again', () => {
    const p = new PresenceRegistry();
    p.join('app', CH, 'u1', {}, 's1', 1, UNLIMITED);
    p.leave('app', CH, 'u1', 's1');
    assert.equal(joined(p.join('app', CH, 'u1', {}, 's2', 1, UNLIMITED)).firstSocketOfUser, true);
  });

  test('channels and apps are separate', () => {
    const p = new PresenceRegistry();
    p.join('app', CH, 'u1', {}, 's1', 1, UNLIMITED);
    assert.equal(joined(p.join('app', 'presence-other', 'u1', {}, 's1', 1, UNLIMITED)).firstSocketOfUser, true);
    assert.equal(joined(p.join('app2', CH, 'u1', {}, 's1', 1, UNLIMITED)).firstSocketOfUser, true);
    assert.equal(p.members('app', CH).size, 1);
    assert.equal(p.members('app3', CH).size, 0);
  });
});

describe('PresenceRegistry: member cap', () => {
  test('at the cap a new user is refused, a known user may add sockets', () => {
    const p = new PresenceRegistry();
    joined(p.join('app', CH, 'u1', {}, 's1', 1, 2));
    joined(p.join('app', CH, 'u2', {}, 's2', 1, 2));
    assert.deepEqual(p.join('app', CH, 'u3', {}, 's3', 1, 2), { ok: false, reason: 'overCapacity' });
    assert.deepEqual([...p.members('app', CH).keys()], ['u1', 'u2'], 'the refused user was not added');
    assert.equal(joined(p.join('app', CH, 'u1', {}, 's4', 1, 2)).firstSocketOfUser, false);
    // a place frees up when a member leaves
    p.leave('app', CH, 'u2', 's2');
    assert.equal(joined(p.join('app', CH, 'u3', {}, 's3', 1, 2)).firstSocketOfUser, true);
  });

  test('the cap counts users, not sockets', () => {
    const p = new PresenceRegistry();
    for (let i = 0; i < 5; i++) joined(p.join('app', CH, 'u1', {}, `s${i}`, 1, 2));
    assert.equal(joined(p.join('app', CH, 'u2', {}, 'x', 1, 2)).firstSocketOfUser, true);
  });

  test('a refused first join leaves no empty channel behind', () => {
    const p = new PresenceRegistry();
    assert.deepEqual(p.join('app', CH, 'u1', {}, 's1', 1, 0), { ok: false, reason: 'overCapacity' });
    assert.equal(p.members('app', CH).size, 0);
  });
});

describe('PresenceRegistry.versions: the protocols of a channel\'s sockets', () => {
  test('follow joins and leaves, one count per socket however often it joins', () => {
    const p = new PresenceRegistry();
    assert.deepEqual(p.versions('app', CH), []);
    p.join('app', CH, 'u1', {}, 's1', 1, UNLIMITED);
    assert.deepEqual(p.versions('app', CH), [1]);
    p.join('app', CH, 'u1', {}, 's2', 2, UNLIMITED); // a second tab of the same user, on V2
    p.join('app', CH, 'u2', {}, 's3', 2, UNLIMITED);
    p.join('app', CH, 'u2', {}, 's3', 2, UNLIMITED); // the same socket joining again
    assert.deepEqual(p.versions('app', CH), [1, 2]);
    p.leave('app', CH, 'u2', 's3');
    assert.deepEqual(p.versions('app', CH), [1, 2], "u1's V2 tab is still there");
    p.leave('app', CH, 'u1', 's2');
    assert.deepEqual(p.versions('app', CH), [1]);
    p.leave('app', CH, 'u1', 'not-a-socket');
    p.leave('app', CH, 'u1', 's1');
    assert.deepEqual(p.versions('app', CH), []);
    p.join('app', CH, 'u3', {}, 's4', 2, UNLIMITED);
    assert.deepEqual(p.versions('app', CH), [2]);
    assert.deepEqual(p.versions('app', 'presence-other'), []);
  });

  test('the publisher builds member frames for those versions only', () => {
    const config = loadConfig({ env: {} });
    const published: TopicFrame[][] = [];
    const publisher = new Publisher(() => [{ index: 0, publish: (f) => void published.push(f), post() {} }], config, pino({ level: 'silent' }));
    const p = new PresenceRegistry();
    publisher.presenceVersions = (appId, channel) => p.versions(appId, channel);
    const change = () => publisher.presenceChange(0, 'app', CH, 'added', 'u9', { n: 1 });
    p.join('app', CH, 'u1', {}, 's1', 2, UNLIMITED);
    change();
    assert.deepEqual(published.pop()?.map((f) => f.topic), [topicFor(2, 'app', CH)]);
    p.join('app', CH, 'u2', {}, 's2', 1, UNLIMITED);
    change();
    const both = published.pop() ?? [];
    assert.deepEqual(both.map((f) => f.topic), [topicFor(1, 'app', CH), topicFor(2, 'app', CH)]);
    assert.deepEqual(both.map((f) => JSON.parse(f.frame).event), ['pusher_internal:member_added', 'sockudo_internal:member_added']);
    p.leave('app', CH, 'u1', 's1');
    p.leave('app', CH, 'u2', 's2');
    change();
    assert.equal(published.length, 0, 'nobody here: nothing built or handed over');
  });
});

describe('PresenceRegistry.snapshot', () => {
  test('{presence: {ids, hash, count}} as a JSON string', () => {
    const p = new PresenceRegistry();
    p.join('app', CH, 'u1', { name: 'Ann' }, 's1', 1, UNLIMITED);
    p.join('app', CH, 'u2', {}, 's2', 1, UNLIMITED);
    p.join('app', CH, 'u1', { name: 'Ann' }, 's3', 1, UNLIMITED);
    const data = PresenceRegistry.snapshot(p.members('app', CH));
    assert.equal(typeof data, 'string');
    assert.deepEqual(JSON.parse(data), { presence: { ids: ['u1', 'u2'], hash: { u1: { name: 'Ann' }, u2: {} }, count: 2 } });
  });

  test('empty channel', () => {
    assert.deepEqual(JSON.parse(PresenceRegistry.snapshot(new Map())), { presence: { ids: [], hash: {}, count: 0 } });
  });

  test('written out, it parses to what the object form gives, for awkward ids and info', () => {
    const info = new Map<string, unknown>([
      ['u"quoted\\', { nested: { list: [1, 'two', null], 'é': '☃' } }],
      ['10', 'plain string'],
      ['2', 3.5],
      ['no-info', undefined],
      ['emoji 😀', null],
    ]);
    const data = PresenceRegistry.snapshotOfInfo(info);
    const hash: Record<string, unknown> = {};
    for (const [id, i] of info) hash[id] = i;
    assert.deepEqual(JSON.parse(data), JSON.parse(JSON.stringify({ presence: { ids: [...info.keys()], hash, count: info.size } })));
    assert.deepEqual(JSON.parse(data).presence.ids, ['u"quoted\\', '10', '2', 'no-info', 'emoji 😀'], 'ids in join order');
  });

  test('a user id that names an object property is kept like any other', () => {
    const data = JSON.parse(PresenceRegistry.snapshotOfInfo(new Map([['__proto__', { name: 'P' }], ['constructor', {}]])));
    assert.deepEqual(data.presence.ids, ['__proto__', 'constructor']);
    assert.deepEqual(Object.keys(data.presence.hash), ['__proto__', 'constructor']);
    assert.deepEqual(Object.getOwnPropertyDescriptor(data.presence.hash, '__proto__')?.value, { name: 'P' });
    assert.equal(data.presence.count, 2);
  });
});

describe('parsePresenceData', () => {
  test('string user_id with user_info', () => {
    assert.deepEqual(parsePresenceData('{"user_id":"u1","user_info":{"name":"Ann"}}', 2), { ok: true, userId: 'u1', userInfo: { name: 'Ann' } });
  });

  test('numeric user_id is accepted and kept as a string', () => {
    assert.deepEqual(parsePresenceData('{"user_id":42}', 2), { ok: true, userId: '42', userInfo: {} });
    assert.deepEqual(parsePresenceData('{"user_id":0}', 2), { ok: true, userId: '0', userInfo: {} });
  });

  test('user_info defaults to {}', () => {
    const r = parsePresenceData('{"user_id":"u1"}', 2);
    assert.ok(r.ok);
    assert.deepEqual(r.userInfo, {});
  });

  test('missing user_id, or one of another type', () => {
    for (const d of ['{}', '{"user_id":null}', '{"user_id":true}', '{"user_id":{"id":1}}', '{"user_id":["u1"]}', '{"user_info":{}}']) {
      const r = parsePresenceData(d, 2);
      assert.ok(!r.ok, `${d} should be refused`);
      assert.match(r.message, /user_id/, d);
    }
  });

  test('any string user_id is a member, as Sockudo takes it: an empty one, a long one', () => {
    assert.deepEqual(parsePresenceData('{"user_id":""}', 2), { ok: true, userId: '', userInfo: {} });
    assert.equal(parsePresenceData(JSON.stringify({ user_id: 'u'.repeat(500) }), 2).ok, true);
  });

  test('invalid JSON', () => {
    const r = parsePresenceData('{"user_id":', 2);
    assert.ok(!r.ok);
    assert.match(r.message, /Invalid JSON/);
  });

  test("JSON that is not an object has no user_id (Sockudo's text)", () => {
    for (const d of ['[]', '["u1"]', '"u1"', '42', 'null', 'true']) {
      const r = parsePresenceData(d, 2);
      assert.ok(!r.ok, `${d} should be refused`);
      assert.equal(r.message, 'Channel error: Missing user_id in channel_data', d);
    }
  });

  test('channel_data absent, empty or not a string', () => {
    for (const d of [undefined, null, '', { user_id: 'u1' }, 42]) {
      const r = parsePresenceData(d, 2);
      assert.ok(!r.ok, `${JSON.stringify(d)} should be refused`);
      assert.match(r.message, /channel_data is required/);
    }
  });

  test('user_info size limit in KiB, counted in bytes of its JSON', () => {
    const info = (jsonBytes: number) => ({ s: 'x'.repeat(jsonBytes - '{"s":""}'.length) });
    assert.equal(JSON.stringify(info(1024)).length, 1024);
    const data = (userInfo: unknown) => JSON.stringify({ user_id: 'u1', user_info: userInfo });
    assert.equal(parsePresenceData(data(info(1024)), 1).ok, true, 'exactly 1 KiB with a 1 KiB limit');
    assert.equal(parsePresenceData(data(info(2048)), 1).ok, false, '2 KiB with a 1 KiB limit');
    assert.equal(parsePresenceData(data(info(2048)), 2).ok, true, '2 KiB with a 2 KiB limit');
    const r = parsePresenceData(data(info(4096)), 2);
    assert.ok(!r.ok);
    assert.equal(r.message, 'Channel error: Presence member data size (4KB) exceeds limit (2KB)');
    // A string user_info counts its own bytes, without the JSON quotes (Sockudo's data_to_bytes_flexible).
    assert.equal(parsePresenceData(data('x'.repeat(3071)), 2).ok, true, '3071 bytes is 2 KiB (3073 with its quotes would be too)');
    assert.equal(parsePresenceData(data('x'.repeat(3072)), 2).ok, false, '3072 bytes is 3 KiB');
    // 1 000 three-byte characters: under 1 024 characters but over 2 KiB of UTF-8.
    assert.equal(parsePresenceData(data({ s: '€'.repeat(1000) }), 1).ok, false, 'bytes, not characters');
  });
});
