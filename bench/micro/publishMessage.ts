// What the primary's answer to one admitted publish costs to carry across threads: the many-channels request
// (a batch of 10 events to 10 channels) as the `publish` message of frames other workers get, against the
// `publish-taken` message with the message ids and positions the admitting worker builds its own frames from
// (docs/benchmarks.md, "Session 13"). Both messages come from the real Publisher. Prints µs per message for
// postMessage on the sending thread and for taking it off the port (the structured clone's deserialization)
// on a worker thread, medians of 5 rounds. Not a test; it sizes one cost for before/after comparisons.
//   node --import tsx bench/micro/publishMessage.ts
import { MessageChannel, Worker } from 'node:worker_threads';
import { loadConfig } from '../../src/config/load.ts';
import type { PublishEvent } from '../../src/http/events.ts';
import type { OwnPublishPositions, PrimaryToWorker, TopicFrame } from '../../src/ipc/messages.ts';
import { createLogger } from '../../src/log.ts';
import { Publisher, type WorkerLink } from '../../src/primary/publisher.ts';

const MESSAGES = 20_000;
const ROUNDS = 5;

const config = loadConfig({ env: {} });
const others: TopicFrame[][] = [];
const links: WorkerLink[] = [
  { index: 0, publish: () => {}, post() {} },
  { index: 1, publish: (frames) => void others.push(frames), post() {} },
];
const publisher = new Publisher(() => links, config, createLogger(config, 'micro'));
const data = JSON.stringify({ m: 'bench-many', t: 123456789, pad: 'x'.repeat(64) });
const batch = (k: number): PublishEvent[] => Array.from({ length: 10 }, (_, i) => ({ name: 'bench', channels: [`many-${(k * 10 + i) % 2000}`], data, ephemeral: false }));

const frames: PrimaryToWorker[] = [];
const positions: PrimaryToWorker[] = [];
for (let k = 0; k < MESSAGES; k++) {
  const own: OwnPublishPositions = publisher.publishAdmitted(0, config.apps[0].id, batch(k), 0);
  positions.push({ type: 'publish-taken', seq: k, positions: own, at: 0, through: k });
  frames.push({ type: 'publish', frames: others[k], at: 0, through: k });
}

// The receiving thread waits until every message is queued, then times taking them off the port.
const RECEIVER = `
const { workerData, parentPort, receiveMessageOnPort } = require('node:worker_threads');
const { port, ready } = workerData;
Atomics.wait(ready, 0, 0);
const started = performance.now();
let n = 0;
while (receiveMessageOnPort(port)) n++;
parentPort.postMessage(((performance.now() - started) * 1000) / n);
`;

async function round(messages: PrimaryToWorker[]): Promise<{ post: number; receive: number }> {
  const { port1, port2 } = new MessageChannel();
  const ready = new Int32Array(new SharedArrayBuffer(4));
  const worker = new Worker(RECEIVER, { eval: true, workerData: { port: port2, ready }, transferList: [port2] });
  await new Promise((resolve) => worker.once('online', resolve));
  const started = performance.now();
  for (const m of messages) port1.postMessage(m);
  const post = ((performance.now() - started) * 1000) / messages.length;
  Atomics.store(ready, 0, 1);
  Atomics.notify(ready, 0);
  const receive = (await new Promise((resolve) => worker.once('message', resolve))) as number;
  await worker.terminate();
  return { post, receive };
}

const median = (xs: number[]) => xs.sort((a, b) => a - b)[xs.length >> 1];
const results: Record<string, { post: number[]; receive: number[] }> = { frames: { post: [], receive: [] }, positions: { post: [], receive: [] } };
for (let r = 0; r < ROUNDS; r++) {
  for (const [name, messages] of [
    ['frames', frames],
    ['positions', positions],
  ] as const) {
    const { post, receive } = await round(messages);
    results[name].post.push(post);
    results[name].receive.push(receive);
  }
}
console.log('| message for one batch of 10 | postMessage, µs | taken off the port, µs |\n|---|---|---|');
for (const [name, r] of Object.entries(results)) console.log(`| ${name === 'frames' ? '`publish`: 10 frames with their V2 fields' : '`publish-taken`: ids and positions'} | ${median(r.post).toFixed(2)} | ${median(r.receive).toFixed(2)} |`);
