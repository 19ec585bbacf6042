// Hot metric counters that workers bump on every frame, kept in a SharedArrayBuffer so the primary can
// read them at scrape time without a round trip. Each worker writes only its own region (one writer per
// slot, so plain Float64 adds are safe); the primary sums the regions.
import type { ChannelType } from '../protocol/channels.ts';

export const CHANNEL_TYPES: readonly ChannelType[] = ['public', 'private', 'private_encrypted', 'presence', 'cache'];

/** `error_type` labels of sockudo_connection_errors_total, by pusher:error code (4000 split by cause). */
export const ERROR_TYPES = [
  'invalid_message_format',
  'missing_event_name',
  'app_not_found',
  'app_disabled',
  'over_quota',
  'authentication_failed',
  'over_capacity',
  'server_shutdown',
  'pong_timeout',
  'channel_error',
  'client_event_error',
  'origin_not_allowed',
] as const;

/** The error_type of a refusal: by its code, except the two Sockudo tells apart from others of the same code. */
export function errorTypeIndex(code: number, missingEvent: boolean, originNotAllowed = false): number {
  const type =
    originNotAllowed ? 'origin_not_allowed'
    : code === 4000 ? (missingEvent ? 'missing_event_name' : 'invalid_message_format')
    : code === 4001 ? 'app_not_found'
    : code === 4003 ? 'app_disabled'
    : code === 4004 ? 'over_quota'
    : code === 4009 ? 'authentication_failed'
    : code === 4100 ? 'over_capacity'
    : code === 4200 ? 'server_shutdown'
    : code === 4201 ? 'pong_timeout'
    : code === 4300 ? 'channel_error'
    : 'client_event_error';
  return ERROR_TYPES.indexOf(type);
}

/** Upper bounds (ms) of the broadcast latency histogram; a last, unbounded bucket follows. */
export const LATENCY_BUCKETS_MS = [0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000] as const;

const T = CHANNEL_TYPES.length;
/** The first slot after the latency histogram's buckets (the bounded ones and the last, unbounded one). */
const AFTER_BUCKETS = 10 + 2 * T + ERROR_TYPES.length + LATENCY_BUCKETS_MS.length + 1;
export const FIELD = {
  newConnections: 0,
  disconnections: 1,
  wsMessagesReceived: 2,
  wsMessagesSent: 3,
  socketBytesReceived: 4,
  socketBytesSent: 5,
  clientEventRateChecks: 6,
  clientEventRateLimited: 7,
  latencySum: 8,
  latencyCount: 9,
  // subscriptions and unsubscriptions, one slot per channel type
  subscriptions: 10,
  unsubscriptions: 10 + T,
  errors: 10 + 2 * T,
  latencyBuckets: 10 + 2 * T + ERROR_TYPES.length,
  /** V2 deliveries a subscription filter held back; V2 client events not echoed to their sender. */
  filterSuppressed: AFTER_BUCKETS,
  echoSuppressed: AFTER_BUCKETS + 1,
  /** API rate-limit checks made on a worker (apps/apiRateBudget.ts), and those refused. */
  apiRateChecks: AFTER_BUCKETS + 2,
  apiRateRefused: AFTER_BUCKETS + 3,
  /** HTTP API calls a worker answered without the primary knowing of them (its 429s), and their bytes. */
  httpCalls: AFTER_BUCKETS + 4,
  httpBytesReceived: AFTER_BUCKETS + 5,
  httpBytesSent: AFTER_BUCKETS + 6,
  /** HTTP publishes a worker held for a moment to write them together with the next ones (worker/fanoutHold.ts). */
  publishesHeld: AFTER_BUCKETS + 7,
} as const;
const FIELDS_PER_APP = FIELD.publishesHeld + 1;

export class WorkerCounters {
  private readonly values: Float64Array;
  private readonly base: number;

  private readonly rows: number;

  /** One row per app, plus a last row (index appCount) for connections to unknown app keys. */
  constructor(
    buffer: SharedArrayBuffer,
    private readonly workerCount: number,
    appCount: number,
    workerIndex: number,
  ) {
    this.values = new Float64Array(buffer);
    this.rows = appCount + 1;
    this.base = workerIndex * this.rows * FIELDS_PER_APP;
  }

  static allocate(workerCount: number, appCount: number): SharedArrayBuffer {
    return new SharedArrayBuffer(8 * workerCount * (appCount + 1) * FIELDS_PER_APP);
  }

  /** Worker side: one broadcast's latency into the histogram. */
  observeLatency(appIndex: number, ms: number): void {
    this.add(appIndex, FIELD.latencySum, ms);
    this.add(appIndex, FIELD.latencyCount);
    let i = 0;
    while (i < LATENCY_BUCKETS_MS.length && ms > LATENCY_BUCKETS_MS[i]) i++;
    this.add(appIndex, FIELD.latencyBuckets + i);
  }

  /** Worker side: adds to this worker's own slot. */
  add(appIndex: number, field: number, n = 1): void {
    this.values[this.base + appIndex * FIELDS_PER_APP + field] += n;
  }

  /** Primary side: the sum over every worker. */
  sum(appIndex: number, field: number): number {
    let total = 0;
    const stride = this.rows * FIELDS_PER_APP;
    for (let w = 0; w < this.workerCount; w++) total += this.values[w * stride + appIndex * FIELDS_PER_APP + field];
    return total;
  }
}
