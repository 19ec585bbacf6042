// Issue #7: one of two hosts (child processes sharing one real redis-server) is killed with SIGKILL while
// a publisher sends a steady stream of logical publishes, each with an idempotency key, alternating hosts
// and retrying on the other host after a failure or timeout. On the survivor: each presence member of the
// dead host is removed exactly once within 15 s, the users endpoint lists no ghost, and subscribers lose
// and duplicate no accepted publish (V2 serials stay contiguous).
//
// CI: ~100 publishes/s, kill after 1.5 s. Longer: KILL_RATE=300 KILL_BEFORE_MS=10000 KILL_AFTER_MS=10000
// node --import tsx --test test/integration/faults-sigkill.test.ts
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Pusher from 'pusher';
import { type Frame, RawClient, openV2 } from '../helpers/clients.ts';
import { type RedisProcess, startRedis } from '../helpers/redis.ts';
import { eventually } from '../helpers/server.ts';
import { type HostProcess, LogicalPublisher, seqOf, sleep, startHosts, stopHost } from './faults-hosts.ts';

const sdk = new Pusher({ appId: 'app-id', key: 'app-key', secret: 'app-secret', host: '127.0.0.1' });
const RATE = Number(process.env.KILL_RATE ?? 100);
const BEFORE_MS = Number(process.env.KILL_BEFORE_MS ?? 1500);
const AFTER_MS = Number(process.env.KILL_AFTER_MS ?? 1000);
/** How long the publisher retries one logical publish before giving up. */
const GIVE_UP_MS = Number(process.env.KILL_GIVE_UP_MS ?? 5000);
/** Idempotency window of the hosts (seconds); unset: the default (120 s). */
const IDEMPOTENCY_TTL = process.env.KILL_IDEMPOTENCY_TTL;
const CHANNEL = 'load';
const PRESENCE = 'presence-kill';

async function joinPresence(c: RawClient, userId: string): Promise<void> {
  const data = { user_id: userId };
  const { auth } = sdk.authorizeChannel(c.socketId, PRESENCE, data);
  const f = await c.request({ event: 'pusher:subscribe', data: { channel: PRESENCE, auth, channel_data: JSON.stringify(data) } }, (x) => x.event.endsWith('subscription_succeeded') || x.event === 'pusher:error');
  assert.equal(f.event, 'pusher_internal:subscription_succeeded', `${userId} joined`);
}

const userOf = (f: Frame) => (JSON.parse(f.data as string) as { user_id: string }).user_id;

describe('SIGKILL of one of two hosts under publish load', () => {
  let redis: RedisProcess;
  let doomed: HostProcess;
  let survivor: HostProcess;
  const clients: RawClient[] = [];
  before(async () => {
    redis = await startRedis();
    const env: Record<string, string> = { SOCKUDO_REDIS_URL: redis.url, SOCKUDO_REDIS_PREFIX: `fk${process.pid}:` };
    if (IDEMPOTENCY_TTL) env.SOCKUDO_IDEMPOTENCY_TTL_SECONDS = IDEMPOTENCY_TTL;
    [doomed, survivor] = await startHosts([env, env]);
  });
  after(async () => {
    for (const c of clients) c.close();
    await stopHost(doomed, 'SIGKILL');
    await stopHost(survivor);
    await redis?.stop();
  });

  test('members removed once within 15 s, no ghosts, no lost or duplicated accepted publish', async (t) => {
    const open = async (port: number) => {
      const c = await RawClient.open(port);
      clients.push(c);
      return c;
    };
    // Survivor side: a watcher, a member of its own, one tab of a user who also has a tab on the doomed
    // host, and V1 + V2 subscribers of the loaded channel.
    const watcher = await open(survivor.port);
    await joinPresence(watcher, 'watcher');
    await joinPresence(await open(survivor.port), 'alive-1');
    await joinPresence(await open(survivor.port), 'both');
    const v1 = await open(survivor.port);
    await v1.request({ event: 'pusher:subscribe', data: { channel: CHANNEL } }, (f) => f.event.endsWith('subscription_succeeded'));
    const v2 = await openV2(survivor.port);
    clients.push(v2);
    await v2.request({ event: 'sockudo:subscribe', data: { channel: CHANNEL } }, (f) => f.event.endsWith('subscription_succeeded'));
    // Doomed side: four members, one of them with two tabs, and the other tab of "both".
    const ghosts = ['ghost-1', 'ghost-2', 'ghost-3', 'ghost-4'];
    for (const g of ghosts) await joinPresence(await open(doomed.port), g);
    await joinPresence(await open(doomed.port), 'ghost-1');
    await joinPresence(await open(doomed.port), 'both');
    const added = () => watcher.frames.filter((f) => f.event === 'pusher_internal:member_added').map(userOf);
    await eventually(() => added().length === 6, 'member_added for alive-1, both and the 4 ghosts');
    assert.deepEqual(added().sort(), ['alive-1', 'both', ...ghosts].sort());

    const publisher = new LogicalPublisher({ channel: CHANNEL, event: 'tick', ports: () => [doomed.port, survivor.port], rate: RATE, keyPrefix: `kill-${process.pid}`, attemptTimeoutMs: 1000, giveUpMs: GIVE_UP_MS });
    publisher.start();
    await sleep(BEFORE_MS);
    const killedAt = Date.now();
    doomed.child.kill('SIGKILL');
    assert.equal(await doomed.exit, null, 'killed by a signal');

    const removed = () => watcher.frames.filter((f) => f.event === 'pusher_internal:member_removed').map(userOf);
    await eventually(() => ghosts.every((g) => removed().includes(g)), 'every ghost removed', 15000);
    const removalMs = Date.now() - killedAt;
    await sleep(AFTER_MS);
    await publisher.stop();

    // Fence: a last publish through the survivor; per-channel order means everything before it arrived.
    const fence = await fetch(`http://127.0.0.1:${survivor.port}/apps/app-id/events`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ name: 'fence', channel: CHANNEL, data: '{}' }),
    });
    assert.equal(fence.status, 200);
    await v1.next((f) => f.event === 'fence', 5000);
    await v2.next((f) => f.event === 'fence', 5000);

    // Presence: each ghost removed exactly once, nobody else removed, no ghost in the users list.
    assert.ok(removalMs < 15000, `removed after ${removalMs} ms`);
    assert.deepEqual(removed().sort(), ghosts, 'each ghost exactly once; "both" still has a tab on the survivor');
    const users = (await (await fetch(`http://127.0.0.1:${survivor.port}/apps/app-id/channels/${PRESENCE}/users`)).json()) as { users: { id: string }[] };
    assert.deepEqual(users.users.map((u) => u.id).sort(), ['alive-1', 'both', 'watcher']);
    const info = (await (await fetch(`http://127.0.0.1:${survivor.port}/apps/app-id/channels/${PRESENCE}?info=subscription_count,user_count`)).json()) as Record<string, unknown>;
    assert.deepEqual(info, { occupied: true, subscription_count: 3, user_count: 3 });

    // Publishes: exactly once, in order, for every accepted one; nothing twice, accepted or not.
    const accepted = publisher.accepted;
    const summary = publisher.summary();
    const seqs1 = v1.frames.map((f) => seqOf(f, 'tick')).filter((n): n is number => n !== undefined);
    const ticks2 = v2.frames.filter((f) => f.event === 'tick');
    const seqs2 = ticks2.map((f) => seqOf(f, 'tick') as number);
    const deliveredUnaccepted = seqs1.filter((s) => !accepted.has(s));
    t.diagnostic(
      `kill after ${BEFORE_MS} ms at ${RATE}/s; ghosts removed ${removalMs} ms after SIGKILL; publishes ${JSON.stringify(summary)}; ` +
        `delivered on the survivor ${seqs1.length} (V1) / ${seqs2.length} (V2), of them not accepted: ${JSON.stringify(deliveredUnaccepted)}`,
    );
    const record = (seq: number) => JSON.stringify(publisher.records.find((r) => r.seq === seq)?.attempts.map((a) => `${a.port === survivor.port ? 'survivor' : 'killed'}:${a.outcome}@${Math.round(a.ms)}ms`));
    for (const [name, seqs] of [['V1', seqs1], ['V2', seqs2]] as const) {
      const twice = seqs.filter((s, i) => seqs.indexOf(s) !== i);
      assert.deepEqual(twice, [], `${name}: no duplicates; attempts of the duplicated publishes: ${twice.map(record).join(' ')}`);
      for (let i = 1; i < seqs.length; i++) assert.ok(seqs[i] > seqs[i - 1], `${name}: in order (${seqs[i - 1]} then ${seqs[i]})`);
      const lost = [...accepted].filter((s) => !seqs.includes(s));
      assert.deepEqual(lost, [], `${name}: no accepted publish lost`);
    }
    const serials = ticks2.map((f) => f.serial as number);
    for (let i = 1; i < serials.length; i++) assert.equal(serials[i], serials[i - 1] + 1, 'V2 serials contiguous');
    assert.ok(accepted.size >= Math.min(50, (RATE * BEFORE_MS) / 2000), `a real load was accepted (${accepted.size})`);
  });
});
