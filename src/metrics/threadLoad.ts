// How busy one thread's event loop has been and how much V8 heap it holds, read at scrape time on the thread
// itself (a worker's heap and loop are not visible from the primary). No timer: an idle host stays asleep.
import { performance } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';

export interface ThreadLoadSample {
  /** Share of wall time the event loop spent running (not waiting) since the previous sample, 0–1. */
  busyRatio: number;
  heapUsedBytes: number;
}

export class ThreadLoad {
  private last = performance.eventLoopUtilization();

  sample(): ThreadLoadSample {
    const now = performance.eventLoopUtilization();
    const busyRatio = performance.eventLoopUtilization(now, this.last).utilization;
    this.last = now;
    return { busyRatio: Number.isFinite(busyRatio) ? busyRatio : 0, heapUsedBytes: getHeapStatistics().used_heap_size };
  }
}
