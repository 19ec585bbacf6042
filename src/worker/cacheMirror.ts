// A worker's copy of the last HTTP-published frame of each cache channel topic, so a new subscriber gets
// it without a round trip to the primary. Every worker receives every publish, so every copy is complete.
import { ExpiringMap } from '../expiringMap.ts';

export class CacheMirror {
  private readonly frames = new ExpiringMap<string, string>(100_000);

  store(topic: string, frame: string, ttlMs: number): void {
    this.frames.set(topic, frame, ttlMs);
  }

  get(topic: string): string | undefined {
    return this.frames.get(topic);
  }
}
