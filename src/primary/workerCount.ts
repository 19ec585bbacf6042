// How many uWS worker threads a host runs when the configuration leaves it to the server.
import { availableParallelism } from 'node:os';

/**
 * `workers: 0` means one worker per core minus the one the primary thread needs (at least one): the
 * primary authenticates, orders and serializes every publish and owns presence, so it is busy exactly
 * when the workers are. On a 2-core machine a second worker only competed with the primary and the
 * clients for the same cores (docs/benchmarks.md: fan-out 1.4–1.6× the deliveries at 0.5–0.6× the CPU per delivery).
 */
export function resolveWorkerCount(configured: number, cores: number = availableParallelism()): number {
  return configured > 0 ? configured : Math.max(1, cores - 1);
}
