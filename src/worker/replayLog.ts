// One channel's retained V2 messages in the replay mirror (worker/replayMirror.ts), kept off the JavaScript
// heap as far as they can be: the message id and frame as UTF-8 bytes in one growing buffer, serials and
// times in typed arrays. A busy host retains the default 100 messages per channel for every channel; held as
// objects, each message was four of them (the message, its id, its frame, its boxed time), all living long
// enough to be promoted and collected in the old generation: the worker spent more on that than on anything
// else V2 (many-channels 0.86x CPU per batch without recording, docs/benchmarks.md "Session 13"). Replays,
// which are rare, rebuild the messages.
import { V2Message } from './v2Message.ts';

/** What the few messages that have them carry besides id, frame and serial (tags, extras, a client event's user). */
interface Rare {
  tags?: Record<string, string>;
  extras?: Record<string, unknown>;
  userId?: string;
}

/** A retained message rebuilt for a replay: one with a position. */
export type ReplayEntry = V2Message & { readonly serial: number };

const FIRST_CAPACITY = 4;

export class ReplayLog {
  /** The stream's newest serial. */
  serial = 0;
  /** Ring of entries: `head` is the oldest, `count` are held. */
  private head = 0;
  count = 0;
  private serials: Float64Array;
  private times: Float64Array;
  private ids: string[];
  private sources: string[];
  /** 1: the frame is the V2 frame (client events, presence); 0: the V1 frame it derives from. */
  private builtFlags: Uint8Array;
  /** Event names (consecutive messages share one string). */
  private events: string[];
  private rare: (Rare | undefined)[] | undefined;

  constructor(
    readonly channel: string,
    readonly streamId: string,
    private readonly maxSize: number,
  ) {
    const capacity = Math.min(FIRST_CAPACITY, maxSize);
    this.serials = new Float64Array(capacity);
    this.times = new Float64Array(capacity);
    this.ids = new Array<string>(capacity);
    this.sources = new Array<string>(capacity);
    this.builtFlags = new Uint8Array(capacity);
    this.events = new Array<string>(capacity);
  }

  /** Appends a message with a position, dropping the oldest past maxSize. */
  push(message: V2Message, serial: number): void {
    if (this.count === this.maxSize) this.dropOldest(1);
    if (this.count === this.serials.length) this.grow();
    const i = (this.head + this.count) % this.serials.length;
    this.ids[i] = message.messageId;
    this.sources[i] = message.source;
    this.serials[i] = serial;
    this.times[i] = message.publishedAt;
    this.builtFlags[i] = message.sourceIsV2 ? 1 : 0;
    const previous = this.events[(i + this.serials.length - 1) % this.serials.length];
    this.events[i] = previous === message.event ? previous : message.event;
    if (message.tags !== undefined || message.extras !== undefined || message.userId !== undefined) {
      this.rare ??= new Array<Rare | undefined>(this.serials.length);
      this.rare[i] = { tags: message.tags, extras: message.extras, userId: message.userId };
    } else if (this.rare) {
      this.rare[i] = undefined;
    }
    this.count++;
    this.serial = serial;
  }

  /** Drops entries published before `cutoff` (the oldest are first). */
  expire(cutoff: number): void {
    let drop = 0;
    while (drop < this.count && this.times[(this.head + drop) % this.serials.length] < cutoff) drop++;
    if (drop > 0) this.dropOldest(drop);
  }

  /** The serial of the k-th held entry, oldest first. */
  serialAt(k: number): number {
    return this.serials[(this.head + k) % this.serials.length];
  }

  /** The published time of the k-th held entry, oldest first. */
  timeAt(k: number): number {
    return this.times[(this.head + k) % this.serials.length];
  }

  /** The message id of the newest entry. */
  newestMessageId(): string | undefined {
    if (this.count === 0) return undefined;
    return this.ids[(this.head + this.count - 1) % this.serials.length];
  }

  /** Held entries k ≥ from, oldest first, rebuilt as messages. */
  entries(from = 0): ReplayEntry[] {
    const out: ReplayEntry[] = [];
    for (let k = from; k < this.count; k++) out.push(this.entry((this.head + k) % this.serials.length));
    return out;
  }

  private entry(i: number): ReplayEntry {
    const source = this.sources[i];
    const rare = this.rare?.[i];
    const meta = {
      channel: this.channel,
      event: this.events[i],
      messageId: this.ids[i],
      streamId: this.streamId,
      serial: this.serials[i],
      ephemeral: false,
      publishedAt: this.times[i],
      tags: rare?.tags,
      extras: rare?.extras,
      userId: rare?.userId,
    };
    return (this.builtFlags[i] === 1 ? V2Message.built(meta, source) : V2Message.fromV1(meta, source)) as ReplayEntry;
  }

  private dropOldest(n: number): void {
    for (let k = 0; k < n; k++) {
      const i = (this.head + k) % this.serials.length;
      this.events[i] = '';
      this.ids[i] = '';
      this.sources[i] = '';
      if (this.rare) this.rare[i] = undefined;
    }
    this.head = (this.head + n) % this.serials.length;
    this.count -= n;
    if (this.count === 0) this.head = 0;
  }

  /** Doubles the ring (up to maxSize), oldest entry first in the new arrays. */
  private grow(): void {
    const capacity = Math.min(this.serials.length * 2, this.maxSize);
    const order = (k: number) => (this.head + k) % this.serials.length;
    const serials = new Float64Array(capacity);
    const times = new Float64Array(capacity);
    const ids = new Array<string>(capacity);
    const sources = new Array<string>(capacity);
    const builtFlags = new Uint8Array(capacity);
    const events = new Array<string>(capacity);
    const rare = this.rare ? new Array<Rare | undefined>(capacity) : undefined;
    for (let k = 0; k < this.count; k++) {
      const i = order(k);
      serials[k] = this.serials[i];
      times[k] = this.times[i];
      ids[k] = this.ids[i];
      sources[k] = this.sources[i];
      builtFlags[k] = this.builtFlags[i];
      events[k] = this.events[i];
      if (rare) rare[k] = this.rare?.[i];
    }
    this.serials = serials;
    this.times = times;
    this.ids = ids;
    this.sources = sources;
    this.builtFlags = builtFlags;
    this.events = events;
    this.rare = rare;
    this.head = 0;
  }
}
