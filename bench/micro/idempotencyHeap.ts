// Microbenchmark of what the in-memory idempotency store keeps per key: N keyed publishes through the same
// IdempotentPublisher the API uses (claim with the lease, publish, complete with the window), keys of 45
// characters arriving as a worker's message delivers them (flat strings of their own), then the heap per
// key after a full collection, with every key still held. Not a test and not a server benchmark
// (docs/benchmarks.md, "Session 21").
//   node --expose-gc --import tsx bench/micro/idempotencyHeap.ts [--keys 200000]
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { IdempotentPublisher, fingerprint } from '../../src/http/idempotentPublish.ts';
import { MemoryIdempotencyStore } from '../../src/idempotency/memoryStore.ts';

const { values } = parseArgs({ options: { keys: { type: 'string', default: '200000' } } });
const KEYS = Number(values.keys);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');

const store = new MemoryIdempotencyStore(KEYS * 2);
const publisher = new IdempotentPublisher(store, { idempotentPublish() {}, idempotentDuplicate() {} });
// As the worker's structured clone delivers them: one flat string per request.
const keys = Array.from({ length: KEYS }, () => structuredClone(`bench-${randomUUID()}-000000`.slice(0, 45)));
const bodies = keys.map((_, i) => ({ name: 'bench', channel: 'probe', data: `{"m":"${i}"}` }));
gc();
const before = process.memoryUsage().heapUsed;
const started = performance.now();
for (let i = 0; i < KEYS; i++) {
  const print = fingerprint('events', bodies[i]);
  await publisher.run('app-id', 'app-id', keys[i], print, 120_000, () => ({ status: 200, body: JSON.stringify({ ok: true }) }));
}
const ms = performance.now() - started;
keys.length = 0;
bodies.length = 0;
gc();
const after = process.memoryUsage().heapUsed;
if (store.size !== KEYS) throw new Error(`expected ${KEYS} keys held, found ${store.size}`);
console.log(JSON.stringify({ keys: KEYS, bytesPerKey: Math.round((after - before) / KEYS), usPerPublish: Number(((ms * 1000) / KEYS).toFixed(2)) }));
process.exit(0);
