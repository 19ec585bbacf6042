// Presence leaves of sockets that dropped without a clean close, held back for the configured time
// (config.presence.*ungraceful_timeout_seconds, Sockudo's presence lease): a client that reconnects and joins
// again within it joins as another socket of a member that never left, so its channels see no member_removed
// and member_added. The leave itself is unchanged when it goes: the primary drops that socket, and the member
// only if it was the user's last.
export class DelayedLeaves {
  private readonly pending = new Map<NodeJS.Timeout, () => void>();

  /** Runs `leave` after `ms`, or at flush(), whichever comes first. */
  delay(ms: number, leave: () => void): void {
    const timer = setTimeout(() => {
      this.pending.delete(timer);
      leave();
    }, ms);
    this.pending.set(timer, leave);
  }

  /** Every leave still held, now (the worker is draining or stopping: nothing must outlive it). */
  flush(): void {
    for (const [timer, leave] of this.pending) {
      clearTimeout(timer);
      leave();
    }
    this.pending.clear();
  }
}
