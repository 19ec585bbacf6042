// Shared by the micro-benchmarks of cross-thread messages (publishMessage.ts, presenceMessage.ts): what a list of
// messages costs to post on this thread and to take off the port on a worker thread (the structured clone's two
// halves), in alternating rounds, printed as a markdown table of medians.
import { MessageChannel, Worker } from 'node:worker_threads';

export interface PortCostVariant {
  label: string;
  messages: unknown[];
  /** Units (publishes, joins) each message carries: the table is per unit. */
  perMessage: number;
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

/** µs per message to post all of `messages`, and to take them off the port. */
async function round(messages: unknown[]): Promise<{ post: number; receive: number }> {
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

/** Runs every variant once per round, `rounds` times, and prints the medians in µs per `unit`. */
export async function printPortCosts(variants: readonly PortCostVariant[], rounds: number, unit: string): Promise<void> {
  const results = variants.map(() => ({ post: [] as number[], receive: [] as number[] }));
  for (let r = 0; r < rounds; r++) {
    for (const [i, v] of variants.entries()) {
      const { post, receive } = await round(v.messages);
      results[i].post.push(post / v.perMessage);
      results[i].receive.push(receive / v.perMessage);
    }
  }
  console.log(`| message | postMessage, µs per ${unit} | taken off the port, µs per ${unit} |\n|---|---|---|`);
  for (const [i, v] of variants.entries()) console.log(`| ${v.label} | ${median(results[i].post).toFixed(2)} | ${median(results[i].receive).toFixed(2)} |`);
}
