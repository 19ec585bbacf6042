// Shared by the fault tests (not a test file itself): hosts run as child processes, a publisher that
// sends every logical publish with an idempotency key and retries on another host, and clients that
// record what they receive per connection so loss, duplicates and order can be checked exactly.
import { type ChildProcess, spawn } from 'node:child_process';
import { after } from 'node:test';
import { type Frame, RawClient, openV2 } from '../helpers/clients.ts';
import { eventually } from '../helpers/server.ts';
import { freePort } from '../helpers/ports.ts';
import { serverStartArgs } from '../../bench/startCommand.ts';

const ROOT = new URL('../../', import.meta.url).pathname;


/** `n` distinct free ports. */
export async function freePorts(n: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < n) ports.add(await freePort());
  return [...ports];
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// Every host this process started. Whatever a failed hook or test leaves running is killed (by its own
// PID) once the file's tests are over, so the test process never waits on a child forever.
const children = new Set<ChildProcess>();
const killLeftovers = () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
};
after(killLeftovers);
process.on('exit', killLeftovers);

/** A server host in its own process (`node --import tsx src/main.ts`), as `npm start` runs it. */
export interface HostProcess {
  port: number;
  metricsPort: number | null;
  child: ChildProcess;
  exit: Promise<number | null>;
  stdout: string[];
  stderr: string[];
}

/** A host process; connection recovery is on, as the fault tests check V2 resumes (it is off by default). */
export async function startHost(env: Record<string, string>): Promise<HostProcess> {
  const child = spawn(process.execPath, serverStartArgs(ROOT), {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH,
      SOCKUDO_PORT: '0',
      SOCKUDO_METRICS_ENABLED: 'false',
      SOCKUDO_WORKERS: '2',
      SOCKUDO_LOG_PRETTY: 'false',
      SOCKUDO_CONNECTION_RECOVERY_ENABLED: 'true',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  const stdout: string[] = [];
  const stderr: string[] = [];
  const exit = new Promise<number | null>((resolve) =>
    child.on('exit', (code) => {
      children.delete(child);
      resolve(code);
    }),
  );
  child.stdout?.on('data', (d: Buffer) => stdout.push(d.toString()));
  child.stderr?.on('data', (d: Buffer) => stderr.push(d.toString()));
  let exited = false;
  void exit.then(() => (exited = true));
  let line: string;
  try {
    line = await eventually(
      () => {
        if (exited) throw new Error(`host exited during start-up (${env.SOCKUDO_PORT ?? 'port 0'}): ${stderr.join('')}`);
        return stdout.join('').split('\n').find((l) => l.includes('sockudo-ts listening'));
      },
      'a host to start',
      20000,
    );
  } catch (err) {
    if (!exited) {
      child.kill('SIGKILL');
      await exit;
    }
    throw err;
  }
  const parsed = JSON.parse(line) as { port: number; metricsPort: number | null };
  return { port: parsed.port, metricsPort: parsed.metricsPort, child, exit, stdout, stderr };
}

/** Starts several hosts at once; if one fails, the others are stopped and the error is thrown. */
export async function startHosts(envs: Record<string, string>[]): Promise<HostProcess[]> {
  const results = await Promise.allSettled(envs.map((env) => startHost(env)));
  const started = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    await Promise.all(started.map((h) => stopHost(h, 'SIGKILL')));
    throw failed.reason;
  }
  return started;
}

/** Ends a host this test started (by its own PID) and waits for it; safe to call twice. */
export async function stopHost(h: HostProcess | undefined, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (!h || h.child.exitCode !== null || h.child.signalCode !== null) return;
  h.child.kill(signal);
  await h.exit;
}

export interface PublishRecord {
  seq: number;
  key: string;
  /** Status of each attempt, or the error name (fetch failure, timeout). */
  attempts: { port: number; outcome: number | string; ms: number }[];
  /** Set when an attempt got a 2xx. */
  accepted: boolean;
  body?: string;
  /** Not accepted by any host before the deadline: the publisher gave up on it. */
  gaveUp: boolean;
}

export interface LogicalPublisherOptions {
  channel: string;
  event: string;
  /** Ports of the hosts, tried in turn; the first attempt of publish n goes to ports[n % length]. */
  ports: () => number[];
  /** Logical publishes per second (the publisher stays sequential: one in flight). */
  rate: number;
  attemptTimeoutMs?: number;
  /** Give up on one logical publish after this long. */
  giveUpMs?: number;
  keyPrefix: string;
}

/**
 * Sends logical publishes one after another, each with its own idempotency key; an attempt that fails
 * (network error, timeout, non-2xx) is retried on the next host with the same key. Sequential, so the
 * acceptance order is `seq` order. Unsigned calls: the hosts run the development app.
 */
export class LogicalPublisher {
  readonly records: PublishRecord[] = [];
  private running = false;
  private loop: Promise<void> | null = null;

  constructor(private readonly o: LogicalPublisherOptions) {}

  start(): void {
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  get accepted(): Set<number> {
    return new Set(this.records.filter((r) => r.accepted).map((r) => r.seq));
  }

  private async run(): Promise<void> {
    const interval = 1000 / this.o.rate;
    const t0 = performance.now();
    for (let seq = 1; this.running; seq++) {
      const wait = t0 + (seq - 1) * interval - performance.now();
      if (wait > 0) await sleep(wait);
      if (!this.running) break;
      await this.publishOne(seq);
    }
  }

  private async publishOne(seq: number): Promise<void> {
    const rec: PublishRecord = { seq, key: `${this.o.keyPrefix}-${seq}`, attempts: [], accepted: false, gaveUp: false };
    this.records.push(rec);
    const body = JSON.stringify({ name: this.o.event, channel: this.o.channel, data: JSON.stringify({ seq }), idempotency_key: rec.key });
    const started = performance.now();
    for (let attempt = 0; ; attempt++) {
      const ports = this.o.ports();
      const port = ports[(seq + attempt) % ports.length];
      const t = performance.now();
      let outcome: number | string;
      try {
        const res = await fetch(`http://127.0.0.1:${port}/apps/app-id/events`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body,
          signal: AbortSignal.timeout(this.o.attemptTimeoutMs ?? 1000),
        });
        const text = await res.text();
        outcome = res.status;
        if (res.status >= 200 && res.status < 300) {
          rec.attempts.push({ port, outcome, ms: performance.now() - t });
          rec.accepted = true;
          rec.body = text;
          return;
        }
      } catch (err) {
        outcome = (err as Error).name === 'TimeoutError' ? 'timeout' : `${(err as Error).name}:${((err as { cause?: { code?: string } }).cause?.code ?? '')}`;
      }
      rec.attempts.push({ port, outcome, ms: performance.now() - t });
      if (performance.now() - started > (this.o.giveUpMs ?? 5000)) {
        rec.gaveUp = true;
        return;
      }
      // A fast failure (refused connection) goes straight to the other host; a 503 backs off a little.
      if (typeof outcome === 'number') await sleep(50);
    }
  }

  summary() {
    const retried = this.records.filter((r) => r.attempts.length > 1);
    return {
      logical: this.records.length,
      accepted: this.records.filter((r) => r.accepted).length,
      gaveUp: this.records.filter((r) => r.gaveUp).map((r) => ({ seq: r.seq, attempts: r.attempts.map((a) => a.outcome) })),
      retried: retried.length,
      maxAcceptMs: Math.round(Math.max(0, ...this.records.filter((r) => r.accepted).map((r) => r.attempts.reduce((s, a) => s + a.ms, 0)))),
    };
  }
}

/** `seq` of a test publish frame, or undefined for anything else. */
export function seqOf(f: Frame, event: string): number | undefined {
  if (f.event !== event) return undefined;
  if (typeof f.data === 'object' && f.data !== null) return (f.data as { seq?: number }).seq;
  if (typeof f.data !== 'string') return undefined;
  try {
    return (JSON.parse(f.data) as { seq?: number }).seq;
  } catch {
    return undefined;
  }
}

/** Picks a host the way a load balancer with a readiness check would: the first that answers /ready 200. */
export async function readyHost(ports: number[], start: number): Promise<number | undefined> {
  for (let i = 0; i < ports.length; i++) {
    const port = ports[(start + i) % ports.length];
    try {
      const res = await fetch(`http://127.0.0.1:${port}/ready`, { signal: AbortSignal.timeout(500) });
      await res.text();
      if (res.status === 200) return port;
    } catch {
      // not listening
    }
  }
  return undefined;
}

export interface Session {
  port: number;
  client: RawClient;
  closeCode: number | null;
  /** The `resume_success` data of a V2 session that resumed. */
  resumed: { recovered: { channel: string; replayed: number }[]; failed: unknown[] } | null;
}

/**
 * A client that stays subscribed to one channel across server restarts: when its socket closes it
 * reconnects to a ready host and subscribes again. V2 clients do what sockudo-js does on reconnect: the
 * subscribe and a `sockudo:resume` with the last position seen, sent together.
 */
export class ReconnectingClient {
  readonly sessions: Session[] = [];
  /** Last V2 position seen on the channel. */
  position: { stream_id: string; serial: number } | null = null;
  private stopped = false;
  private pick = 0;

  constructor(
    readonly protocol: 1 | 2,
    readonly channel: string,
    private readonly ports: () => number[],
    readonly name: string,
    /**
     * Send the subscribe and the resume in one TCP write, so the server reads them together. With two
     * writes a publish can be delivered between them; see docs/reliability.md (resume race).
     */
    readonly together = true,
  ) {}

  /**
   * Opens a socket on `port` and subscribes (V2 with a known position: subscribe and resume together).
   * Throws if the socket cannot be opened; once it is open, a failure closes it and `watch` reconnects.
   */
  async connect(port: number): Promise<void> {
    const client = this.protocol === 2 ? await openV2(port) : await RawClient.open(port);
    if (client.closeCode !== null || !client.frames.some((f) => f.event.endsWith('connection_established'))) {
      client.terminate();
      throw new Error(`refused by ${port}`);
    }
    const session: Session = { port, client, closeCode: null, resumed: null };
    this.sessions.push(session);
    void this.watch(session);
    const prefix = this.protocol === 2 ? 'sockudo' : 'pusher';
    const frames: unknown[] = [{ event: `${prefix}:subscribe`, data: { channel: this.channel } }];
    if (this.protocol === 2 && this.position) frames.push({ event: 'sockudo:resume', data: { channel_positions: { [this.channel]: this.position } } });
    if (this.together) sendTogether(client, frames);
    else for (const f of frames) client.send(f);
    try {
      await client.next((f) => f.event.endsWith('subscription_succeeded') && f.channel === this.channel);
      if (this.protocol === 2 && this.position) {
        const ok = await client.next((f) => f.event === 'sockudo:resume_success');
        session.resumed = JSON.parse(ok.data as string) as Session['resumed'];
      }
    } catch {
      client.terminate();
    }
  }

  /** Frames of the channel's test events across every session, in arrival order. */
  frames(event: string): { session: number; frame: Frame }[] {
    const out: { session: number; frame: Frame }[] = [];
    this.sessions.forEach((s, i) => {
      for (const f of s.client.frames) if (f.event === event && f.channel === this.channel) out.push({ session: i, frame: f });
    });
    return out;
  }

  close(): void {
    this.stopped = true;
    for (const s of this.sessions) s.client.close();
  }

  get current(): Session | undefined {
    return this.sessions.at(-1);
  }

  private async watch(session: Session): Promise<void> {
    // Track the position as frames arrive (for V2), and reconnect when the socket closes.
    const c = session.client;
    let seen = 0;
    for (;;) {
      try {
        await c.next(() => true, 60_000, seen);
      } catch {
        // closed, or nothing for a minute
      }
      for (; seen < c.frames.length; seen++) {
        const f = c.frames[seen];
        if (f.channel === this.channel && typeof f.serial === 'number' && typeof f.stream_id === 'string' && !f.event.includes(':')) {
          this.position = { stream_id: f.stream_id, serial: f.serial };
        }
      }
      if (c.closeCode !== null) break;
    }
    session.closeCode = c.closeCode;
    if (this.stopped) return;
    await this.reconnect();
  }

  private async reconnect(): Promise<void> {
    const deadline = Date.now() + 15000;
    while (!this.stopped && Date.now() < deadline) {
      const port = await readyHost(this.ports(), this.pick++);
      if (port !== undefined) {
        try {
          await this.connect(port);
          return;
        } catch {
          // the host went away between the check and the upgrade; try again
        }
      }
      await sleep(50);
    }
  }
}

/** Sends WebSocket frames in one TCP write (the socket is corked around them). */
export function sendTogether(client: RawClient, frames: unknown[]): void {
  const socket = (client as unknown as { ws: { _socket: { cork(): void; uncork(): void } } }).ws._socket;
  socket.cork();
  for (const f of frames) client.send(f);
  socket.uncork();
}

/**
 * Checks a client without recovery session by session: what one socket got is an ordered, gap-free,
 * duplicate-free run of the accepted publishes. Across sessions nothing can be promised on V1 (no
 * position to resume from; hosts read the stream independently, so one may be a few messages behind
 * another): what was missed while away and what came again after moving host are counted, not judged.
 */
export function checkSessions(c: ReconnectingClient, event: string, accepted: Set<number>) {
  const problems: string[] = [];
  let missedWhileAway = 0;
  let acrossSessions = 0;
  const seen = new Set<number>();
  let prevLast = 0;
  c.sessions.forEach((s, i) => {
    const seqs = s.client.frames.map((f) => seqOf(f, event)).filter((n): n is number => n !== undefined);
    for (let k = 1; k < seqs.length; k++) if (seqs[k] <= seqs[k - 1]) problems.push(`${c.name} session ${i}: ${seqs[k]} after ${seqs[k - 1]} (duplicate or out of order)`);
    for (const x of new Set(seqs)) if (seen.has(x)) acrossSessions++;
    for (const x of seqs) seen.add(x);
    if (seqs.length === 0) return;
    const got = new Set(seqs);
    for (const seq of accepted) if (seq > seqs[0] && seq < seqs[seqs.length - 1] && !got.has(seq)) problems.push(`${c.name} session ${i}: accepted publish ${seq} lost while connected`);
    for (const seq of accepted) if (seq > prevLast && seq < seqs[0]) missedWhileAway++;
    prevLast = Math.max(prevLast, seqs[seqs.length - 1]);
  });
  return { problems, missedWhileAway, acrossSessions, received: seen.size };
}
