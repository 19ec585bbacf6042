// Microbenchmark of what the V2 replay mirror retains: records 1,000,000 HTTP-published messages (64-byte
// payloads, positions as the primary assigns them, metadata through a structured clone as a worker receives
// it) on 2,000 channels with the default buffer of 100, then prints the heap kept per retained message after
// a full collection. Not a test and not a server benchmark (docs/benchmarks.md, session 6).
//   node --expose-gc --import tsx bench/micro/replayHeap.ts
import { randomUUID } from 'node:crypto';
import type { V2Meta } from '../../src/ipc/messages.ts';
import { channelEvent } from '../../src/protocol/frames.ts';
import { ReplayMirror } from '../../src/worker/replayMirror.ts';
import { V2Message } from '../../src/worker/v2Message.ts';

const CHANNELS = 2000;
const KEPT = 100;
const MESSAGES = 1_000_000;

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');
gc();
const before = process.memoryUsage().heapUsed;
const mirror = new ReplayMirror(KEPT, 120_000);
const streams = Array.from({ length: CHANNELS }, () => ({ streamId: randomUUID(), serial: 0 }));
const started = performance.now();
for (let i = 0; i < MESSAGES; i++) {
  const c = i % CHANNELS;
  const channel = `many-${c}`;
  const stream = streams[c];
  const meta: V2Meta = { channel, event: 'bench', messageId: randomUUID(), streamId: stream.streamId, serial: ++stream.serial, ephemeral: false, publishedAt: Date.now() };
  const frame = channelEvent('bench', channel, `${'x'.repeat(58)}${String(i).padStart(6, '0')}`);
  // What a worker gets out of the publish message: its own copies of every string.
  const received = structuredClone({ meta, frame });
  mirror.record('app', V2Message.fromV1(received.meta, received.frame));
}
const seconds = (performance.now() - started) / 1000;
gc();
const retained = CHANNELS * KEPT;
const perMessage = (process.memoryUsage().heapUsed - before) / retained;
console.log(JSON.stringify({ retainedMessages: retained, heapBytesPerMessage: Math.round(perMessage), recordsPerSec: Math.round(MESSAGES / seconds), keptChannels: mirror.position('app', 'many-0', Date.now()) ? CHANNELS : 0 }));
