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
  /** Where each entry's id starts in `bytes`, the id's and the frame's byte lengths (the frame follows the id). */
  private offsets: Int32Array;
  private idLengths: Int32Array;
  private frameLengths: Int32Array;
  /** 1: the frame is the V2 frame (client events, presence); 0: the V1 frame it derives from. */
  private builtFlags: Uint8Array;
  /** Event names (consecutive messages share one string). */
  private events: string[];
  private rare: (Rare | undefined)[] | undefined;
  /** Live bytes are [offsets[head], end): entries are appended at `end` and dropped from the front. */
  private bytes = Buffer.alloc(0);
  private end = 0;

  constructor(
    readonly channel: string,
    readonly streamId: string,
    private readonly maxSize: number,
  ) {
    const capacity = Math.min(FIRST_CAPACITY, maxSize);
    this.serials = new Float64Array(capacity);
    this.times = new Float64Array(capacity);
    this.offsets = new Int32Array(capacity);
    this.idLengths = new Int32Array(capacity);
    this.frameLengths = new Int32Array(capacity);
    this.builtFlags = new Uint8Array(capacity);
    this.events = new Array<string>(capacity);
  }

  /** Appends a message with a position, dropping the oldest past maxSize. */
  push(message: V2Message, serial: number): void {
    if (this.count === this.maxSize) this.dropOldest(1);
    if (this.count === this.serials.length) this.grow();
    const i = (this.head + this.count) % this.serials.length;
    const source = message.source;
    const idLength = Buffer.byteLength(message.messageId);
    const frameLength = Buffer.byteLength(source);
    this.reserve(idLength + frameLength);
    this.bytes.write(message.messageId, this.end, idLength);
    this.bytes.write(source, this.end + idLength, frameLength);
    this.offsets[i] = this.end;
    this.idLengths[i] = idLength;
    this.frameLengths[i] = frameLength;
    this.end += idLength + frameLength;
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
    const i = (this.head + this.count - 1) % this.serials.length;
    return this.bytes.toString('utf8', this.offsets[i], this.offsets[i] + this.idLengths[i]);
  }

  /** Held entries k ≥ from, oldest first, rebuilt as messages. */
  entries(from = 0): ReplayEntry[] {
    const out: ReplayEntry[] = [];
    for (let k = from; k < this.count; k++) out.push(this.entry((this.head + k) % this.serials.length));
    return out;
  }

  private entry(i: number): ReplayEntry {
    const start = this.offsets[i];
    const idEnd = start + this.idLengths[i];
    const source = this.bytes.toString('utf8', idEnd, idEnd + this.frameLengths[i]);
    const rare = this.rare?.[i];
    const meta = {
      channel: this.channel,
      event: this.events[i],
      messageId: this.bytes.toString('utf8', start, idEnd),
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
      if (this.rare) this.rare[i] = undefined;
    }
    this.head = (this.head + n) % this.serials.length;
    this.count -= n;
    if (this.count === 0) {
      this.head = 0;
      this.end = 0;
    }
  }

  /** Makes room for `need` more bytes at `end`: moves the live bytes to the front, growing the buffer if half of it would not do. */
  private reserve(need: number): void {
    if (this.end + need <= this.bytes.length) return;
    const start = this.count === 0 ? this.end : this.offsets[this.head];
    const live = this.end - start;
    const target = live + need;
    const bytes = target * 2 > this.bytes.length ? Buffer.allocUnsafe(Math.max(target * 2, this.bytes.length * 2)) : this.bytes;
    this.bytes.copy(bytes, 0, start, this.end);
    this.bytes = bytes;
    this.end = live;
    for (let k = 0; k < this.count; k++) this.offsets[(this.head + k) % this.serials.length] -= start;
  }

  /** Doubles the ring (up to maxSize), oldest entry first in the new arrays. */
  private grow(): void {
    const capacity = Math.min(this.serials.length * 2, this.maxSize);
    const order = (k: number) => (this.head + k) % this.serials.length;
    const serials = new Float64Array(capacity);
    const times = new Float64Array(capacity);
    const offsets = new Int32Array(capacity);
    const idLengths = new Int32Array(capacity);
    const frameLengths = new Int32Array(capacity);
    const builtFlags = new Uint8Array(capacity);
    const events = new Array<string>(capacity);
    const rare = this.rare ? new Array<Rare | undefined>(capacity) : undefined;
    for (let k = 0; k < this.count; k++) {
      const i = order(k);
      serials[k] = this.serials[i];
      times[k] = this.times[i];
      offsets[k] = this.offsets[i];
      idLengths[k] = this.idLengths[i];
      frameLengths[k] = this.frameLengths[i];
      builtFlags[k] = this.builtFlags[i];
      events[k] = this.events[i];
      if (rare) rare[k] = this.rare?.[i];
    }
    this.serials = serials;
    this.times = times;
    this.offsets = offsets;
    this.idLengths = idLengths;
    this.frameLengths = frameLengths;
    this.builtFlags = builtFlags;
    this.events = events;
    this.rare = rare;
    this.head = 0;
  }
}
