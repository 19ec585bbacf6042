// Coalesces the messages one thread sends another within an event-loop turn into a single postMessage:
// under load a publish, its fan-out and its HTTP answer share one structured clone and one wake-up.
// Order is kept; a lone message goes as it is.

export interface Batch<M> {
  type: 'batch';
  messages: M[];
}

export class Outbox<M> {
  private queue: M[] = [];
  private scheduled = false;

  constructor(private readonly send: (m: M | Batch<M>) => void) {}

  post(m: M): void {
    this.queue.push(m);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(this.flush);
  }

  /** Sends at once (after whatever is queued, so order holds): for news the other side must see quickly. */
  postNow(m: M): void {
    this.queue.push(m);
    this.flush();
  }

  readonly flush = (): void => {
    this.scheduled = false;
    const q = this.queue;
    if (q.length === 0) return;
    this.queue = [];
    this.send(q.length === 1 ? q[0] : { type: 'batch', messages: q });
  };
}
