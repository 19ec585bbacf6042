// Publish → receive latency of one range of timed publishes, as the probes saw it: waits (bounded) until
// every probe has every accepted publish of the range, then summarizes. A sample that never arrived is not
// dropped (that would flatter a saturated server): it counts as "at least" the time from its send time to
// the moment the wait was given up, and the result says how many such censored samples it holds.
import { monotonicUs } from './clock.ts';
import type { ProbeFleet } from './probes.ts';
import { sleep } from './targets.ts';
import type { TimedPublisher } from './timedPublisher.ts';

export interface LatencySummary {
  /** Samples expected: publishes of the range not refused by the server × probes. */
  expectedSamples: number;
  /** Of which never received within the wait (counted at their lower bound). */
  censoredSamples: number;
  /** Nearest-rank percentiles over every expected sample, in ms. Lower bounds if censoredSamples > 0. */
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  maxMs: number;
  /** How late the publisher's timer fired against the schedule, ms (the publisher's; not in the latency). */
  timerLagP99Ms: number;
  /** Send time → request written: waiting for a free HTTP connection, ms (part of the latency). */
  connectionWaitP99Ms: number;
  connectionWaitMaxMs: number;
  /** Publishes of the range the server refused or failed (HTTP errors); excluded from the samples. */
  timedPublishFailures: number;
  /** Publishes of the range accepted by the server. */
  timedPublishes: number;
  probeLostSockets: number;
}

/** Nearest-rank percentile of ascending `sorted` (p in 0..100). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/**
 * Collects the latency of publishes from..to-1 (already scheduled; the publisher schedules no more of them),
 * each of which `perPublish` probes should receive (every probe by default; with several probe channels,
 * the probes of one channel). Gives up waiting after `waitMs`; publishes still queued for a connection then
 * are abandoned.
 */
export async function probeLatency(
  publisher: TimedPublisher,
  probes: ProbeFleet,
  from: number,
  to: number,
  waitMs: number,
  perPublish = probes.subscribed,
): Promise<LatencySummary> {
  const deadline = performance.now() + waitMs;
  for (;;) {
    let settled = true;
    for (let n = from; n < to && settled; n++) if (publisher.state[n] === 'pending') settled = false;
    if (settled && (await probes.collect(from, to, true)).received >= publisher.accepted(from, to) * perPublish) break;
    if (performance.now() > deadline) break;
    await sleep(100);
  }
  const gaveUpUs = monotonicUs();
  publisher.abandonWaiting();
  const got = await probes.collect(from, to);
  const seen = new Map<number, number>();
  for (const s of got.seqs) seen.set(s, (seen.get(s) ?? 0) + 1);
  const values = [...got.latenciesUs];
  const lags: number[] = [];
  const waits: number[] = [];
  let censored = 0;
  let failures = 0;
  for (let n = from; n < to; n++) {
    if (publisher.state[n] === 'failed') {
      failures++;
      continue;
    }
    if (publisher.timerLagUs[n] !== undefined) lags.push(publisher.timerLagUs[n]);
    if (publisher.connectionWaitUs[n] !== undefined) waits.push(publisher.connectionWaitUs[n]);
    const missing = Math.max(0, perPublish - (seen.get(n) ?? 0));
    censored += missing;
    for (let i = 0; i < missing; i++) values.push(gaveUpUs - publisher.sentAtUs[n]);
  }
  values.sort((a, b) => a - b);
  lags.sort((a, b) => a - b);
  waits.sort((a, b) => a - b);
  const ms = (us: number) => us / 1000;
  return {
    expectedSamples: values.length,
    censoredSamples: censored,
    p50Ms: ms(percentile(values, 50)),
    p95Ms: ms(percentile(values, 95)),
    p99Ms: ms(percentile(values, 99)),
    maxMs: ms(values.length ? values[values.length - 1] : Number.NaN),
    timerLagP99Ms: ms(percentile(lags, 99)),
    connectionWaitP99Ms: ms(percentile(waits, 99)),
    connectionWaitMaxMs: ms(waits.length ? waits[waits.length - 1] : Number.NaN),
    timedPublishFailures: failures,
    timedPublishes: publisher.accepted(from, to),
    probeLostSockets: got.lostSockets,
  };
}
