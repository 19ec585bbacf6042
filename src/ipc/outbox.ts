// Coalesces the messages one thread sends another within an event-loop turn into a single postMessage:
// under load a publish, its fan-out and its HTTP answer share one structured clone and one wake-up.
// Order is kept; a lone message goes as it is.
//
// What a client is waiting on (a presence join and its answer, an API request the primary answers and that
// answer; the sender says so with awaitedAdded) also leaves in chunks of AWAITED_CHUNK, without waiting for the
// end of the turn: with hundreds of them in one turn, the other thread starts on the first chunk while this one
// reads the rest, instead of the two threads taking turns on one convoy (presence churn 1.36×, docs/benchmarks.md
// "Session 7"; keyed HTTP publishes 1.24–1.31×, "Session 20"). Publishes are not chunked: their deliveries
// write better in bulk (chunking every message cost fan-out 0.91×).

export interface Batch<M> {
  type: 'batch';
  messages: M[];
}

/** Awaited items queued before the outbox flushes early (8 and 64 measured worse). */
export const AWAITED_CHUNK = 32;

export class Outbox<M extends { type: string }> {
  private queue: M[] = [];
  private scheduled = false;
  /** Awaited items in the queue. */
  private awaited = 0;

  constructor(private readonly send: (m: M | Batch<M>) => void) {}

  post(m: M): void {
    this.queue.push(m);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(this.flush);
  }

  /**
   * One more awaited item is queued (a presence join or its answer, added to a message in the queue): the
   * AWAITED_CHUNK-th since the last send sends everything queued at once.
   */
  awaitedAdded(): void {
    if (++this.awaited >= AWAITED_CHUNK) this.flush();
  }

  /** The last message queued and not sent yet: a sender may add to it instead of queueing another. */
  tail(): M | undefined {
    return this.queue[this.queue.length - 1];
  }

  /**
   * The message of `type` to add to: the last one queued if it is of that type, else a new one from `create`,
   * queued now (filled in before the turn sends it). Keeps the order of messages, and joins what a sender
   * queues in a row into one message of columns (ipc/publishesTaken.ts, frameColumns.ts, presenceColumns.ts).
   */
  addTo<K extends M['type']>(type: K, create: () => Extract<M, { type: K }>): Extract<M, { type: K }> {
    const tail = this.tail();
    if (tail?.type === type) return tail as Extract<M, { type: K }>;
    const m = create();
    this.post(m);
    return m;
  }

  /**
   * Sends what is queued once the current callback returns, instead of at the end of the turn: on a worker the end
   * of the turn comes after uWS has written the turn's fan-outs, tens of milliseconds under a large one.
   */
  flushSoon(): void {
    if (this.soonScheduled) return;
    this.soonScheduled = true;
    queueMicrotask(this.flushFromMicrotask);
  }

  private soonScheduled = false;

  private readonly flushFromMicrotask = (): void => {
    this.soonScheduled = false;
    this.flush();
  };

  /** Sends at once (after whatever is queued, so order holds): for news the other side must see quickly. */
  postNow(m: M): void {
    this.queue.push(m);
    this.flush();
  }

  readonly flush = (): void => {
    this.scheduled = false;
    this.awaited = 0;
    const q = this.queue;
    if (q.length === 0) return;
    this.queue = [];
    this.send(q.length === 1 ? q[0] : { type: 'batch', messages: q });
  };
}
