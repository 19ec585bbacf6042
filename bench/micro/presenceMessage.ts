// What a presence join's round trip costs to carry across threads (docs/benchmarks.md, "Session 15"): 32 joins a
// worker queued in a row (AWAITED_CHUNK, what its outbox sends at once in presence churn) as an object per join
// in a `batch` (before session 15) against one `presence-changes` of columns, and the primary's 32 answers the
// same two ways. Prints µs per join for postMessage on the sending thread and for taking the messages off the
// port on a worker thread, medians of 5 rounds. Not a test; it sizes one cost.
//   node --import tsx bench/micro/presenceMessage.ts
import type { PresenceJoin, PresenceJoined } from '../../src/ipc/messages.ts';
import { AWAITED_CHUNK } from '../../src/ipc/outbox.ts';
import { appendPresenceAnswer, appendPresenceChange, emptyPresenceAnswers, emptyPresenceChanges } from '../../src/ipc/presenceColumns.ts';
import { PresenceRegistry } from '../../src/channels/presence.ts';
import { printPortCosts } from './portCost.ts';

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
    const join: PresenceJoin = { type: 'presence-join', requestId: i, worker: 0, app: 0, channel: `presence-churn-${i}`, socketId: `${1000 + i}.${2000 + i}`, protocol: 1, userId: `u${i}`, userInfo: undefined };
    const result = registry.join('app-id', join.channel, join.userId, join.userInfo, join.socketId, join.protocol, Number.POSITIVE_INFINITY);
    if (!result.ok) throw new Error('the registry refused a join');
    const answer: PresenceJoined = { type: 'presence-joined', requestId: i, ok: true, dataJson: JSON.stringify(PresenceRegistry.snapshot(result.members)) };
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

const variants = [
  { label: `${AWAITED_CHUNK} joins (worker → primary): an object per join in a \`batch\` (before)`, messages: joinObjects, perMessage: AWAITED_CHUNK },
  { label: `${AWAITED_CHUNK} joins (worker → primary): one \`presence-changes\` of columns`, messages: joinColumns, perMessage: AWAITED_CHUNK },
  { label: `${AWAITED_CHUNK} answers (primary → worker): an object per answer in a \`batch\` (before)`, messages: answerObjects, perMessage: AWAITED_CHUNK },
  { label: `${AWAITED_CHUNK} answers (primary → worker): the answer columns of a \`frames\` message`, messages: answerColumns, perMessage: AWAITED_CHUNK },
];
await printPortCosts(variants, ROUNDS, 'join');
