// Resident memory of a server process, read from /proc/PID/status (VmRSS covers every thread of the
// process, so a multi-threaded server counts once), and a reading taken only once it has settled: garbage
// from start-up or from a burst of handshakes, lazily compiled code and a growing heap move RSS for a
// while. Nothing is done to the process to make it settle (no GC is forced); the reading just waits.
import { readFileSync, readdirSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

export interface RssReading {
  /** VmRSS: resident set, bytes. */
  rssBytes: number;
  /** RssAnon: the anonymous part (heaps, native allocations), bytes. */
  anonBytes: number;
}

export function readRss(pid: number): RssReading {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN) * 1024;
  return { rssBytes: kib('VmRSS'), anonBytes: kib('RssAnon') };
}

export interface SettledRss extends RssReading {
  /** Whether RSS stayed within the tolerance for the whole quiet window before the deadline. */
  settled: boolean;
  /** Seconds spent waiting. */
  seconds: number;
}

export interface SettleOptions {
  /** How long every reading must stay within `tolerance` of the last one. */
  quietSeconds: number;
  /** Give up (settled: false) after this long. */
  deadlineSeconds: number;
  intervalMs?: number;
  /** Relative: 0.01 = 1 %. */
  tolerance?: number;
}

/**
 * Polls every `intervalMs` until the readings of the last `quietSeconds` all lie within `tolerance` of the
 * latest one. Two readings 500 ms apart are not enough for a V8 process: its memory reducer collects in
 * steps about 8 s apart after a major GC (a fresh sockudo-ts drops from ~182 to ~129 MiB 8–17 s after
 * start with no connection at all), so the quiet window has to be longer than that.
 */
export async function settledRss(pid: number, o: SettleOptions): Promise<SettledRss> {
  const intervalMs = o.intervalMs ?? 500;
  const tolerance = o.tolerance ?? 0.01;
  const window = Math.max(2, Math.ceil((o.quietSeconds * 1000) / intervalMs) + 1);
  const started = performance.now();
  const readings: RssReading[] = [readRss(pid)];
  for (;;) {
    await sleep(intervalMs);
    const current = readRss(pid);
    readings.push(current);
    if (readings.length > window) readings.shift();
    const seconds = (performance.now() - started) / 1000;
    const settled = readings.length === window && readings.every((r) => Math.abs(r.rssBytes - current.rssBytes) < tolerance * current.rssBytes);
    if (settled || seconds >= o.deadlineSeconds) return { ...current, settled, seconds };
  }
}

/**
 * The child processes of `pid` (from /proc/PID/task/TID/children): none for a server whose threads are all
 * in one process, which is what makes its VmRSS the whole server's memory.
 */
export function childPids(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap((tid) =>
      readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8')
        .split(/\s+/)
        .filter((x) => x !== '')
        .map(Number),
    );
  } catch {
    return [];
  }
}
