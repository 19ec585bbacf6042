// Issue #7: a rolling restart under a steady publish load. Two hosts (child processes, one real
// redis-server) on fixed ports; SIGTERM host A, start it again on its port, then the same for host B,
// while a publisher sends logical publishes with idempotency keys (alternating hosts, retrying on the
// other one). Clients reconnect to a host whose /ready answers 200, as behind a load balancer.
//
// - Readiness (GET /ready) leaves 200 within 1 s of each SIGTERM; every host exits 0.
// - No logical publish is refused for good: every one is accepted (possibly after a retry).
// - V2 clients resume (subscribe + sockudo:resume with their last position, as sockudo-js does) without
//   a gap or a duplicate over their whole life: serials contiguous, every accepted publish once. The two
//   frames go in two TCP writes, as a browser may send them (the resume race, docs/reliability.md bug 1);
//   ROLL_SEPARATE_WRITES=0 sends them in one.
// - V1 clients (no recovery in the Pusher protocol) lose nothing while connected and get nothing twice;
//   what they miss between the 4200 close and the re-subscribe is counted and reported.
//
// CI: 100 publishes/s, one round. Longer: ROLL_RATE=300 ROLL_ROUNDS=5 ROLL_CLIENTS=20 ROLL_SETTLE_MS=3000
// node --import tsx --test test/integration/faults-rolling-restart.test.ts
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type RedisProcess, startRedis } from '../helpers/redis.ts';
import { eventually } from '../helpers/server.ts';
import { type HostProcess, LogicalPublisher, ReconnectingClient, checkSessions, freePorts, seqOf, sleep, startHost, startHosts, stopHost } from './faults-hosts.ts';

const RATE = Number(process.env.ROLL_RATE ?? 100);
const ROUNDS = Number(process.env.ROLL_ROUNDS ?? 1);
const CLIENTS = Number(process.env.ROLL_CLIENTS ?? 4);
const SETTLE_MS = Number(process.env.ROLL_SETTLE_MS ?? 1000);
/** Subscribe and resume in two TCP writes (as a browser may send them); 0: in one. */
const SEPARATE_WRITES = process.env.ROLL_SEPARATE_WRITES !== '0';
const CHANNEL = 'rolling';

describe('rolling restart under publish load', () => {
  let redis: RedisProcess;
  const hosts: HostProcess[] = [];
  let ports: number[];
  let env: Record<string, string>;
  const clients: ReconnectingClient[] = [];
  before(async () => {
    redis = await startRedis();
    ports = await freePorts(2);
    env = {
      SOCKUDO_REDIS_URL: redis.url,
      SOCKUDO_REDIS_PREFIX: `rr${process.pid}:`,
      // Sockets are closed with 4200 over the first half of it.
      SOCKUDO_SHUTDOWN_GRACE_PERIOD: '2',
      SOCKUDO_CONNECTION_RECOVERY_MAX_BUFFER_SIZE: '5000',
    };
    hosts.push(...(await startHosts(ports.map((p) => ({ ...env, SOCKUDO_PORT: String(p) })))));
  });
  after(async () => {
    for (const c of clients) c.close();
    for (const h of hosts) await stopHost(h);
    await redis?.stop();
  });

  test('readiness flips within 1 s, no accepted publish lost, V2 resumes without gaps or duplicates', { timeout: 60_000 + ROUNDS * 30_000 }, async (t) => {
    for (let i = 0; i < CLIENTS; i++) {
      for (const protocol of [1, 2] as const) {
        const c = new ReconnectingClient(protocol, CHANNEL, () => ports, `V${protocol}#${i}`, !SEPARATE_WRITES);
        await c.connect(ports[i % 2]);
        clients.push(c);
      }
    }
    const publisher = new LogicalPublisher({ channel: CHANNEL, event: 'tick', ports: () => ports, rate: RATE, keyPrefix: `roll-${process.pid}`, attemptTimeoutMs: 2000, giveUpMs: 10000 });
    publisher.start();
    const flips: number[] = [];
    const restarts: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      for (const idx of [0, 1]) {
        await sleep(SETTLE_MS);
        const signalledAt = Date.now();
        hosts[idx].child.kill('SIGTERM');
        await eventually(
          async () => {
            try {
              const res = await fetch(`http://127.0.0.1:${ports[idx]}/ready`, { signal: AbortSignal.timeout(500) });
              await res.text();
              return res.status !== 200;
            } catch {
              return true; // no longer listening
            }
          },
          'readiness to flip',
          1000,
        );
        flips.push(Date.now() - signalledAt);
        assert.equal(await hosts[idx].exit, 0, `host ${idx} exits 0 after SIGTERM`);
        const t0 = Date.now();
        hosts[idx] = await startHost({ ...env, SOCKUDO_PORT: String(ports[idx]) });
        restarts.push(Date.now() - signalledAt);
        t.diagnostic(`round ${round} host ${idx}: /ready not 200 after ${flips.at(-1)} ms, down-to-up ${restarts.at(-1)} ms (start-up ${Date.now() - t0} ms)`);
      }
    }
    await sleep(SETTLE_MS);
    await publisher.stop();
    const summary = publisher.summary();

    // A fence: once every client's current socket has it, everything accepted before it has arrived.
    const res = await fetch(`http://127.0.0.1:${ports[0]}/apps/app-id/events`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ name: 'fence', channel: CHANNEL, data: '{}' }) });
    assert.equal(res.status, 200);
    await eventually(() => clients.every((c) => c.current?.client.frames.some((f) => f.event === 'fence')), 'the fence on every client', 10000);

    for (const ms of flips) assert.ok(ms < 1000, `readiness flipped ${ms} ms after SIGTERM`);
    assert.deepEqual(summary.gaveUp, [], 'every logical publish was accepted');
    const accepted = publisher.accepted;
    assert.ok(accepted.size >= RATE, `a real load (${accepted.size} accepted)`);

    // Every problem of every client is collected first, so a failure shows them all.
    const problems: string[] = [];
    let v1Missed = 0;
    let v1Twice = 0;
    const resumes: number[] = [];
    for (const c of clients) {
      if (c.sessions.length < 2) problems.push(`${c.name} was not moved by the restarts`);
      if (c.protocol === 1) {
        const r = checkSessions(c, 'tick', accepted);
        problems.push(...r.problems);
        v1Missed += r.missedWhileAway;
        v1Twice += r.acrossSessions;
        continue;
      }
      // V2: one gap-free, duplicate-free, ordered run over every session.
      const ticks = c.frames('tick').map((x) => x.frame);
      const seqs = ticks.map((f) => seqOf(f, 'tick') as number);
      for (const dup of seqs.filter((x, i) => seqs.indexOf(x) !== i)) {
        // Where each copy arrived: session, and the frames around it there.
        const where = c.sessions.flatMap((s, k) =>
          s.client.frames.flatMap((f, i) => {
            if (seqOf(f, 'tick') !== dup) return [];
            const around = s.client.frames.slice(Math.max(0, i - 3), i + 4).map((x) => (x.event === 'tick' ? `tick#${x.serial}` : x.event));
            return [`session ${k} frame ${i}: ${around.join(' ')}`];
          }),
        );
        problems.push(`${c.name}: publish ${dup} delivered twice (${where.join(' | ')})`);
      }
      const serials = ticks.map((f) => f.serial as number);
      for (let i = 1; i < serials.length; i++) if (serials[i] !== serials[i - 1] + 1) problems.push(`${c.name}: serial ${serials[i]} after ${serials[i - 1]}`);
      const got = new Set(seqs);
      const lost = [...accepted].filter((x) => x >= seqs[0] && !got.has(x));
      if (lost.length > 0) problems.push(`${c.name}: accepted publishes lost: ${lost.join(',')}`);
      for (const [k, s] of c.sessions.entries()) {
        if (k === 0) continue;
        if (!s.resumed) problems.push(`${c.name}: session ${k} did not get resume_success`);
        else if (s.resumed.failed.length > 0) problems.push(`${c.name}: session ${k} resume failed: ${JSON.stringify(s.resumed.failed)}`);
        else resumes.push(s.resumed.recovered[0]?.replayed ?? 0);
      }
    }
    const v1Reconnects = clients.filter((c) => c.protocol === 1).reduce((n, c) => n + c.sessions.length - 1, 0);
    t.diagnostic(
      `${ROUNDS} round(s) at ${RATE}/s, ${CLIENTS} V1 + ${CLIENTS} V2 clients; readiness flips ${JSON.stringify(flips)} ms; publishes ${JSON.stringify(summary)}; ` +
        `V2 resumes ${resumes.length}, replayed ${JSON.stringify(resumes)}; V1 over ${v1Reconnects} reconnects: ${v1Missed} accepted publishes missed while away, ${v1Twice} received again after moving host`,
    );
    assert.deepEqual(problems, []);
  });
});
