// Per-thread load for /metrics (Sockudo reports its runtime's workers the same way): at scrape time the primary
// reads its own totals and asks every live worker for theirs (`thread-stats-request`), waiting at most
// ANSWER_TIMEOUT_MS so that a stuck worker cannot hang the scrape; it is then reported by how long it has kept
// the question unanswered. Busy ratios are worked out here from the totals of each thread's previous answer, so
// the answer after a stall covers the stall, even when the scrape during it gave up.
import type { PrimaryToWorker, WorkerToPrimary } from '../ipc/messages.ts';
import { type ThreadTotals, threadTotals } from './threadTotals.ts';

export const ANSWER_TIMEOUT_MS = 1000;

export interface ThreadLoad {
  /** Share of the time since this thread's previous reading (by any scraper) that its event loop was busy, 0–1. */
  busyRatio: number;
  /** Running total of busy time, for `rate()`. */
  busySeconds: number;
  heapUsedBytes: number;
}

export interface WorkerLoad {
  worker: number;
  /** Round trip primary → worker → primary: both threads' queues and event-loop lag. */
  responseSeconds: number;
  /** Missing when the worker did not answer in time. */
  load?: ThreadLoad;
}

export interface HostLoad {
  primary: ThreadLoad;
  workers: WorkerLoad[];
}

interface AskedWorker {
  readonly index: number;
  post(m: PrimaryToWorker): void;
}

interface Question {
  askedAt: number;
  expected: number;
  answers: Map<number, WorkerLoad>;
  finish(): void;
}

/** Turns a thread's running totals into its load since the totals it gave before (none: since it started). */
class LoadSince {
  private last: ThreadTotals | undefined;

  next(now: ThreadTotals): ThreadLoad {
    const active = now.activeMs - (this.last?.activeMs ?? 0);
    const elapsed = active + now.idleMs - (this.last?.idleMs ?? 0);
    this.last = now;
    return { busyRatio: elapsed > 0 ? active / elapsed : 0, busySeconds: now.activeMs / 1000, heapUsedBytes: now.heapUsedBytes };
  }
}

export class ThreadStats {
  private nextId = 0;
  private readonly questions = new Map<number, Question>();
  private readonly primary = new LoadSince();
  private readonly byWorker = new Map<number, LoadSince>();
  private reading: Promise<HostLoad> | undefined;

  /** `workers`: the workers alive now (one that has exited cannot answer, and is not asked). */
  constructor(
    private readonly workers: () => readonly AskedWorker[],
    private readonly timeoutMs = ANSWER_TIMEOUT_MS,
    private readonly totals: () => ThreadTotals = threadTotals,
  ) {}

  /** The host's load now; every metric collected in the same scrape shares one reading (one question per worker). */
  read(): Promise<HostLoad> {
    this.reading ??= this.ask().finally(() => {
      this.reading = undefined;
    });
    return this.reading;
  }

  answer(m: Extract<WorkerToPrimary, { type: 'thread-stats' }>): void {
    const q = this.questions.get(m.id);
    if (!q) return; // after the scrape gave up on it: the next answer's totals cover this one's time
    let since = this.byWorker.get(m.worker);
    if (!since) this.byWorker.set(m.worker, (since = new LoadSince()));
    const load = since.next({ activeMs: m.activeMs, idleMs: m.idleMs, heapUsedBytes: m.heapUsedBytes });
    q.answers.set(m.worker, { worker: m.worker, responseSeconds: (performance.now() - q.askedAt) / 1000, load });
    if (q.answers.size === q.expected) q.finish();
  }

  private ask(): Promise<HostLoad> {
    const id = this.nextId++;
    const workers = this.workers();
    const primary = this.primary.next(this.totals());
    return new Promise((resolve) => {
      const answers = new Map<number, WorkerLoad>();
      const finish = () => {
        clearTimeout(timer);
        this.questions.delete(id);
        resolve({ primary, workers: workers.map((w) => answers.get(w.index) ?? { worker: w.index, responseSeconds: this.timeoutMs / 1000 }) });
      };
      const timer = setTimeout(finish, this.timeoutMs);
      this.questions.set(id, { askedAt: performance.now(), expected: workers.length, answers, finish });
      for (const w of workers) w.post({ type: 'thread-stats-request', id });
      if (workers.length === 0) finish();
    });
  }
}
