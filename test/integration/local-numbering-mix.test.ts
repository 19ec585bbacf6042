// Every way an HTTP publish reaches a public channel, mixed at random (fixed seed: STRESS_SEED) through both
// workers, while V2 subscribers on both watch: plain publishes delivered at once and numbered on the worker
// (worker/positionTracker.ts), bursts that stream through the primary or the hold, idempotent publishes and
// publishes with `info` (the primary answers those), batches naming a new channel, a cache channel or an
// ephemeral event, and publishes to several channels. Whoever numbers a message, the serials run one after
// another with no repeat, both workers send the same bytes, ids are unique, and a resume on each worker is exact.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DEVELOPMENT_APP } from '../../src/config/schema.ts';
import { type Frame, RawClient, openV2 } from '../helpers/clients.ts';
import { type TestServer, eventually, startTestServer } from '../helpers/server.ts';
import { signedUrl } from '../helpers/signing.ts';

const CH = 'stress';
const ROUNDS = Number(process.env.STRESS_ROUNDS ?? 4);
const PER_ROUND = Number(process.env.STRESS_PER_ROUND ?? 120);

const isMine = (f: Frame) => f.channel === CH && !f.event.includes(':');

async function sub(c: RawClient, channel: string): Promise<Frame> {
  return c.request({ event: 'sockudo:subscribe', data: { channel } }, (f) => (f.event.endsWith('subscription_succeeded') && f.channel === channel) || f.event.endsWith(':error'));
}

describe('V2 positions under a random mix of publish paths', () => {
  let server: TestServer;
  const watchers: RawClient[] = [];
  before(async () => {
    server = await startTestServer({ workers: 2 });
    for (const p of server.workerPorts) {
      for (let i = 0; i < 2; i++) {
        const c = await openV2(p);
        await sub(c, CH);
        watchers.push(c);
      }
    }
  });
  after(async () => {
    for (const c of watchers) c.close();
    await server.shutdown();
  });

  test('one sequence of serials on both workers, identical frames, exact resume', async () => {
    let n = 0;
    let rng = Number(process.env.STRESS_SEED ?? 12345);
    const rand = () => {
      rng = (rng * 1103515245 + 12345) & 0x7fffffff;
      return rng / 0x7fffffff;
    };
    const post = async (port: number, path: string, body: string, headers: Record<string, string> = {}) => {
      const res = await fetch(signedUrl(`http://127.0.0.1:${port}`, { path, body }), { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body });
      assert.equal(res.status, 200, await res.text());
    };
    const events = `/apps/${DEVELOPMENT_APP.id}/events`;
    const batch = `/apps/${DEVELOPMENT_APP.id}/batch_events`;
    const one = async () => {
      const i = n++;
      const port = server.workerPorts[Math.floor(rand() * 2)];
      const r = rand();
      const name = `n${i}`;
      if (r < 0.5) return post(port, events, JSON.stringify({ name, channel: CH, data: String(i) }));
      if (r < 0.6) return post(port, events, JSON.stringify({ name, channel: CH, data: String(i) }), { 'X-Idempotency-Key': `k-${i}-${Date.now()}` });
      if (r < 0.7) return post(port, events, JSON.stringify({ name, channels: [CH], data: String(i), info: 'subscription_count' }));
      if (r < 0.8) return post(port, batch, JSON.stringify({ batch: [{ name, channel: CH, data: String(i) }, { name: 'x', channel: `fresh-${i}`, data: 'x' }] }));
      if (r < 0.85) return post(port, batch, JSON.stringify({ batch: [{ name, channel: CH, data: String(i) }, { name: 'x', channel: 'cache-c', data: 'x' }] }));
      if (r < 0.9) return post(port, batch, JSON.stringify({ batch: [{ name: 'eph', channel: CH, data: 'e', extras: { ephemeral: true } }, { name, channel: CH, data: String(i) }] }));
      return post(port, events, JSON.stringify({ name, channels: [CH, `other-${i % 3}`], data: String(i) }));
    };
    for (let round = 0; round < ROUNDS; round++) {
      // Sometimes a burst (streaming, held, via the primary), sometimes one at a time (at once, numbered here).
      if (round % 2 === 0) await Promise.all(Array.from({ length: PER_ROUND }, one));
      else {
        for (let k = 0; k < PER_ROUND / 4; k++) {
          await one();
          await new Promise((r) => setTimeout(r, Math.floor(rand() * 6)));
        }
      }
    }
    const total = n;
    await eventually(() => watchers.every((c) => c.frames.filter((f) => isMine(f) && f.event !== 'eph').length === total), `all ${total} at every watcher`, 30_000);
    const texts = (c: RawClient) => c.texts.filter((_, i) => isMine(c.frames[i]) && c.frames[i].event !== 'eph');
    const ref = texts(watchers[0]);
    for (const c of watchers) assert.deepEqual(texts(c), ref, 'the same bytes on every worker');
    const frames = watchers[0].frames.filter((f) => isMine(f) && f.event !== 'eph');
    const serials = frames.map((f) => f.serial as number);
    for (let k = 1; k < serials.length; k++) assert.equal(serials[k], serials[k - 1] + 1, `serial after ${serials[k - 1]} at ${k}: ${serials.slice(Math.max(0, k - 3), k + 3)}`);
    assert.equal(new Set(frames.map((f) => f.message_id)).size, frames.length);
    // Within the replay buffer (max_buffer_size 100 by default).
    const mid = frames[Math.max(0, frames.length - 60)];
    for (const p of server.workerPorts) {
      const late = await openV2(p);
      await sub(late, CH);
      const from = late.frames.length;
      late.send({ event: 'sockudo:resume', data: { channel_positions: { [CH]: { stream_id: mid.stream_id, serial: mid.serial } } } });
      await late.next((f) => f.event === 'sockudo:resume_success' || f.event === 'sockudo:resume_failed', 5000, from);
      const replayed = late.texts.slice(from).filter((_, i) => isMine(late.frames[from + i]));
      assert.deepEqual(replayed, ref.slice(ref.indexOf(ref.find((t) => JSON.parse(t).serial === mid.serial) as string) + 1), `exact resume on worker port ${p}`);
      late.close();
    }
  });
});
