// Per-thread load for /metrics (Sockudo reports its runtime's workers the same way): at scrape time the primary
// samples itself and asks every worker (`thread-stats-request`), waiting at most ANSWER_TIMEOUT_MS so that a
// stuck worker cannot hang the scrape; it is then reported by how long it has kept the question unanswered.
import type { PrimaryToWorker, WorkerToPrimary } from '../ipc/messages.ts';
import { ThreadLoad, type ThreadLoadSample } from './threadLoad.ts';

export const ANSWER_TIMEOUT_MS = 1000;

export interface WorkerLoad {
  worker: number;
  /** From the question to the answer: the worker's event-loop lag plus the queue ahead of the question. */
  responseSeconds: number;
  /** Missing when the worker did not answer in time. */
  load?: ThreadLoadSample;
}

export interface HostLoad {
  primary: ThreadLoadSample;
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

export class ThreadStats {
  private nextId = 0;
  private readonly questions = new Map<number, Question>();
  private readonly primaryLoad = new ThreadLoad();
  private reading: Promise<HostLoad> | undefined;

  constructor(
    private readonly workers: () => readonly AskedWorker[],
    private readonly timeoutMs = ANSWER_TIMEOUT_MS,
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
    if (!q) return; // answered after the scrape gave up on it
    q.answers.set(m.worker, { worker: m.worker, responseSeconds: (performance.now() - q.askedAt) / 1000, load: { busyRatio: m.busyRatio, heapUsedBytes: m.heapUsedBytes } });
    if (q.answers.size === q.expected) q.finish();
  }

  private ask(): Promise<HostLoad> {
    const id = this.nextId++;
    const workers = this.workers();
    const primary = this.primaryLoad.sample();
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
