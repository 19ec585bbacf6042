// The clock latency is measured with: CLOCK_MONOTONIC through process.hrtime, in microseconds. On Linux it
// is one clock for every process of the machine, so a send time taken in the benchmark process can be
// subtracted from a receive time taken in the probe process.

export function monotonicUs(): number {
  return Number(process.hrtime.bigint()) / 1000;
}
