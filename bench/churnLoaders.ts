// The parent's side of the churn load: forks the loader processes, waits until their sockets are
// connected, starts the subscribe/unsubscribe cycles, and sums their counts on demand.
import { type ChildProcess, fork } from 'node:child_process';
import type { ChurnCommand, ChurnKind, ChurnReport } from './loaderMessages.ts';
import type { AppCredentials } from './signing.ts';

const CHILD = new URL('./churnProcess.ts', import.meta.url);

export interface ChurnCounts {
  pairs: number;
  memberEvents: number;
  errors: number;
  lostSockets: number;
  firstError: string | null;
}

export class ChurnLoaders {
  connected = 0;
  failed = 0;
  firstError: string | null = null;
  connectSeconds = 0;
  private nextId = 1;
  private readonly waiting = new Map<number, { left: number; sum: ChurnCounts; resolve: (c: ChurnCounts) => void }>();

  private constructor(private readonly children: ChildProcess[]) {
    for (const child of children) {
      child.on('error', () => {}); // a send to a loader that died: its snapshot times out and the run reports it
      child.on('message', (m: ChurnReport) => {
        if (m.type !== 'snapshot') return;
        const w = this.waiting.get(m.id);
        if (!w) return;
        w.sum.pairs += m.pairs;
        w.sum.memberEvents += m.memberEvents;
        w.sum.errors += m.errors;
        w.sum.lostSockets += m.lostSockets;
        w.sum.firstError ??= m.firstError;
        if (--w.left === 0) {
          this.waiting.delete(m.id);
          w.resolve(w.sum);
        }
      });
    }
  }

  /**
   * Starts `processes` loaders with `socketsPerProcess` connected sockets each (auth signed for `app`; with
   * presence-rooms, `roomSize` consecutive sockets to a channel); churning starts with start().
   */
  static async open(url: string, processes: number, socketsPerProcess: number, kind: ChurnKind, roomSize: number, app: AppCredentials): Promise<ChurnLoaders> {
    const children = Array.from({ length: processes }, () => fork(CHILD, [], { execArgv: ['--import', 'tsx'], stdio: 'inherit' }));
    const loaders = new ChurnLoaders(children);
    const started = performance.now();
    await Promise.all(
      children.map(
        (child, i) =>
          new Promise<void>((resolve, reject) => {
            const onReady = (m: ChurnReport) => {
              if (m.type !== 'ready') return;
              child.off('message', onReady);
              loaders.connected += m.connected;
              loaders.failed += m.failed;
              loaders.firstError ??= m.firstError;
              resolve();
            };
            child.on('message', onReady);
            child.once('exit', (code) => reject(new Error(`churn loader exited with ${code} while connecting`)));
            const cmd: ChurnCommand = { type: 'connect', url, count: socketsPerProcess, offset: i * socketsPerProcess, kind, roomSize, concurrency: 64, app };
            child.send(cmd);
          }),
      ),
    ).catch(async (err: unknown) => {
      await loaders.stop();
      throw err;
    });
    loaders.connectSeconds = (performance.now() - started) / 1000;
    return loaders;
  }

  get pids(): number[] {
    return this.children.map((c) => c.pid as number);
  }

  start(): void {
    for (const child of this.children) if (child.connected) child.send({ type: 'start' } satisfies ChurnCommand);
  }

  /** Summed running counts of every loader, as of now (one IPC round trip). */
  snapshot(): Promise<ChurnCounts> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error('churn loader did not answer a snapshot within 10 s'));
      }, 10_000);
      this.waiting.set(id, {
        left: this.children.length,
        sum: { pairs: 0, memberEvents: 0, errors: 0, lostSockets: 0, firstError: null },
        resolve: (c) => {
          clearTimeout(timer);
          resolve(c);
        },
      });
      for (const child of this.children) {
        if (child.connected) child.send({ type: 'snapshot', id } satisfies ChurnCommand);
      }
    });
  }

  /** Drops every socket and waits for the processes to exit. */
  async stop(): Promise<void> {
    await Promise.all(
      this.children.map((child) => {
        if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
        const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        if (child.connected) child.send({ type: 'stop' } satisfies ChurnCommand);
        else child.kill('SIGTERM');
        return exited.finally(() => clearTimeout(timer));
      }),
    );
  }
}
