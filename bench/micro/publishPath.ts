// Microbenchmark of the primary's publish path on its own: Publisher.publish() for one batch of 10 events to
// 10 channels (the many-channels scenario's request), building the V1 frames with their V2 fields and, unless
// --no-clone, the `frames` message of columns and the structured clone that carry them to a worker. Prints µs per
// batch (min and median of 8 rounds).
// Not a test and not a server benchmark: it isolates one cost for before/after comparisons (docs/benchmarks.md).
//   node --import tsx bench/micro/publishPath.ts [--no-clone]
import { parseArgs } from 'node:util';
import { MessageChannel } from 'node:worker_threads';
import { loadConfig } from '../../src/config/load.ts';
import type { PublishEvent } from '../../src/http/events.ts';
import { appendFrames, emptyFrameColumns } from '../../src/ipc/frameColumns.ts';
import type { PrimaryToWorker, TopicFrame } from '../../src/ipc/messages.ts';
import { createLogger } from '../../src/log.ts';
import { Publisher, type WorkerLink } from '../../src/primary/publisher.ts';

const { values } = parseArgs({ options: { 'no-clone': { type: 'boolean', default: false } } });
const clone = !values['no-clone'];
const BATCHES = 20_000;
const ROUNDS = 8;

const config = loadConfig({ env: {} });
const { port1, port2 } = new MessageChannel();
let received = 0;
port2.on('message', () => received++);
const link: WorkerLink = {
  index: 0,
  publish(frames: TopicFrame[]) {
    if (!clone) return;
    const m = emptyFrameColumns();
    appendFrames(m, frames, 0, 0);
    port1.postMessage(m satisfies PrimaryToWorker);
  },
  post() {},
};
const publisher = new Publisher(() => [link], config, createLogger(config, 'micro'));
const data = JSON.stringify({ m: 'bench-many', t: 123456789, pad: 'x'.repeat(64) });
const batch: PublishEvent[] = Array.from({ length: 10 }, (_, i) => ({ name: 'bench', channels: [`many-${i * 37}`], data, ephemeral: false }));

const perBatch: number[] = [];
for (let r = 0; r < ROUNDS; r++) {
  const start = performance.now();
  for (let i = 0; i < BATCHES; i++) await publisher.publish(0, config.apps[0].id, batch);
  perBatch.push(((performance.now() - start) * 1000) / BATCHES);
  // Let the receiving end take this round's messages before the next round is timed.
  while (clone && received < (r + 1) * BATCHES) await new Promise((resolve) => setImmediate(resolve));
}
perBatch.sort((a, b) => a - b);
console.log(`publish path${clone ? ' + clone' : ''}: min ${perBatch[0].toFixed(1)} µs, median ${perBatch[ROUNDS >> 1].toFixed(1)} µs per batch of 10 events`);
process.exit(0);
