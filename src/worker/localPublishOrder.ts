// When a worker may deliver a publish it admitted (worker/publishAdmission.ts) to its own V1 subscribers at
// once, instead of waiting for the primary's answer (`publishes-taken`): two thread crossings less between the
// publisher and the subscribers (idle-channel latency p50 0.75×, docs/benchmarks.md "Session 9"). Only for
// occasional publishes: the primary has taken every earlier one of this worker (PublishAdmission
// .primaryCaughtUp), none with recipients went out here within STREAMING_MS, and the loop was not BUSY_LOOP
// busy since the previous one. A stream of publishes waits for the primary, whose answers come several per
// message, so uWS writes each socket once per turn (fan-out fell to 0.6–0.9× without those conditions).
//
// The host-wide order of API requests (ipc/requestOrder.ts) must still hold on this thread: a publish stamped
// s may only reach this worker's sockets once the V1 deliveries of every earlier stamp have. The worker knows
// that for stamps up to a watermark: the primary puts on each hand-over of `frames` and each answer of
// `publishes-taken` the last stamp up to which it has finished every request (InOrder.settledThrough:
// everything it did for those stamps was posted to this worker ahead of the message; a request still waiting
// for something, such as an idempotency claim, holds the figure back), and a publish delivered here moves the
// watermark itself. When the watermark is not s − 1 (another request is still on its way through the primary),
// the publish waits for the primary's answer like any other. V2 positions (serials) come in stamp order: the
// worker gives them itself when it can (worker/positionTracker.ts: a claim means it has seen every earlier
// position), else the primary's answer brings them and the V2 side of a publish delivered here goes out then.

import { performance } from 'node:perf_hooks';

/**
 * A publish with recipients went out on this thread less than this long ago: publishes are streaming, and
 * going through the primary hands them over several at a time, so uWS writes each socket once per turn.
 */
export const STREAMING_MS = 2;

/** Event-loop utilization (since LoopLoad was last asked) above which publishes count as streaming. */
export const BUSY_LOOP = 0.6;

/**
 * How busy this thread's event loop was since the last time it was asked: a publish read right after uWS spent
 * milliseconds writing a fan-out is part of a stream, though the last hand-over was longer ago than STREAMING_MS.
 */
export class LoopLoad {
  private last = performance.eventLoopUtilization();

  busy(): boolean {
    const now = performance.eventLoopUtilization();
    const busy = performance.eventLoopUtilization(now, this.last).utilization > BUSY_LOOP;
    this.last = now;
    return busy;
  }
}

export class LocalPublishOrder {
  /** Every stamp up to this one has had its V1 deliveries on this worker; -1: none yet (stamps start at 0). */
  private through = -1;

  /** Whether the publish stamped `seq` may be delivered here now; if so, it counts as delivered. */
  claim(seq: number): boolean {
    if (this.through !== ((seq - 1) | 0)) return false;
    this.through = seq;
    return true;
  }

  /** The primary has finished every stamp up to `through`, and this worker has applied what that posted here. */
  applied(through: number): void {
    // Distance along the wrapping Int32 counter: only ever move forward.
    if (((through - this.through) | 0) > 0) this.through = through;
  }
}
