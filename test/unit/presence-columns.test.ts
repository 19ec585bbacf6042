// The presence messages between a worker and the primary (ipc/presenceColumns.ts): a worker's joins and leaves
// queued in a row, and the primary's answers, travel as columns and come back as the same changes, in order.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { PresenceJoin, PresenceJoined, PresenceLeave } from '../../src/ipc/messages.ts';
import { appendPresenceAnswer, appendPresenceChange, emptyPresenceAnswers, emptyPresenceChanges, forEachPresenceChange, presenceAnswerAt } from '../../src/ipc/presenceColumns.ts';

describe('presence messages as columns', () => {
  test('joins and leaves come back in the order the worker made them, user info included', () => {
    const changes: (PresenceJoin | PresenceLeave)[] = [
      { type: 'presence-join', requestId: 1, worker: 3, app: 0, channel: 'presence-a', socketId: '1.1', protocol: 1, userId: 'u1', userInfo: { name: 'Ann', tags: ['x'] } },
      { type: 'presence-leave', app: 0, channel: 'presence-a', socketId: '1.1', userId: 'u1', leaseMs: 0 },
      // A dropped socket's leave, which the primary holds for the presence lease.
      { type: 'presence-leave', app: 1, channel: 'presence-c', socketId: '1.3', userId: 'u3', leaseMs: 15_000 },
      { type: 'presence-join', requestId: 2, worker: 3, app: 1, channel: 'presence-b', socketId: '1.2', protocol: 2, userId: 'u2', userInfo: undefined },
      // The same socket joining again right after leaving: order is what keeps the membership right.
      { type: 'presence-join', requestId: 3, worker: 3, app: 0, channel: 'presence-a', socketId: '1.1', protocol: 1, userId: 'u1', userInfo: null },
    ];
    const m = emptyPresenceChanges(3);
    for (const c of changes) appendPresenceChange(m, c);
    const seen: (PresenceJoin | PresenceLeave)[] = [];
    forEachPresenceChange(structuredClone(m), (c) => seen.push(c));
    assert.deepEqual(seen, changes);
  });

  test('answers come back accepted with their data, or refused with the reason', () => {
    const answers: PresenceJoined[] = [
      { type: 'presence-joined', requestId: 7, ok: true, dataJson: JSON.stringify('{"presence":{"ids":["u1"],"hash":{"u1":null},"count":1}}') },
      { type: 'presence-joined', requestId: 8, ok: false, reason: 'full' },
      { type: 'presence-joined', requestId: 9, ok: false, reason: 'unavailable' },
      { type: 'presence-joined', requestId: 10, ok: true, dataJson: '""' },
    ];
    const m = emptyPresenceAnswers();
    for (const a of answers) appendPresenceAnswer(m, a);
    const wire = structuredClone(m);
    assert.deepEqual(
      answers.map((_, k) => presenceAnswerAt(wire, k)),
      answers,
    );
  });

  test('an empty message visits nothing', () => {
    let visits = 0;
    forEachPresenceChange(emptyPresenceChanges(0), () => visits++);
    assert.equal(visits, 0);
  });
});
