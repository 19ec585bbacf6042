// What a presence join's round trip costs to carry across threads (docs/benchmarks.md, "Session 15"): 32 joins a
// worker queued in a row (AWAITED_CHUNK, what its outbox sends at once in presence churn) as an object per join
// in a `batch` (before session 15) against one `presence-changes` of columns, and the primary's 32 answers the
// same two ways. Prints µs per join for postMessage on the sending thread and for taking the messages off the
// port on a worker thread, medians of 5 rounds. Not a test; it sizes one cost.
//   node --import tsx bench/micro/presenceMessage.ts
import { MessageChannel, Worker } from 'node:worker_threads';
import type { PresenceJoin, PresenceJoined } from '../../src/ipc/messages.ts';
import { AWAITED_CHUNK } from '../../src/ipc/outbox.ts';
import { appendPresenceAnswer, appendPresenceChange, emptyPresenceAnswers, emptyPresenceChanges } from '../../src/ipc/presenceColumns.ts';
import { PresenceRegistry } from '../../src/channels/presence.ts';

const JOINS = 20_000;
const ROUNDS = 5;

const joinObjects: unknown[] = [];
const joinColumns: unknown[] = [];
const answerObjects: unknown[] = [];
const answerColumns: unknown[] = [];
const registry = new PresenceRegistry();
for (let k = 0; k < JOINS / AWAITED_CHUNK; k++) {
  const joins: PresenceJoin[] = [];
  const answers: PresenceJoined[] = [];
  const changes = emptyPresenceChanges(0);
  const answered = emptyPresenceAnswers();
  for (let j = 0; j < AWAITED_CHUNK; j++) {
    const i = k * AWAITED_CHUNK + j;
    // As the churn benchmark's sockets: a channel and a user of their own.
    const join: PresenceJoin = { type: 'presence-join', requestId: i, worker: 0, app: 0, channel: `presence-churn-${i}`, socketId: `${1000 + i}.${2000 + i}`, userId: `u${i}`, userInfo: undefined };
    const result = registry.join('app-id', join.channel, join.userId, join.userInfo, join.socketId, Number.POSITIVE_INFINITY);
    if (!result.ok) throw new Error('the registry refused a join');
    const answer: PresenceJoined = { type: 'presence-joined', requestId: i, ok: true, data: PresenceRegistry.snapshot(result.members) };
    joins.push(join);
    answers.push(answer);
    appendPresenceChange(changes, join);
    appendPresenceAnswer(answered, answer);
  }
  joinObjects.push({ type: 'batch', messages: joins });
  joinColumns.push(changes);
  answerObjects.push({ type: 'batch', messages: answers });
  answerColumns.push(answered);
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
const variants = [
  { label: `${AWAITED_CHUNK} joins (worker → primary): an object per join in a \`batch\` (before)`, messages: joinObjects },
  { label: `${AWAITED_CHUNK} joins (worker → primary): one \`presence-changes\` of columns`, messages: joinColumns },
  { label: `${AWAITED_CHUNK} answers (primary → worker): an object per answer in a \`batch\` (before)`, messages: answerObjects },
  { label: `${AWAITED_CHUNK} answers (primary → worker): one \`presence-answers\` of columns`, messages: answerColumns },
];
const results = variants.map(() => ({ post: [] as number[], receive: [] as number[] }));
for (let r = 0; r < ROUNDS; r++) {
  for (const [i, v] of variants.entries()) {
    const { post, receive } = await round(v.messages);
    results[i].post.push(post / AWAITED_CHUNK);
    results[i].receive.push(receive / AWAITED_CHUNK);
  }
}
console.log('| message | postMessage, µs per join | taken off the port, µs per join |\n|---|---|---|');
for (const [i, v] of variants.entries()) console.log(`| ${v.label} | ${median(results[i].post).toFixed(2)} | ${median(results[i].receive).toFixed(2)} |`);
