// A worker's copy of each channel's recent V2 messages (the hot replay buffer): every worker receives
// every publish, so any worker can serve a resume or a rewind on its own, synchronously, which is what
// makes replay-then-live free of gaps and duplicates (no live message can interleave).
//
// A channel keeps its messages as columns (the frame, the message id, the serial, the time, the event name),
// not as an object per message: with the default buffer a busy host keeps 100 messages per channel, and every
// object kept is one more for the garbage collector to walk and about 120 bytes more to hold. A replay, which
// is rare, builds the V2Message of each entry it returns. Recording takes the fields, so a worker with no V2
// socket for the app records an HTTP publish without building any object for it (channelDelivery.ts).
import { AppChannelMap } from '../channels/appChannelMap.ts';
import { NO_MESSAGE_ID, v2Meta } from '../v2/meta.ts';
import { V2Message } from './v2Message.ts';

/** A recorded message: one with a position (stream_id and serial). */
export type ReplayEntry = V2Message & { readonly serial: number };

/** What few messages carry (HTTP publishes with tags or extras, client events): kept beside the columns. */
interface RareFields {
  tags?: Record<string, string>;
  extras?: Record<string, unknown>;
  userId?: string;
  /** The kept frame is the V2 frame (a message that came with one), not the V1 frame it derives from. */
  v2Frame?: true;
}

interface ChannelReplay {
  channel: string;
  streamId: string;
  /** The serial before the first entry ever kept: 0 for a new stream, or where an opened stream already was. */
  baseSerial: number;
  /** When the stream was opened here: a stream opened by a subscription (no message yet) lasts the window from then. */
  openedAt: number;
  /** The event name of the last message: consecutive messages often share it, and then share the string. */
  event: string;
  // One column per field, oldest first, all the same length:
  frames: string[];
  messageIds: string[];
  serials: number[];
  publishedAt: number[];
  events: string[];
  /** Per entry; undefined until an entry of the channel has any (most channels never do). */
  rare: (RareFields | undefined)[] | undefined;
}

export type SinceResult =
  | { ok: true; entries: ReplayEntry[]; streamId: string; serial: number; lastMessageId?: string }
  | { ok: false; code: 'stream_reset' | 'position_expired'; reason: string; currentStreamId?: string };

/** Sockudo's reason when the hot buffer cannot serve a position and durable history is off (it is not built here). */
const EXPIRED_NO_HISTORY = 'hot_replay_expired_and_durable_history_disabled';

export class ReplayMirror {
  private readonly channels = new AppChannelMap<string, ChannelReplay>();

  constructor(
    private readonly maxSize: number,
    private readonly ttlMs: number,
  ) {}

  record(appId: string, message: V2Message): void {
    if (message.streamId === undefined || message.serial === undefined) return;
    const rare = rareFields(message.tags, message.extras, message.userId, message.hasV2Source);
    this.recordFields(appId, message.channel, message.event, message.source, message.messageId ?? NO_MESSAGE_ID, message.streamId, message.serial, message.publishedAt, rare);
  }

  /**
   * An HTTP publish's message, known by its V1 frame and the primary's id and position, kept without building a
   * V2Message (a worker with no V2 socket for the app has nobody to deliver one to).
   */
  recordV1(appId: string, channel: string, event: string, v1Frame: string, messageId: string, streamId: string, serial: number, publishedAt: number, tags: Record<string, string> | undefined, extras: Record<string, unknown> | undefined): void {
    this.recordFields(appId, channel, event, v1Frame, messageId, streamId, serial, publishedAt, rareFields(tags, extras, undefined, false));
  }

  private recordFields(appId: string, channel: string, event: string, frame: string, messageId: string, streamId: string, serial: number, publishedAt: number, rare: RareFields | undefined): void {
    let r = this.channels.get(appId, channel);
    if (!r || r.streamId !== streamId) {
      r = emptyReplay(channel, streamId, serial - 1, publishedAt);
      r.event = event;
      this.channels.set(appId, channel, r);
    }
    if (event !== r.event) r.event = event;
    r.frames.push(frame);
    r.messageIds.push(messageId);
    r.serials.push(serial);
    r.publishedAt.push(publishedAt);
    r.events.push(r.event);
    if (rare !== undefined) {
      r.rare ??= new Array<RareFields | undefined>(r.frames.length - 1).fill(undefined);
      r.rare.push(rare);
    } else r.rare?.push(undefined);
    // Trim in chunks: one splice per maxSize/4 messages instead of a shift for every message.
    if (r.frames.length > this.maxSize + Math.max(1, this.maxSize >> 2)) dropOldest(r, r.frames.length - this.maxSize);
  }

  /**
   * Starts the channel's stream at (streamId, serial) with nothing in it yet, unless a stream with messages is kept
   * (then that one stands). A V2 subscription to a quiet channel opens one, so that its subscription_succeeded
   * carries a position to resume from; the primary then makes every worker open the one it adopted.
   */
  open(appId: string, channel: string, streamId: string, serial: number, now: number): { streamId: string; serial: number } {
    const r = this.live(appId, channel, now);
    if (r && r.frames.length > 0) return { streamId: r.streamId, serial: newest(r) };
    this.channels.set(appId, channel, emptyReplay(channel, streamId, serial, now));
    return { streamId, serial };
  }

  /** The channel's current position, for subscription_succeeded; undefined when no stream is kept. */
  position(appId: string, channel: string, now: number): { streamId: string; serial: number } | undefined {
    const r = this.live(appId, channel, now);
    return r && { streamId: r.streamId, serial: newest(r) };
  }

  /** Messages after `serial` on `streamId`, or why they cannot be had. */
  since(appId: string, channel: string, streamId: string, serial: number, now: number): SinceResult {
    // What the hot buffer cannot serve (no buffer, expired, ahead of the stream, a gap) falls through, as in Sockudo,
    // to durable history, which this server does not keep: position_expired, with no stream or serials to name.
    const expired: SinceResult = { ok: false, code: 'position_expired', reason: EXPIRED_NO_HISTORY };
    const r = this.live(appId, channel, now);
    if (!r) return expired;
    const first = this.firstKept(r);
    const newestSerial = newest(r);
    if (r.streamId !== streamId) return { ok: false, code: 'stream_reset', reason: 'stream_id_mismatch', currentStreamId: r.streamId };
    if (serial > newestSerial) return expired;
    const missed: number[] = [];
    for (let i = first; i < r.serials.length; i++) if (r.serials[i] > serial) missed.push(i);
    if (missed.length !== newestSerial - serial) return expired;
    return { ok: true, entries: entriesAt(r, missed), streamId: r.streamId, serial: newestSerial, lastMessageId: r.messageIds.at(-1) || undefined };
  }

  /** The last `count` messages, or those of the last `seconds`, oldest first. */
  recent(appId: string, channel: string, want: { count?: number; seconds?: number }, now: number): ReplayEntry[] {
    const r = this.live(appId, channel, now);
    if (!r) return [];
    const first = this.firstKept(r);
    const picked: number[] = [];
    if (want.seconds !== undefined) {
      const ms = want.seconds * 1000;
      for (let i = first; i < r.frames.length; i++) if (now - r.publishedAt[i] <= ms) picked.push(i);
    } else {
      const from = want.count ? Math.max(first, r.frames.length - want.count) : first;
      for (let i = from; i < r.frames.length; i++) picked.push(i);
    }
    return entriesAt(r, picked);
  }

  /** The serial of the oldest message kept for the channel (undefined: none). */
  oldestSerial(appId: string, channel: string, now: number): number | undefined {
    const r = this.live(appId, channel, now);
    return r && r.serials.length > 0 ? r.serials[this.firstKept(r)] : undefined;
  }

  /** Where the retained window starts: the last max_buffer_size messages (the columns may briefly hold a few more). */
  private firstKept(r: ChannelReplay): number {
    return Math.max(0, r.frames.length - this.maxSize);
  }

  /** Drops expired entries everywhere (called periodically). */
  sweep(now: number): void {
    for (const [appId, channel] of this.channels.entries()) this.live(appId, channel, now);
  }

  private live(appId: string, channel: string, now: number): ChannelReplay | undefined {
    const r = this.channels.get(appId, channel);
    if (!r) return undefined;
    const cutoff = now - this.ttlMs;
    let drop = 0;
    while (drop < r.publishedAt.length && r.publishedAt[drop] < cutoff) drop++;
    if (drop > 0) dropOldest(r, drop);
    if (r.frames.length === 0 && (drop > 0 || now - r.openedAt > this.ttlMs)) {
      // Nothing left to replay: forget the stream (the primary forgets it after the same idle time).
      this.channels.delete(appId, channel);
      return undefined;
    }
    return r;
  }
}

/** The fields kept beside the columns; undefined when the message has none (most do not). */
function rareFields(tags: Record<string, string> | undefined, extras: Record<string, unknown> | undefined, userId: string | undefined, v2Frame: boolean): RareFields | undefined {
  if (!tags && !extras && userId === undefined && !v2Frame) return undefined;
  const rare: RareFields = {};
  if (tags) rare.tags = tags;
  if (extras) rare.extras = extras;
  if (userId !== undefined) rare.userId = userId;
  if (v2Frame) rare.v2Frame = true;
  return rare;
}

/** The newest serial kept; for a stream opened with no message yet, the serial it was opened at. */
function newest(r: ChannelReplay): number {
  return r.serials.length > 0 ? r.serials[r.serials.length - 1] : r.baseSerial;
}

function emptyReplay(channel: string, streamId: string, baseSerial: number, openedAt: number): ChannelReplay {
  return { channel, streamId, baseSerial, openedAt, event: '', frames: [], messageIds: [], serials: [], publishedAt: [], events: [], rare: undefined };
}

function dropOldest(r: ChannelReplay, n: number): void {
  r.frames.splice(0, n);
  r.messageIds.splice(0, n);
  r.serials.splice(0, n);
  r.publishedAt.splice(0, n);
  r.events.splice(0, n);
  r.rare?.splice(0, n);
}

/** The entries at `indexes`, as the messages a replay sends. */
function entriesAt(r: ChannelReplay, indexes: readonly number[]): ReplayEntry[] {
  const entries: ReplayEntry[] = [];
  for (const i of indexes) {
    const rare = r.rare?.[i];
    const meta = v2Meta(r.channel, r.events[i], r.messageIds[i], false, r.publishedAt[i], r.streamId, r.serials[i], rare?.tags, rare?.extras, rare?.userId);
    entries.push((rare?.v2Frame ? V2Message.built(meta, r.frames[i]) : V2Message.fromV1(meta, r.frames[i])) as ReplayEntry);
  }
  return entries;
}
