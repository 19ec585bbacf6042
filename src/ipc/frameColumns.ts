// Builds and reads the primary's `frames` message (ipc/messages.ts FrameColumns): the frames the primary hands
// one worker in a row (other workers' HTTP publishes, client events, presence changes, Redis deliveries) go as
// one message of columns. An object per frame, with a second object for its V2 fields, is what the structured
// clone charges for on both threads (docs/benchmarks.md, "Session 15"). The answers to the worker's presence
// joins ride in the same message, in their place among the hand-overs (answersBefore), so that a presence
// room's alternating answers and member frames do not make a message each ("Session 18").
import { NO_MESSAGE_ID, NO_SERIAL, v2Meta } from '../v2/meta.ts';
import type { FrameColumns, PresenceJoined, TopicFrame, V2Meta } from './messages.ts';
import { emptyPresenceAnswers, presenceAnswerAt } from './presenceColumns.ts';

/** `kinds`: what frame `k` is; the V2 columns hold its fields unless it is FRAME_V1. */
export const FRAME_V1 = 0;
/** `topics[k]` and `frames[k]` are V2's (TopicFrame.v2). */
export const FRAME_V2 = 1;
/** A V1 frame whose V2 message derives from it (TopicFrame.alsoV2). */
export const FRAME_V1_ALSO_V2 = 2;

export function emptyFrameColumns(): FrameColumns {
  return {
    type: 'frames',
    at: [],
    through: [],
    counts: [],
    answersBefore: [],
    answers: emptyPresenceAnswers(),
    apps: [],
    topics: [],
    frames: [],
    excludes: [],
    cacheTtlMs: [],
    kinds: [],
    channels: [],
    events: [],
    messageIds: [],
    streamIds: [],
    serials: [],
    ephemeral: [],
    publishedAt: [],
    tags: [],
    extras: [],
    userIds: [],
  };
}

/** Adds one hand-over: `frames`, handed over at `at` (epoch ms) with the watermark `through`. */
export function appendFrames(m: FrameColumns, frames: readonly TopicFrame[], at: number, through: number): void {
  m.at.push(at);
  m.through.push(through);
  m.counts.push(frames.length);
  m.answersBefore.push(m.answers.requestIds.length);
  for (const f of frames) {
    m.apps.push(f.app);
    m.topics.push(f.topic);
    m.frames.push(f.frame);
    m.excludes.push(f.exclude ?? '');
    m.cacheTtlMs.push(f.cacheTtlMs ?? 0);
    const meta = f.v2 ?? f.alsoV2;
    if (!meta) {
      m.kinds.push(FRAME_V1);
      // Placeholders keep the columns aligned; '' and 0 cost the clone almost nothing.
      m.channels.push('');
      m.events.push('');
      m.messageIds.push('');
      m.streamIds.push('');
      m.serials.push(NO_SERIAL);
      m.ephemeral.push(false);
      m.publishedAt.push(0);
      m.tags.push(undefined);
      m.extras.push(undefined);
      m.userIds.push(undefined);
      continue;
    }
    m.kinds.push(f.v2 ? FRAME_V2 : FRAME_V1_ALSO_V2);
    m.channels.push(meta.channel);
    m.events.push(meta.event);
    m.messageIds.push(meta.messageId ?? NO_MESSAGE_ID);
    const positioned = meta.streamId !== undefined && meta.serial !== undefined;
    m.streamIds.push(positioned ? (meta.streamId as string) : '');
    m.serials.push(positioned ? (meta.serial as number) : NO_SERIAL);
    m.ephemeral.push(meta.ephemeral);
    m.publishedAt.push(meta.publishedAt);
    m.tags.push(meta.tags);
    m.extras.push(meta.extras);
    m.userIds.push(meta.userId);
  }
}

/** The V2 fields of frame `k`, as the primary built them (not for a FRAME_V1 frame). */
export function metaAt(m: FrameColumns, k: number): V2Meta {
  const serial = m.serials[k];
  const positioned = serial !== NO_SERIAL;
  return v2Meta(
    m.channels[k],
    m.events[k],
    m.messageIds[k],
    m.ephemeral[k],
    m.publishedAt[k],
    positioned ? m.streamIds[k] : undefined,
    positioned ? serial : undefined,
    m.tags[k],
    m.extras[k],
    m.userIds[k],
  );
}

/**
 * Goes through `m` in the order the primary queued it: `handOver` for every hand-over (with its first frame and
 * its number of frames), `answer` for every presence answer between them.
 */
export function forEachInOrder(m: FrameColumns, handOver: (i: number, first: number, count: number) => void, answer: (a: PresenceJoined) => void): void {
  let k = 0;
  for (let i = 0, first = 0; i < m.counts.length; i++) {
    for (; k < m.answersBefore[i]; k++) answer(presenceAnswerAt(m.answers, k));
    handOver(i, first, m.counts[i]);
    first += m.counts[i];
  }
  for (; k < m.answers.requestIds.length; k++) answer(presenceAnswerAt(m.answers, k));
}
