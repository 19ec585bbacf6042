// A measurement window: wall time and the CPU seconds of the server (one process or several hosts), of
// Redis when the hosts share one, of the loader and of the whole machine between two samples, so each
// figure can be read against who was using the cores. A server whose process is unknown (a target given by
// URL alone) has NaN server figures, and its CPU counts among the "other" cores.
import { availableParallelism } from 'node:os';
import { type MachineCpu, type ProcessCpu, coresBusy, machineCpu, processCpu, sumCpuSeconds, threadCpuSeconds } from './procStat.ts';

interface Sample {
  at: number;
  server: ProcessCpu;
  /** `${pid}/${tid}` → CPU seconds, for every thread of the server process(es). */
  serverThreads: Map<string, number>;
  redis: number;
  loader: number;
  machine: MachineCpu;
}

export interface WindowCpu {
  seconds: number;
  /** Server CPU seconds in the window (all its threads). */
  serverCpuSeconds: number;
  /** Share of the server's CPU time spent in the kernel (socket writes and reads, mostly). */
  serverKernelShare: number;
  /** Cores the server kept busy on average. */
  serverCores: number;
  /**
   * Cores each server thread kept busy, busiest first (threads under 0.01 cores left out): shows whether one
   * thread is the limit, or whether threads that hand work to each other take turns.
   */
  serverThreadCores: number[];
  /** Cores the loader (this process and its children) kept busy on average. */
  loaderCores: number;
  /** Cores busy machine-wide; what is neither server nor loader is other work on the machine. */
  machineCores: number;
  otherCores: number;
  /** Cores Redis kept busy (only when the window was given Redis's pid). */
  redisCores?: number;
}

export class MeasureWindow {
  private readonly start: Sample;

  private readonly serverPids: readonly number[];

  /** `server`: the server's pid, or every host's (null or none: unknown); `redisPids`: the Redis the hosts share, if any. */
  constructor(
    server: number | null | readonly number[],
    private readonly loaderPids: readonly number[],
    private readonly redisPids: readonly number[] = [],
  ) {
    this.serverPids = server === null ? [] : typeof server === 'number' ? [server] : server;
    this.start = this.sample();
  }

  private sample(): Sample {
    const server = { user: 0, system: 0 };
    const serverThreads = new Map<string, number>();
    for (const pid of this.serverPids) {
      const c = processCpu(pid);
      server.user += c.user;
      server.system += c.system;
      for (const [tid, seconds] of threadCpuSeconds(pid)) serverThreads.set(`${pid}/${tid}`, seconds);
    }
    return {
      at: performance.now(),
      server,
      serverThreads,
      redis: sumCpuSeconds(this.redisPids),
      loader: sumCpuSeconds([process.pid, ...this.loaderPids]),
      machine: machineCpu(),
    };
  }

  end(): WindowCpu {
    const b = this.sample();
    const a = this.start;
    const seconds = (b.at - a.at) / 1000;
    const known = this.serverPids.length > 0 ? 1 : Number.NaN;
    const serverSystem = (b.server.system - a.server.system) * known;
    const serverCpuSeconds = (b.server.user - a.server.user) * known + serverSystem;
    const serverCores = serverCpuSeconds / seconds;
    const loaderCores = (b.loader - a.loader) / seconds;
    const machineCores = coresBusy(a.machine, b.machine, availableParallelism());
    const redisCores = (b.redis - a.redis) / seconds;
    const serverThreadCores = [...b.serverThreads]
      .map(([thread, cpu]) => (cpu - (a.serverThreads.get(thread) ?? 0)) / seconds)
      .filter((cores) => cores >= 0.01)
      .sort((x, y) => y - x);
    return {
      seconds,
      serverCpuSeconds,
      serverKernelShare: serverCpuSeconds > 0 ? serverSystem / serverCpuSeconds : 0,
      serverCores,
      serverThreadCores,
      loaderCores,
      machineCores,
      otherCores: Math.max(0, machineCores - (Number.isNaN(serverCores) ? 0 : serverCores) - loaderCores - redisCores),
      ...(this.redisPids.length > 0 ? { redisCores } : {}),
    };
  }
}
