// Holding back live delivery on a freshly connected V2 socket until its resume arrives. A reconnecting
// client sends `subscribe` and then `resume`; if a publish reached the worker between the two, it would go
// out live and then again (and out of order) in the replay. So, for a short while after connect, a V2
// subscription collects its live frames here instead of joining its uWS topic; the resume (or the end of
// the hold) then sends the missed messages, the collected frames, and joins the topic — in one
// synchronous step, so nothing is lost, repeated or reordered.
import type { SocketState } from './socketState.ts';

/** How long after connect a V2 subscribe is held back when no resume has come yet. */
export const HOLD_WINDOW_MS = 1000;
/** How long a hold lasts at most: a client that does not resume gets its first live messages this late. */
export const HOLD_MS = 250;

export interface Hold {
  socket: SocketState;
  channel: string;
  topic: string;
  /** The channel's serial when the hold began: later messages are in `frames`. */
  serialAtStart: number;
  streamAtStart: string | undefined;
  frames: string[];
}

export class LiveHolds {
  private readonly byTopic = new Map<string, Set<Hold>>();
  private readonly bySocket = new Map<SocketState, { holds: Map<string, Hold>; timer: NodeJS.Timeout }>();

  constructor(
    /** Ends a socket's holds (sends what was collected and joins the topics). */
    private readonly release: (s: SocketState, holds: Hold[]) => void,
    private readonly maxFrames: number,
  ) {}

  /** Whether a new subscription of `s` should be held back. */
  shouldHold(s: SocketState, now: number): boolean {
    return s.protocol === 2 && !s.resumed && now - s.connectedAt < HOLD_WINDOW_MS;
  }

  hold(s: SocketState, channel: string, topic: string, position: { streamId: string; serial: number } | undefined): void {
    let entry = this.bySocket.get(s);
    if (!entry) {
      const timer = setTimeout(() => this.releaseAll(s), HOLD_MS);
      entry = { holds: new Map(), timer };
      this.bySocket.set(s, entry);
    }
    const h: Hold = { socket: s, channel, topic, serialAtStart: position?.serial ?? 0, streamAtStart: position?.streamId, frames: [] };
    entry.holds.set(channel, h);
    let set = this.byTopic.get(topic);
    if (!set) this.byTopic.set(topic, (set = new Set()));
    set.add(h);
  }

  /** Whether any held subscription waits for frames of `topic`. */
  holding(topic: string): boolean {
    return this.byTopic.has(topic);
  }

  /** Called for every live publish: held sockets of the topic collect the frame. Returns how many. */
  collect(topic: string, frame: string, exclude: string | undefined): number {
    // Usually nothing is held (holds last 250 ms after a V2 connect): then no topic string is hashed.
    const set = this.byTopic.size === 0 ? undefined : this.byTopic.get(topic);
    if (!set) return 0;
    let n = 0;
    for (const h of set) {
      if (h.socket.socketId === exclude) continue;
      h.frames.push(frame);
      n++;
      // A flood during the hold: stop holding rather than buffer without bound.
      if (h.frames.length > this.maxFrames) queueMicrotask(() => this.releaseAll(h.socket));
    }
    return n;
  }

  /** The socket's held subscription of `channel`, if any. */
  get(s: SocketState, channel: string): Hold | undefined {
    return this.bySocket.get(s)?.holds.get(channel);
  }

  /** Ends every hold of the socket through the release callback. */
  releaseAll(s: SocketState): void {
    const entry = this.forget(s);
    if (entry && !s.closed) this.release(s, [...entry.values()]);
  }

  /** Removes one held subscription without releasing it (unsubscribe). */
  drop(s: SocketState, channel: string): void {
    const entry = this.bySocket.get(s);
    const h = entry?.holds.get(channel);
    if (!entry || !h) return;
    entry.holds.delete(channel);
    this.unindex(h);
    if (entry.holds.size === 0) this.forget(s);
  }

  /** Removes all of the socket's holds without releasing them (close). */
  forget(s: SocketState): Map<string, Hold> | undefined {
    const entry = this.bySocket.get(s);
    if (!entry) return undefined;
    clearTimeout(entry.timer);
    this.bySocket.delete(s);
    for (const h of entry.holds.values()) this.unindex(h);
    return entry.holds;
  }

  private unindex(h: Hold): void {
    const set = this.byTopic.get(h.topic);
    set?.delete(h);
    if (set?.size === 0) this.byTopic.delete(h.topic);
  }
}
