// Builds the primary's `publishes-taken` answers (ipc/messages.ts PublishesTaken): the answers queued for one
// worker in a row go as one message of columns, which the worker takes off its port for about a quarter of
// what an object per publish cost it (docs/benchmarks.md, "Session 14").
import type { OwnPublishPositions, PublishesTaken } from './messages.ts';

export function emptyPublishesTaken(): PublishesTaken {
  return { type: 'publishes-taken', seqs: [], counts: [], publishedAt: [], at: [], through: [], messageIds: [], streamIds: [], serials: [] };
}

/** Adds the answer for the publish stamped `seq`; `positions` undefined: it did not validate on the primary. */
export function appendTaken(m: PublishesTaken, seq: number, at: number, through: number, positions: OwnPublishPositions | undefined): void {
  m.seqs.push(seq);
  m.at.push(at);
  m.through.push(through);
  if (!positions) {
    m.counts.push(-1);
    m.publishedAt.push(0);
    return;
  }
  m.counts.push(positions.serials.length);
  m.publishedAt.push(positions.publishedAt);
  for (let k = 0; k < positions.serials.length; k++) {
    m.messageIds.push(positions.messageIds[k]);
    m.streamIds.push(positions.streamIds[k]);
    m.serials.push(positions.serials[k]);
  }
}

/** Calls `each` for every publish of `m` in stamp order, with where its messages start in the per-message columns. */
export function forEachTaken(m: PublishesTaken, each: (i: number, first: number) => void): void {
  for (let i = 0, first = 0; i < m.seqs.length; i++) {
    each(i, first);
    if (m.counts[i] > 0) first += m.counts[i];
  }
}
