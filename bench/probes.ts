// The parent's side of the latency probes: one child process (bench/probeProcess.ts) holding a few probe
// subscribers, asked to open probes one batch at a time, to report the samples of a range of publishes, and
// to drop its probes between phases.
import { type ChildProcess, fork } from 'node:child_process';
import type { ProbeCommand, ProbeReport } from './loaderMessages.ts';

const CHILD = new URL('./probeProcess.ts', import.meta.url);

export interface ProbeSamples {
  seqs: number[];
  latenciesUs: number[];
  received: number;
  lostSockets: number;
}

export class ProbeFleet {
  subscribed = 0;
  failed = 0;
  firstError: string | null = null;
  private nextId = 1;
  private waiting: { type: ProbeReport['type']; id?: number; resolve: (m: ProbeReport) => void; reject: (e: Error) => void } | null = null;

  private constructor(private readonly child: ChildProcess) {
    child.on('message', (m: ProbeReport) => {
      const w = this.waiting;
      if (!w || w.type !== m.type || (m.type === 'samples' && m.id !== w.id)) return;
      this.waiting = null;
      w.resolve(m);
    });
    child.on('error', () => {}); // a send to a process that died: the pending request fails on exit
    child.once('exit', (code) => {
      this.waiting?.reject(new Error(`probe process exited with ${code}`));
      this.waiting = null;
    });
  }

  static start(): ProbeFleet {
    return new ProbeFleet(fork(CHILD, [], { execArgv: ['--import', 'tsx'], stdio: 'inherit' }));
  }

  get pid(): number {
    return this.child.pid as number;
  }

  private ask(cmd: ProbeCommand, type: ProbeReport['type'], id?: number, timeoutMs = 60_000): Promise<ProbeReport> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting = null;
        reject(new Error(`probe process did not answer ${cmd.type} within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      this.waiting = {
        type,
        id,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      this.child.send(cmd);
    });
  }

  /** Opens `count` probes on `channel` (one after the other, in this order of subscription). */
  async open(url: string, channel: string, count: number, marker: string): Promise<void> {
    const m = (await this.ask({ type: 'open', url, channel, count, marker }, 'opened')) as Extract<ProbeReport, { type: 'opened' }>;
    this.subscribed += m.subscribed;
    this.failed += m.failed;
    this.firstError ??= m.firstError;
  }

  /** Closes every probe and forgets the samples. */
  async drop(): Promise<void> {
    await this.ask({ type: 'drop' }, 'dropped');
    this.subscribed = 0;
    this.failed = 0;
    this.firstError = null;
  }

  /** Samples of publishes numbered from..to-1 received so far (`countOnly`: only `received` is filled). */
  async collect(from: number, to: number, countOnly = false): Promise<ProbeSamples> {
    const id = this.nextId++;
    const m = (await this.ask({ type: 'collect', id, from, to, countOnly }, 'samples', id)) as Extract<ProbeReport, { type: 'samples' }>;
    return { seqs: m.seqs, latenciesUs: m.latenciesUs, received: m.received, lostSockets: m.lostSockets };
  }

  async close(): Promise<void> {
    const c = this.child;
    if (c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => c.once('exit', () => resolve()));
    const timer = setTimeout(() => c.kill('SIGKILL'), 10_000);
    if (c.connected) c.send({ type: 'close' } satisfies ProbeCommand);
    else c.kill('SIGTERM');
    await exited.finally(() => clearTimeout(timer));
  }
}
