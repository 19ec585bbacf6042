// Hot metric counters that workers bump on every frame, kept in a SharedArrayBuffer so the primary can
// read them at scrape time without a round trip. Each worker writes only its own region (one writer per
// slot, so plain Float64 adds are safe); the primary sums the regions.
import type { ChannelType } from '../protocol/channels.ts';

export const CHANNEL_TYPES: readonly ChannelType[] = ['public', 'private', 'private_encrypted', 'presence', 'cache'];

export const FIELD = {
  newConnections: 0,
  disconnections: 1,
  wsMessagesReceived: 2,
  wsMessagesSent: 3,
  socketBytesReceived: 4,
  socketBytesSent: 5,
  // subscriptions and unsubscriptions, one slot per channel type
  subscriptions: 6,
  unsubscriptions: 6 + CHANNEL_TYPES.length,
} as const;
const FIELDS_PER_APP = 6 + 2 * CHANNEL_TYPES.length;

export class WorkerCounters {
  private readonly values: Float64Array;
  private readonly base: number;

  constructor(
    buffer: SharedArrayBuffer,
    private readonly workerCount: number,
    private readonly appCount: number,
    workerIndex: number,
  ) {
    this.values = new Float64Array(buffer);
    this.base = workerIndex * appCount * FIELDS_PER_APP;
  }

  static allocate(workerCount: number, appCount: number): SharedArrayBuffer {
    return new SharedArrayBuffer(8 * workerCount * appCount * FIELDS_PER_APP);
  }

  /** Worker side: adds to this worker's own slot. */
  add(appIndex: number, field: number, n = 1): void {
    this.values[this.base + appIndex * FIELDS_PER_APP + field] += n;
  }

  /** Primary side: the sum over every worker. */
  sum(appIndex: number, field: number): number {
    let total = 0;
    const stride = this.appCount * FIELDS_PER_APP;
    for (let w = 0; w < this.workerCount; w++) total += this.values[w * stride + appIndex * FIELDS_PER_APP + field];
    return total;
  }
}
