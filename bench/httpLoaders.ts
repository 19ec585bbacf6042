// The parent's side of the HTTP load: forks the loader processes and sums their counts on demand.
import { type ChildProcess, fork } from 'node:child_process';
import type { HttpLoadCommand, HttpLoadReport } from './loaderMessages.ts';
import type { AppCredentials } from './signing.ts';

const CHILD = new URL('./httpLoadProcess.ts', import.meta.url);

export interface HttpCounts {
  ok: number;
  failed: number;
  firstError: string | null;
}

export class HttpLoaders {
  private nextId = 1;
  private readonly waiting = new Map<number, { left: number; sum: HttpCounts; resolve: (c: HttpCounts) => void }>();

  private constructor(private readonly children: ChildProcess[]) {
    for (const child of children) {
      child.on('error', () => {}); // a send to a loader that died: its snapshot times out and the run reports it
      child.on('message', (m: HttpLoadReport) => {
        const w = this.waiting.get(m.id);
        if (!w) return;
        w.sum.ok += m.ok;
        w.sum.failed += m.failed;
        w.sum.firstError ??= m.firstError;
        if (--w.left === 0) {
          this.waiting.delete(m.id);
          w.resolve(w.sum);
        }
      });
    }
  }

  /**
   * Starts `processes` loaders, each keeping `connectionsPerProcess` publishes of `body` (signed for `app`) in
   * flight; with `idempotencyKeys` every request carries a key of its own.
   */
  static async start(origin: string, processes: number, connectionsPerProcess: number, body: string, app: AppCredentials, idempotencyKeys = false): Promise<HttpLoaders> {
    const children = Array.from({ length: processes }, () => fork(CHILD, [], { execArgv: ['--import', 'tsx'], stdio: 'inherit' }));
    for (const child of children) child.send({ type: 'run', origin, connections: connectionsPerProcess, body, app, idempotencyKeys } satisfies HttpLoadCommand);
    return new HttpLoaders(children);
  }

  get pids(): number[] {
    return this.children.map((c) => c.pid as number);
  }

  /** Summed running counts of every loader, as of now (one IPC round trip). */
  snapshot(): Promise<HttpCounts> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error('HTTP loader did not answer a snapshot within 10 s'));
      }, 10_000);
      this.waiting.set(id, {
        left: this.children.length,
        sum: { ok: 0, failed: 0, firstError: null },
        resolve: (c) => {
          clearTimeout(timer);
          resolve(c);
        },
      });
      for (const child of this.children) {
        if (child.connected) child.send({ type: 'snapshot', id } satisfies HttpLoadCommand);
      }
    });
  }

  /** Stops issuing, lets in-flight requests finish, and waits for the processes to exit. */
  async stop(): Promise<void> {
    await Promise.all(
      this.children.map((child) => {
        if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
        const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
        const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
        if (child.connected) child.send({ type: 'stop' } satisfies HttpLoadCommand);
        else child.kill('SIGTERM');
        return exited.finally(() => clearTimeout(timer));
      }),
    );
  }
}
