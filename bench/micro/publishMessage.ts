// What the primary's messages about HTTP publishes cost to carry across threads (docs/benchmarks.md, "Session 13",
// "Session 14" and "Session 15"), from the real Publisher:
// - the many-channels request (a batch of 10 events to 10 channels) as what the other workers get, the frames with
//   their V2 fields (an object per frame before session 15, the `frames` message of columns since), against the
//   `publishes-taken` answer with the message ids and positions the admitting worker builds its own frames from;
// - 50 single-event HTTP publishes in a row (what the primary's outbox queues for one worker under load): for the
//   admitting worker, an object with three arrays per publish in a `batch` (before session 14) against one
//   `publishes-taken` of columns; for another worker, a `publish` object per publish in a `batch` (before session
//   15) against one `frames` message of columns.
// Prints µs per publish for postMessage on the sending thread and for taking the messages off the port (the
// structured clone's deserialization) on a worker thread, medians of 5 rounds. Not a test; it sizes one cost.
//   node --import tsx bench/micro/publishMessage.ts
import { loadConfig } from '../../src/config/load.ts';
import type { PublishEvent } from '../../src/http/events.ts';
import { appendFrames, emptyFrameColumns } from '../../src/ipc/frameColumns.ts';
import type { OwnPublishPositions, TopicFrame } from '../../src/ipc/messages.ts';
import { appendTaken, emptyPublishesTaken } from '../../src/ipc/publishesTaken.ts';
import { createLogger } from '../../src/log.ts';
import { Publisher, type WorkerLink } from '../../src/primary/publisher.ts';
import { printPortCosts } from './portCost.ts';

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

const IN_A_ROW = 50;
const frames: unknown[] = [];
const frameColumns: unknown[] = [];
const positions: unknown[] = [];
for (let k = 0; k < MESSAGES; k++) {
  const own: OwnPublishPositions = publisher.publishAdmitted(0, config.apps[0].id, batch(k), 0);
  const taken = emptyPublishesTaken();
  appendTaken(taken, k, 0, k, own);
  positions.push(taken);
  // The message other workers got before session 15: an object per frame, each with an object of V2 fields.
  frames.push({ type: 'publish', frames: others[k], at: 0, through: k });
  const ownFrames = emptyFrameColumns();
  appendFrames(ownFrames, others[k], 0, k);
  frameColumns.push(ownFrames);
}
const single = (k: number): PublishEvent[] => [{ name: 'bench', channels: [`many-${k % 2000}`], data, ephemeral: false }];
const objects: unknown[] = [];
const columns: unknown[] = [];
const otherObjects: unknown[] = [];
const otherColumns: unknown[] = [];
for (let k = 0; k < MESSAGES / IN_A_ROW; k++) {
  const taken = emptyPublishesTaken();
  const messages: unknown[] = [];
  const otherMessages: unknown[] = [];
  const forOthers = emptyFrameColumns();
  for (let j = 0; j < IN_A_ROW; j++) {
    const seq = k * IN_A_ROW + j;
    const own = publisher.publishAdmitted(0, config.apps[0].id, single(seq), 0);
    messages.push({ type: 'publish-taken', seq, positions: own, at: 0, through: seq });
    appendTaken(taken, seq, 0, seq, own);
    const forOther = others[others.length - 1];
    otherMessages.push({ type: 'publish', frames: forOther, at: 0, through: seq });
    appendFrames(forOthers, forOther, 0, seq);
  }
  objects.push({ type: 'batch', messages });
  columns.push(taken);
  otherObjects.push({ type: 'batch', messages: otherMessages });
  otherColumns.push(forOthers);
}

const variants = [
  { label: 'one batch of 10, other workers: `publish`, 10 frame objects with their V2 fields (before)', messages: frames, perMessage: 1 },
  { label: 'one batch of 10, other workers: one `frames` of columns', messages: frameColumns, perMessage: 1 },
  { label: 'one batch of 10, admitting worker: `publishes-taken`, ids and positions', messages: positions, perMessage: 1 },
  { label: `${IN_A_ROW} single-event publishes, admitting worker: an object per publish in a \`batch\` (before)`, messages: objects, perMessage: IN_A_ROW },
  { label: `${IN_A_ROW} single-event publishes, admitting worker: one \`publishes-taken\` of columns`, messages: columns, perMessage: IN_A_ROW },
  { label: `${IN_A_ROW} single-event publishes, other workers: a \`publish\` object per publish in a \`batch\` (before)`, messages: otherObjects, perMessage: IN_A_ROW },
  { label: `${IN_A_ROW} single-event publishes, other workers: one \`frames\` of columns`, messages: otherColumns, perMessage: IN_A_ROW },
];
await printPortCosts(variants, ROUNDS, 'publish');
