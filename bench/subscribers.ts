// The parent's side of the subscriber fleet: forks the loader processes, splits the connections between
// them (each gets a contiguous range of fleet-wide indexes, which decide channel, protocol and host), and
// keeps the running total of deliveries they report. It can connect in stages, with a pause between them
// (the latency scenario connects a probe there, so probes sit at known places in the subscription order).
// Starting the processes and connecting are two steps, so connecting can be timed on its own (accept rate).
import { type ChildProcess, fork } from 'node:child_process';
import { forkWithRaisedFdLimit } from './fdLimit.ts';
import type { SubscriberClientKind, SubscriberCommand, SubscriberReport } from './loaderMessages.ts';

const CHILD = new URL('./subscriberProcess.ts', import.meta.url);

export interface FleetOptions {
  url: string;
  /** The same server with `?protocol=2`. */
  v2Url: string;
  subscribers: number;
  processes: number;
  channel: string;
  /** 0: one channel for all; n: subscriber i subscribes to `${channel}-${i % n}`. */
  channels: number;
  /** Fraction of the subscribers speaking Protocol V2 (interleaved with the V1 ones). */
  v2Share: number;
  marker: string;
  /** The V2 subscribers subscribe with this filter and count frames carrying its marker (bench/v2Filter.ts). */
  v2Filter?: { filter: object; marker: string };
  client: SubscriberClientKind;
  /** Handshakes in flight per process. */
  concurrency?: number;
  /** Several hosts instead of `url`: subscriber i goes to `hosts[floor(i / max(channels, 1)) % hosts.length]`. */
  hosts?: { url: string; v2Url: string }[];
  /** Connect in this many stages (each process's range split evenly), all processes within a stage at once. */
  stages?: number;
  /** Awaited after stage k (0-based) has been confirmed, before the next one starts. */
  betweenStages?: (stage: number) => Promise<void>;
}

export class SubscriberFleet {
  /** Subscriptions confirmed by the server (for idle connections: connections established). */
  subscribed = 0;
  /** Of which on Protocol V2. */
  v2Subscribed = 0;
  failed = 0;
  firstError: string | null = null;
  connectSeconds = 0;
  private readonly delivered: number[];
  private readonly lost: number[];
  /** Per child, what its pending `connect` command waits on. */
  private readonly pending: ({ resolve: () => void; reject: (e: Error) => void } | null)[] = [];
  private listener: () => void = () => {};

  private constructor(private readonly children: ChildProcess[]) {
    this.delivered = children.map(() => 0);
    this.lost = children.map(() => 0);
  }

  /** Forks the processes and connects them (see `spawn` and `connect`). */
  static async open(o: FleetOptions): Promise<SubscriberFleet> {
    const fleet = await SubscriberFleet.spawn(o.processes);
    try {
      await fleet.connect(o);
    } catch (err) {
      await fleet.close();
      throw err;
    }
    return fleet;
  }

  /**
   * Forks `processes` loader processes (soft open-file limit raised to the hard one) and waits until each
   * has loaded, so that what `connect` times is connecting, not Node and tsx starting.
   */
  static async spawn(processes: number): Promise<SubscriberFleet> {
    const children = Array.from({ length: processes }, () => fork(CHILD, [], { ...forkWithRaisedFdLimit(['--import', 'tsx']), stdio: 'inherit' }));
    const fleet = new SubscriberFleet(children);
    try {
      await Promise.all(
        children.map(
          (child) =>
            new Promise<void>((resolve, reject) => {
              child.once('message', (m: SubscriberReport) => (m.type === 'alive' ? resolve() : reject(new Error(`unexpected ${m.type} from a loader`))));
              child.once('exit', (code) => reject(new Error(`subscriber process exited with ${code} while starting`)));
            }),
        ),
      );
    } catch (err) {
      await fleet.close();
      throw err;
    }
    children.forEach((child, i) => child.on('message', (m: SubscriberReport) => fleet.onReport(i, m)));
    return fleet;
  }

  private onReport(i: number, m: SubscriberReport): void {
    if (m.type === 'ready') {
      this.subscribed += m.subscribed;
      this.v2Subscribed += m.v2Subscribed;
      this.failed += m.failed;
      this.firstError ??= m.firstError;
      this.pending[i]?.resolve();
      this.pending[i] = null;
    } else if (m.type === 'count') {
      this.delivered[i] = m.delivered;
      this.lost[i] = m.lostSockets;
      this.listener();
    }
  }

  /** Splits `o.subscribers` over the processes and connects them, in `o.stages` stages; sets connectSeconds. */
  async connect(o: Omit<FleetOptions, 'processes'>): Promise<void> {
    const children = this.children;
    const started = performance.now();
    const counts = children.map((_, i) => Math.floor(o.subscribers / children.length) + (i < o.subscribers % children.length ? 1 : 0));
    const offsets = counts.map((_, i) => counts.slice(0, i).reduce((a, b) => a + b, 0));
    const exits = children.map((child, i) => {
      const onExit = (code: number | null) => this.pending[i]?.reject(new Error(`subscriber process exited with ${code} while connecting`));
      child.once('exit', onExit);
      return () => child.off('exit', onExit);
    });
    const stages = Math.max(1, Math.floor(o.stages ?? 1));
    try {
      for (let stage = 0; stage < stages; stage++) {
        await Promise.all(
          children.map(
            (child, i) =>
              new Promise<void>((resolve, reject) => {
                const from = Math.floor((counts[i] * stage) / stages);
                const to = Math.floor((counts[i] * (stage + 1)) / stages);
                this.pending[i] = { resolve, reject };
                const cmd: SubscriberCommand = {
                  type: 'connect',
                  url: o.url,
                  v2Url: o.v2Url,
                  count: to - from,
                  offset: offsets[i] + from,
                  channel: o.channel,
                  channels: o.channels,
                  v2Share: o.v2Share,
                  marker: o.marker,
                  v2Filter: o.v2Filter,
                  concurrency: o.concurrency ?? 64,
                  client: o.client,
                  hosts: o.hosts,
                };
                child.send(cmd);
              }),
          ),
        );
        await o.betweenStages?.(stage);
      }
    } finally {
      for (const off of exits) off();
    }
    this.connectSeconds = (performance.now() - started) / 1000;
  }

  get pids(): number[] {
    return this.children.map((c) => c.pid as number);
  }

  /** Marker frames received so far, over all subscribers. */
  get deliveries(): number {
    return this.delivered.reduce((a, b) => a + b, 0);
  }

  /** Subscribers whose socket closed after subscribing (for example closed by the server for backpressure). */
  get lostSockets(): number {
    return this.lost.reduce((a, b) => a + b, 0);
  }

  /** Called on every count report (at most every 10 ms per process). */
  onDeliveries(listener: () => void): void {
    this.listener = listener;
  }

  /** Waits until the running total reaches `target` or `timeoutMs` passes; true if it was reached. */
  waitFor(target: number, timeoutMs: number): Promise<boolean> {
    if (this.deliveries >= target) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.listener = () => {};
        resolve(false);
      }, timeoutMs);
      this.listener = () => {
        if (this.deliveries < target) return;
        clearTimeout(timer);
        this.listener = () => {};
        resolve(true);
      };
    });
  }

  async close(): Promise<void> {
    this.listener = () => {};
    await Promise.all(
      this.children.map((child) => {
        if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
        const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        if (child.connected) child.send({ type: 'close' } satisfies SubscriberCommand);
        else child.kill('SIGTERM');
        return exited.finally(() => clearTimeout(timer));
      }),
    );
  }
}
