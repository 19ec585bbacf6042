// CPU time from /proc: a process's utime+stime (the kernel sums every thread of the process into
// /proc/PID/stat) and the machine's busy/total jiffies from /proc/stat.
import { readFileSync, readdirSync } from 'node:fs';

/** Linux USER_HZ; 100 on every mainstream kernel (`getconf CLK_TCK`). */
const TICKS_PER_SECOND = 100;

export interface ProcessCpu {
  user: number;
  system: number;
}

/** CPU seconds in user and kernel mode, all threads, the process has used so far. */
export function processCpu(pid: number): ProcessCpu {
  return statCpu(readFileSync(`/proc/${pid}/stat`, 'utf8'));
}

/** CPU seconds (user + system) of each thread of the process so far, by thread id; threads that ended are absent. */
export function threadCpuSeconds(pid: number): Map<number, number> {
  const byThread = new Map<number, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const { user, system } = statCpu(readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8'));
      byThread.set(Number(tid), user + system);
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return byThread;
}

function statCpu(stat: string): ProcessCpu {
  // The command name (field 2) may hold spaces or parentheses; the fields after its last ')' are fixed.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { user: Number(fields[11]) / TICKS_PER_SECOND, system: Number(fields[12]) / TICKS_PER_SECOND };
}

/** CPU seconds (user + system, all threads) the process has used so far. */
export function processCpuSeconds(pid: number): number {
  const { user, system } = processCpu(pid);
  return user + system;
}

export interface MachineCpu {
  busy: number;
  total: number;
}

/** Jiffies summed over all CPUs; busy excludes idle and iowait. */
export function machineCpu(): MachineCpu {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0];
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const total = v.slice(0, 8).reduce((a, b) => a + b, 0); // user..steal; guest is already inside user
  const idle = v[3] + v[4];
  return { busy: total - idle, total };
}

/** Machine-wide CPU in use between two samples, in cores (0..nproc). */
export function coresBusy(a: MachineCpu, b: MachineCpu, cores: number): number {
  const total = b.total - a.total;
  return total > 0 ? ((b.busy - a.busy) / total) * cores : 0;
}

/** CPU seconds of several processes, summed; a process that has exited counts as 0. */
export function sumCpuSeconds(pids: readonly number[]): number {
  let sum = 0;
  for (const pid of pids) {
    try {
      sum += processCpuSeconds(pid);
    } catch {
      // The process has exited; its time is no longer readable and it is not part of the window.
    }
  }
  return sum;
}
