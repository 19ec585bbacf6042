// Builds and reads the presence messages between a worker and the primary (ipc/messages.ts PresenceChanges and
// PresenceAnswers): the joins and leaves one worker queues in a row go as one message of columns, and the
// primary's answers as columns inside its `frames` message (ipc/frameColumns.ts), in order with the frames. In
// presence churn the worker is the saturated thread, and an object per join and per answer cost it about twice
// as much to post and to take off its port (docs/benchmarks.md, "Session 15").
import type { ProtocolVersion } from '../protocol/frames.ts';
import type { PresenceAnswers, PresenceChanges, PresenceJoin, PresenceJoined, PresenceLeave } from './messages.ts';

export function emptyPresenceChanges(worker: number): PresenceChanges {
  return { type: 'presence-changes', worker, joins: [], requestIds: [], apps: [], channels: [], socketIds: [], protocols: [], userIds: [], userInfos: [], leaseMs: [] };
}

export function appendPresenceChange(m: PresenceChanges, c: PresenceJoin | PresenceLeave): void {
  const join = c.type === 'presence-join';
  m.joins.push(join);
  m.requestIds.push(join ? c.requestId : -1);
  m.apps.push(c.app);
  m.channels.push(c.channel);
  m.socketIds.push(c.socketId);
  m.protocols.push(join ? c.protocol : 0);
  m.userIds.push(c.userId);
  m.userInfos.push(join ? c.userInfo : undefined);
  m.leaseMs.push(join ? 0 : (c.leaseMs ?? 0));
}

/** Calls `each` with every change of `m`, in the order the worker made them. */
export function forEachPresenceChange(m: PresenceChanges, each: (c: PresenceJoin | PresenceLeave) => void): void {
  for (let k = 0; k < m.joins.length; k++) {
    const app = m.apps[k];
    const channel = m.channels[k];
    const socketId = m.socketIds[k];
    const userId = m.userIds[k];
    each(
      m.joins[k]
        ? { type: 'presence-join', requestId: m.requestIds[k], worker: m.worker, app, channel, socketId, protocol: m.protocols[k] as ProtocolVersion, userId, userInfo: m.userInfos[k] }
        : { type: 'presence-leave', app, channel, socketId, userId, leaseMs: m.leaseMs[k] },
    );
  }
}

export function emptyPresenceAnswers(): PresenceAnswers {
  return { requestIds: [], dataJson: [], refusals: [] };
}

export function appendPresenceAnswer(m: PresenceAnswers, a: PresenceJoined): void {
  m.requestIds.push(a.requestId);
  m.dataJson.push(a.ok ? a.dataJson : '');
  m.refusals.push(a.ok ? '' : a.reason);
}

/** Answer `k` of `m`. */
export function presenceAnswerAt(m: PresenceAnswers, k: number): PresenceJoined {
  const refusal = m.refusals[k];
  return refusal === '' ? { type: 'presence-joined', requestId: m.requestIds[k], ok: true, dataJson: m.dataJson[k] } : { type: 'presence-joined', requestId: m.requestIds[k], ok: false, reason: refusal };
}
