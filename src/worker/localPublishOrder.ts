// When a worker may deliver a publish it admitted (worker/publishAdmission.ts) to its own V1 subscribers at
// once, instead of waiting for the primary to send the frames back: two thread crossings less between the
// publisher and the subscribers (docs/benchmarks.md "Session 9"). Only when the primary has taken every
// earlier publish of this worker (PublishAdmission.primaryCaughtUp): under load the primary hands publishes
// over several at a time, and uWS writes each socket's frames of one turn in one go (fan-out 0.65× without
// that condition).
//
// The host-wide order of API requests (ipc/requestOrder.ts) must still hold on this thread: a publish stamped
// s may only reach this worker's sockets once the V1 deliveries of every earlier stamp have. The worker knows
// that for stamps up to a watermark: the primary puts on each `publish` message the last stamp it has started
// (everything it did for that stamp and the ones before was posted to this worker ahead of the message), and a
// publish delivered here moves the watermark itself. When the watermark is not s − 1 (another request is
// still on its way through the primary), the publish goes the ordinary way and the primary delivers it.
// V2 frames (serials) always come from the primary, in stamp order.

/**
 * A publish with recipients went out on this thread less than this long ago: publishes are streaming, and
 * going through the primary hands them over several at a time, so uWS writes each socket once per turn.
 */
export const STREAMING_MS = 2;

export class LocalPublishOrder {
  /** Every stamp up to this one has had its V1 deliveries on this worker; -1: none yet (stamps start at 0). */
  private through = -1;

  /** Whether the publish stamped `seq` may be delivered here now; if so, it counts as delivered. */
  claim(seq: number): boolean {
    if (this.through !== ((seq - 1) | 0)) return false;
    this.through = seq;
    return true;
  }

  /** The primary has started every stamp up to `through`, and this worker has applied what that posted here. */
  applied(through: number): void {
    // Distance along the wrapping Int32 counter: only ever move forward.
    if (((through - this.through) | 0) > 0) this.through = through;
  }
}
