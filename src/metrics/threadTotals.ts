// What one thread can say about its own load, read on that thread at scrape time (a worker's heap and event
// loop are not visible from the primary): running totals, so whoever reads them twice gets the load between
// the two readings, and a reading that is lost (a scrape that gave up waiting) loses nothing. No timer: an idle
// host stays asleep.
import { performance } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';

export interface ThreadTotals {
  /** Milliseconds the event loop has spent running (not waiting for events) since the thread started. */
  activeMs: number;
  /** Milliseconds it has spent waiting. */
  idleMs: number;
  heapUsedBytes: number;
}

export function threadTotals(): ThreadTotals {
  const { active, idle } = performance.eventLoopUtilization();
  return { activeMs: active, idleMs: idle, heapUsedBytes: getHeapStatistics().used_heap_size };
}
