// Presence leaves of sockets that dropped without a clean close, held back for the configured time
// (config.presence.*ungraceful_timeout_seconds, Sockudo's presence lease). They are held here, on the primary,
// and not on the worker that saw the drop: a client that reconnects and joins again within the lease may land
// on any thread, and its join hands the member over to the new socket at once (takeOver), so that the new
// socket's own clean close removes the member then, not when the old lease would have ended.
interface HeldLeave {
  timer: NodeJS.Timeout;
  leave: () => void;
}

export class PresenceLeases {
  /** Held leaves by `${app}\n${channel}\n${userId}`, then by socket id. */
  private readonly held = new Map<string, Map<string, HeldLeave>>();

  /** Set by close(): the host is stopping, so no leave is held any more. */
  private closed = false;

  /** Runs `leave` after `ms`, unless the member's next join (takeOver) or close() runs it first. */
  hold(app: number, channel: string, userId: string, socketId: string, ms: number, leave: () => void): void {
    if (this.closed) return leave();
    const key = leaseKey(app, channel, userId);
    let sockets = this.held.get(key);
    if (!sockets) this.held.set(key, (sockets = new Map()));
    const before = sockets.get(socketId);
    if (before) clearTimeout(before.timer);
    const timer = setTimeout(() => {
      const now = this.held.get(key);
      now?.delete(socketId);
      if (now?.size === 0) this.held.delete(key);
      leave();
    }, ms);
    sockets.set(socketId, { timer, leave });
  }

  /**
   * The member joined again with `socketId`: the leaves held for its other dropped sockets in the channel run
   * now. The caller runs this after the join, so the member keeps a socket and nobody sees it leave.
   */
  takeOver(app: number, channel: string, userId: string, socketId: string): void {
    const key = leaseKey(app, channel, userId);
    const sockets = this.held.get(key);
    if (!sockets) return;
    this.held.delete(key);
    for (const [id, h] of sockets) {
      clearTimeout(h.timer);
      // A socket id is never reused, so `socketId` (the live joiner) is never among the dropped ones.
      if (id !== socketId) h.leave();
    }
  }

  /**
   * Every leave still held runs now, and later ones are not held (the host is stopping: nothing must outlive
   * it, and the members leave before their channels are vacated).
   */
  close(): void {
    this.closed = true;
    const all = [...this.held.values()];
    this.held.clear();
    for (const sockets of all) {
      for (const h of sockets.values()) {
        clearTimeout(h.timer);
        h.leave();
      }
    }
  }

  get size(): number {
    let n = 0;
    for (const sockets of this.held.values()) n += sockets.size;
    return n;
  }
}

function leaseKey(app: number, channel: string, userId: string): string {
  return `${app}\n${channel}\n${userId}`;
}
