// Issue #7: the idempotency storm. N logical publishes, each sent 1–3 times with one idempotency key to
// random hosts (3 hosts in this process, one real redis-server), copies racing each other. Every
// subscriber on every host receives exactly N distinct messages, no duplicates, with contiguous V2 serials
// and the same message ids everywhere; the hosts' idempotency counters add up exactly.
//
// CI: N = 1,000. Longer: STORM_PUBLISHES=10000 node --import tsx --test test/integration/faults-idempotency-storm.test.ts
// (also STORM_HOSTS=2|3, STORM_CONCURRENCY, STORM_SEED to replay a run).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type Frame, RawClient, openV2 } from '../helpers/clients.ts';
import { type RedisProcess, startRedis } from '../helpers/redis.ts';
import { type TestServer, eventually, startTestServer } from '../helpers/server.ts';
import { seqOf, sleep } from './faults-hosts.ts';

const N = Number(process.env.STORM_PUBLISHES ?? 1000);
const HOSTS = Number(process.env.STORM_HOSTS ?? 3);
const CONCURRENCY = Number(process.env.STORM_CONCURRENCY ?? 16);
const SEED = Number(process.env.STORM_SEED ?? Math.floor(Math.random() * 2 ** 31));
const CHANNEL = 'storm';

/** mulberry32: a small seeded PRNG, so a failing run can be replayed with STORM_SEED. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function metricSum(hosts: TestServer[], name: string): Promise<number> {
  let sum = 0;
  for (const h of hosts) {
    const text = await (await fetch(`http://127.0.0.1:${h.metricsPort}/metrics`)).text();
    for (const m of text.matchAll(new RegExp(`^${name}\\{[^}]*app_id="app-id"[^}]*\\} (\\d+)$`, 'gm'))) sum += Number(m[1]);
  }
  return sum;
}

describe('idempotency storm across hosts', () => {
  let redis: RedisProcess;
  let hosts: TestServer[];
  before(async () => {
    redis = await startRedis();
    hosts = await Promise.all(Array.from({ length: HOSTS }, () => startTestServer({ redis: { url: redis.url, key_prefix: `st${process.pid}:` } })));
  });
  after(async () => {
    await Promise.all(hosts.map((h) => h.shutdown()));
    await redis.stop();
  });

  test(`${N} logical publishes sent 1–3 times each to random hosts are delivered exactly once everywhere`, { timeout: 30_000 + N * 20 }, async (t) => {
    const random = prng(SEED);
    const v1 = await Promise.all(hosts.map((h) => RawClient.open(h.port)));
    const v2 = await Promise.all(hosts.map((h) => openV2(h.port)));
    for (const c of v1) await c.request({ event: 'pusher:subscribe', data: { channel: CHANNEL } }, (f) => f.event.endsWith('subscription_succeeded'));
    for (const c of v2) await c.request({ event: 'sockudo:subscribe', data: { channel: CHANNEL } }, (f) => f.event.endsWith('subscription_succeeded'));

    // Plan every copy up front (deterministic for a seed): how many, to which host, after what delay.
    const plan = Array.from({ length: N }, (_, i) => ({
      seq: i + 1,
      copies: Array.from({ length: 1 + Math.floor(random() * 3) }, () => ({ host: Math.floor(random() * HOSTS), delayMs: Math.floor(random() * 15) })),
    }));
    const results = new Map<number, { status: number; body: string }[]>();
    const statusCounts = new Map<number | string, number>();
    const key = `storm-${process.pid}-${SEED}`;
    const send = async (seq: number, host: number) => {
      const body = JSON.stringify({ name: 'burst', channel: CHANNEL, data: JSON.stringify({ seq }), idempotency_key: `${key}-${seq}` });
      try {
        const res = await fetch(`http://127.0.0.1:${hosts[host].port}/apps/app-id/events`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body });
        const r = { status: res.status, body: await res.text() };
        statusCounts.set(r.status, (statusCounts.get(r.status) ?? 0) + 1);
        return r;
      } catch (err) {
        statusCounts.set((err as Error).name, (statusCounts.get((err as Error).name) ?? 0) + 1);
        return { status: 0, body: String(err) };
      }
    };
    const started = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < plan.length) {
          const p = plan[next++];
          results.set(p.seq, await Promise.all(p.copies.map(async (c) => (await sleep(c.delayMs), send(p.seq, c.host)))));
        }
      }),
    );
    const sendMs = Math.round(performance.now() - started);

    // Every logical publish was accepted at least once, and every acceptance answered the same body.
    const notAccepted = plan.filter((p) => !results.get(p.seq)?.some((r) => r.status === 200)).map((p) => p.seq);
    assert.deepEqual(notAccepted, [], 'every logical publish got a 200');
    for (const [seq, rs] of results) {
      const bodies = new Set(rs.filter((r) => r.status === 200).map((r) => r.body));
      assert.equal(bodies.size, 1, `one answer body for ${seq}`);
    }
    const okAnswers = [...results.values()].flat().filter((r) => r.status === 200).length;
    const copies = plan.reduce((s, p) => s + p.copies.length, 0);

    // A fence through every host: the stream's single order puts it after every storm message.
    for (const h of hosts) {
      const res = await fetch(`http://127.0.0.1:${h.port}/apps/app-id/events`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ name: 'fence', channel: CHANNEL, data: '{}' }) });
      assert.equal(res.status, 200);
    }
    const fenced = (c: RawClient) => c.frames.filter((f) => f.event === 'fence').length === HOSTS;
    await eventually(() => [...v1, ...v2].every(fenced), 'the fences on every subscriber', 15000);

    const expected = Array.from({ length: N }, (_, i) => i + 1);
    const idsBySeq = new Map<number, string>();
    for (const [i, c] of [...v1, ...v2].entries()) {
      const name = `${i < HOSTS ? 'V1' : 'V2'} subscriber on host ${i % HOSTS}`;
      const burst = c.frames.filter((f: Frame) => f.event === 'burst');
      const seqs = burst.map((f) => seqOf(f, 'burst') as number);
      assert.equal(seqs.length, N, `${name}: exactly ${N} messages (got ${seqs.length})`);
      assert.deepEqual([...new Set(seqs)].sort((a, b) => a - b), expected, `${name}: every logical publish, none twice`);
      if (i >= HOSTS) {
        const serials = burst.map((f) => f.serial as number);
        for (let k = 1; k < serials.length; k++) assert.equal(serials[k], serials[k - 1] + 1, `${name}: contiguous serials`);
        for (const f of burst) {
          const seq = seqOf(f, 'burst') as number;
          const id = idsBySeq.get(seq) ?? (idsBySeq.set(seq, f.message_id as string), f.message_id as string);
          assert.equal(f.message_id, id, `${name}: the same message id for ${seq} as on the other hosts`);
        }
      }
    }
    // The hosts' counters: one real publish per key, every other 200 a replay.
    assert.equal(await metricSum(hosts, 'sockudo_idempotency_publish_total'), N);
    assert.equal(await metricSum(hosts, 'sockudo_idempotency_duplicates_total'), okAnswers - N);
    t.diagnostic(
      `seed ${SEED}: ${N} logical publishes, ${copies} copies over ${HOSTS} hosts in ${sendMs} ms (${Math.round((copies * 1000) / sendMs)} req/s); ` +
        `answers ${JSON.stringify(Object.fromEntries(statusCounts))}; each of ${2 * HOSTS} subscribers got ${N} distinct messages, none twice`,
    );
    for (const c of [...v1, ...v2]) c.close();
  });
});
