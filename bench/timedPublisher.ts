// Publishes at a fixed rate, each one carrying its number and its send time in its data, for the latency
// probes. The send time is the moment the publisher's timer fired for that publish, *before* it waits for
// a free HTTP connection: a publish that waited because the server was slow to answer earlier requests has
// that wait counted in its latency, so a saturated server cannot hide its backlog behind the publisher's
// few connections (no coordinated omission). The timer's own lateness against the schedule (start +
// n / rate; Node timers fire up to a millisecond or so late) is the publisher's and is left out, but
// recorded (`timerLagUs`); so is the wait for a connection (`connectionWaitUs`, included). Every body
// differs, so every request is signed (MD5 + HMAC-SHA256, some µs: nothing at the rates used here).
import { monotonicUs } from './clock.ts';
import { loopbackHost } from './loopback.ts';
import { Connection } from './publishClient.ts';
import { type AppCredentials, BENCH_APP, signedPath } from './signing.ts';

/** A publish's state, by number: scheduled (not yet answered), accepted, refused or failed, abandoned. */
export type PublishState = 'pending' | 'accepted' | 'failed' | 'abandoned';

class Pool {
  private readonly idle: Connection[];
  private readonly all: Connection[];
  private readonly waiting: ((c: Connection | null) => void)[] = [];
  constructor(
    readonly host: string,
    connections: number,
  ) {
    const url = new URL(host);
    const hostname = loopbackHost(url);
    this.all = Array.from({ length: connections }, () => new Connection(hostname, Number(url.port || 80)));
    this.idle = [...this.all];
  }

  acquire(): Promise<Connection | null> {
    const c = this.idle.pop();
    return c ? Promise.resolve(c) : new Promise((resolve) => this.waiting.push(resolve));
  }

  release(c: Connection): void {
    const next = this.waiting.shift();
    if (next) next(c);
    else this.idle.push(c);
  }

  /** Hands `null` to every publish still waiting for a connection. */
  abandonWaiting(): void {
    for (const w of this.waiting.splice(0)) w(null);
  }

  close(): void {
    this.abandonWaiting();
    for (const c of this.all) c.close();
  }
}

export class TimedPublisher {
  /** Number of the next publish (numbers run on across phases). */
  next = 0;
  ok = 0;
  failed = 0;
  firstError: string | null = null;
  /** Scheduled and not settled (waiting for a connection, or answer not yet in). */
  pending = 0;
  /** By publish number: the send time it carries (µs, monotonic clock). */
  readonly sentAtUs: number[] = [];
  /** By publish number: how late the timer fired against the schedule (µs; not part of the latency). */
  readonly timerLagUs: number[] = [];
  /** By publish number: from the send time to the request's write, waiting for a connection (µs; part of it). */
  readonly connectionWaitUs: number[] = [];
  readonly state: PublishState[] = [];
  private readonly pools: Pool[];
  private readonly host: string[];
  private timer: NodeJS.Timeout | undefined;

  /**
   * Publish n goes to `origins[n % origins.length]`, on channel `channels[floor(n / origins.length) %
   * channels.length]` (every origin reaches every channel), as event `marker`.
   */
  constructor(
    origins: readonly string[],
    connectionsPerOrigin: number,
    private readonly channels: readonly string[],
    private readonly marker: string,
    private readonly padding: number,
    private readonly app: AppCredentials = BENCH_APP,
  ) {
    this.pools = origins.map((o) => new Pool(o, connectionsPerOrigin));
    this.host = origins.map((o) => new URL(o).host);
  }

  /** Starts publishing `rate` per second from now (stops a previous rate first). */
  start(rate: number): void {
    this.stop();
    const first = this.next;
    const startUs = monotonicUs();
    const due = (n: number) => startUs + ((n - first) * 1e6) / rate;
    const tick = () => {
      const now = monotonicUs();
      while (due(this.next) <= now) {
        const n = this.next++;
        this.timerLagUs[n] = now - due(n);
        void this.publish(n, now);
      }
      this.timer = setTimeout(tick, Math.max(0, (due(this.next) - monotonicUs()) / 1000));
    };
    tick();
  }

  /** Schedules nothing more; publishes already scheduled still go out. */
  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Publishes numbered from..to-1 the server accepted. */
  accepted(from: number, to: number): number {
    let n = 0;
    for (let i = from; i < to; i++) if (this.state[i] === 'accepted') n++;
    return n;
  }

  /** Gives up on publishes still waiting for a connection (a saturated server's backlog). */
  abandonWaiting(): void {
    for (const p of this.pools) p.abandonWaiting();
  }

  close(): void {
    this.stop();
    for (const p of this.pools) p.close();
  }

  private async publish(n: number, sentAtUs: number): Promise<void> {
    this.sentAtUs[n] = sentAtUs;
    this.state[n] = 'pending';
    this.pending++;
    const pool = this.pools[n % this.pools.length];
    const conn = await pool.acquire();
    if (!conn) {
      this.state[n] = 'abandoned';
      this.pending--;
      return;
    }
    const channel = this.channels[Math.floor(n / this.pools.length) % this.channels.length];
    const body = JSON.stringify({ name: this.marker, channel, data: JSON.stringify({ s: n, t: sentAtUs, pad: 'x'.repeat(this.padding) }) });
    const path = signedPath(this.app, `/apps/${this.app.id}/events`, body, Math.floor(Date.now() / 1000));
    const request =
      `POST ${path} HTTP/1.1\r\nHost: ${this.host[n % this.host.length]}\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
    this.connectionWaitUs[n] = monotonicUs() - sentAtUs;
    try {
      const answer = await conn.request(request);
      if (answer.status === 200) {
        this.state[n] = 'accepted';
        this.ok++;
      } else this.fail(n, `HTTP ${answer.status}: ${answer.body.slice(0, 200)}`);
    } catch (err) {
      this.fail(n, (err as Error).message);
    } finally {
      this.pending--;
      pool.release(conn);
    }
  }

  private fail(n: number, why: string): void {
    this.state[n] = 'failed';
    this.failed++;
    this.firstError ??= why;
  }
}
