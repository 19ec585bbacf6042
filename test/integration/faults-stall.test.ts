// A host that stalls (a long GC pause, a stopped VM, a short partition) is not dead: a host is dead after 30 s
// without heartbeat (SOCKUDO-REFERENCE.md §10 l.845), or sooner once none of its Redis connections is left (its
// process is gone). The stalled host is a child process stopped with SIGSTOP. When a stalled host was reaped all
// the same (cut off from Redis for longer than 6 s), it puts its still-connected members back when it resumes.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { RawClient, joinPresence, serverSdk } from '../helpers/clients.ts';
import { DEVELOPMENT_APP } from '../../src/config/schema.ts';
import { type RedisProcess, startRedis } from '../helpers/redis.ts';
import { type TestServer, eventually, startTestServer } from '../helpers/server.ts';
import { type HostProcess, startHost, stopHost } from './faults-hosts.ts';



/** Names of the Redis connections open now. */
async function connectionNames(redis: Redis): Promise<Set<string>> {
  const list = (await redis.client('LIST')) as unknown as string;
  return new Set([...list.matchAll(/ name=(\S+)/g)].map((m) => m[1]));
}

describe('a stalled host', () => {
  let redis: RedisProcess;
  let host: TestServer;
  let peek: Redis;
  const prefix = `stall${process.pid}:`;
  before(async () => {
    redis = await startRedis();
    host = await startTestServer({ redis: { url: redis.url, key_prefix: prefix } });
    peek = new Redis(redis.url);
  });
  after(async () => {
    peek.disconnect();
    await host.shutdown();
    await redis.stop();
  });

  async function withStalledMember(ch: string, run: (watcher: RawClient, stalled: HostProcess, names: Set<string>) => Promise<void>): Promise<void> {
    const dir = mkdtempSync(join(tmpdir(), 'stall-'));
    const file = join(dir, 'config.json');
    writeFileSync(file, JSON.stringify({ apps: [{ id: DEVELOPMENT_APP.id, key: DEVELOPMENT_APP.key, secret: DEVELOPMENT_APP.secret }], redis: { url: redis.url, key_prefix: prefix } }));
    const before = await connectionNames(peek);
    const stalled = await startHost({ SOCKUDO_CONFIG_FILE: file, SOCKUDO_WORKERS: '1' });
    try {
      const names = new Set([...(await connectionNames(peek))].filter((n) => n.startsWith('sockudo-') && !before.has(n)));
      const watcher = await RawClient.open(host.port);
      await joinPresence(watcher, ch, 'watcher');
      const member = await RawClient.open(stalled.port);
      await joinPresence(member, ch, 'sleeper');
      await watcher.next((f) => f.event === 'pusher_internal:member_added');
      await run(watcher, stalled, names);
      member.close();
      watcher.close();
    } finally {
      stalled.child.kill('SIGCONT');
      await stopHost(stalled, 'SIGKILL');
    }
  }

  const users = async (ch: string) => ((await (await serverSdk(host.port).get({ path: `/channels/${ch}/users` })).json()) as { users: { id: string }[] }).users.map((u) => u.id).sort();

  test('no member_removed for the members of a host that stops answering for 10 s (ref l.845-846)', { timeout: 60_000 }, async () => {
    await withStalledMember('presence-stall-1', async (watcher, stalled) => {
      stalled.child.kill('SIGSTOP');
      // Well inside the reference's 30 s: a member_removed in this window is wrong.
      const removed = await watcher.next((f) => f.event === 'pusher_internal:member_removed', 10_000).catch(() => null);
      stalled.child.kill('SIGCONT');
      assert.equal(removed, null, `member_removed while the host was only stalled: ${JSON.stringify(removed)}`);
    });
  });

  test('after a 10 s stall the host\'s still-connected member is listed by /users (ref l.517, l.845)', { timeout: 60_000 }, async () => {
    const ch = 'presence-stall-2';
    await withStalledMember(ch, async (watcher, stalled) => {
      stalled.child.kill('SIGSTOP');
      await watcher.next((f) => f.event === 'pusher_internal:member_removed', 10_000).catch(() => null);
      stalled.child.kill('SIGCONT');
      // The stalled host is back: a publish through it reaching the watcher shows it reads the cluster again.
      await eventually(async () => (await serverSdk(stalled.port).trigger(ch, 'back', 'x').catch(() => null))?.status === 200, 'the stalled host publishes again', 10_000);
      await watcher.next((f) => f.event === 'back');
      await eventually(async () => JSON.stringify(await users(ch)) === JSON.stringify(['sleeper', 'watcher']), 'the connected member listed', 10_000);
    });
  });

  test('a stalled host cut off from Redis is reaped; when it resumes its connected member is announced and listed again', { timeout: 60_000 }, async () => {
    const ch = 'presence-stall-reaped';
    await withStalledMember(ch, async (watcher, stalled, names) => {
      assert.ok(names.size > 0, 'the stalled host names its Redis connections');
      stalled.child.kill('SIGSTOP');
      // Its connections dropped (as in a partition): survivors take it for gone after 6 s without heartbeat.
      const list = (await peek.client('LIST')) as unknown as string;
      for (const line of list.split('\n')) {
        const m = / name=(\S+)/.exec(line);
        const id = /^id=(\d+)/.exec(line);
        if (m && id && names.has(m[1])) await peek.client('KILL', 'ID', id[1]);
      }
      const removed = await watcher.next((f) => f.event === 'pusher_internal:member_removed', 12_000);
      assert.deepEqual(JSON.parse(removed.data as string), { user_id: 'sleeper' });
      assert.deepEqual(await users(ch), ['watcher']);
      const from = watcher.frames.length;
      stalled.child.kill('SIGCONT');
      const added = await watcher.next((f) => f.event === 'pusher_internal:member_added', 10_000, from);
      assert.equal(JSON.parse(added.data as string).user_id, 'sleeper');
      await eventually(async () => JSON.stringify(await users(ch)) === JSON.stringify(['sleeper', 'watcher']), 'the connected member listed again', 5000);
    });
  });
});
