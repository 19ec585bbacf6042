// A measurement window: wall time and the CPU seconds of the server, of the loader and of the whole
// machine between two samples, so each figure can be read against who was using the cores.
import { availableParallelism } from 'node:os';
import { type MachineCpu, type ProcessCpu, coresBusy, machineCpu, processCpu, sumCpuSeconds } from './procStat.ts';

interface Sample {
  at: number;
  server: ProcessCpu;
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
  /** Cores the loader (this process and its children) kept busy on average. */
  loaderCores: number;
  /** Cores busy machine-wide; what is neither server nor loader is other work on the machine. */
  machineCores: number;
  otherCores: number;
}

export class MeasureWindow {
  private readonly start: Sample;

  constructor(
    private readonly serverPid: number,
    private readonly loaderPids: readonly number[],
  ) {
    this.start = this.sample();
  }

  private sample(): Sample {
    return {
      at: performance.now(),
      server: processCpu(this.serverPid),
      loader: sumCpuSeconds([process.pid, ...this.loaderPids]),
      machine: machineCpu(),
    };
  }

  end(): WindowCpu {
    const b = this.sample();
    const a = this.start;
    const seconds = (b.at - a.at) / 1000;
    const serverSystem = b.server.system - a.server.system;
    const serverCpuSeconds = b.server.user - a.server.user + serverSystem;
    const serverCores = serverCpuSeconds / seconds;
    const loaderCores = (b.loader - a.loader) / seconds;
    const machineCores = coresBusy(a.machine, b.machine, availableParallelism());
    return {
      seconds,
      serverCpuSeconds,
      serverKernelShare: serverCpuSeconds > 0 ? serverSystem / serverCpuSeconds : 0,
      serverCores,
      loaderCores,
      machineCores,
      otherCores: Math.max(0, machineCores - serverCores - loaderCores),
    };
  }
}
