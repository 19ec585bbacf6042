// Hot metric counters that workers bump on every frame, kept in a SharedArrayBuffer so the primary can
// read them at scrape time without a round trip. Each worker writes only its own region (one writer per
// slot, so plain Float64 adds are safe); the primary sums the regions.
import { type ChannelType, channelType } from '../protocol/channels.ts';

export const CHANNEL_TYPES: readonly ChannelType[] = ['public', 'private', 'private_encrypted', 'presence', 'cache'];
const CHANNEL_TYPE_INDEX = new Map(CHANNEL_TYPES.map((t, i) => [t, i]));

/** A channel's slot among CHANNEL_TYPES: its `channel_type` label in the per-type counters and latency series. */
export function channelTypeIndex(channel: string): number {
  return CHANNEL_TYPE_INDEX.get(channelType(channel)) ?? 0;
}

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

/** Upper bounds (ms) of the broadcast latency histogram, Sockudo's; a last, unbounded bucket follows. */
export const LATENCY_BUCKETS_MS = [0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000] as const;

/** `recipient_count_bucket` of sockudo_broadcast_latency_ms, with the largest recipient count of each (Sockudo's). */
export const RECIPIENT_BUCKETS = ['xs', 'sm', 'md', 'lg', 'xl'] as const;
const RECIPIENT_BUCKET_MAX = [10, 100, 1000, 10_000] as const;

/** Slots of one latency series (one channel type and recipient bucket): its buckets, then its sum and count. */
export const LATENCY_SERIES_SLOTS = LATENCY_BUCKETS_MS.length + 3;
/** A latency series' first slot within an app's row, past FIELD.latency. */
export function latencySeries(channelTypeIndex: number, recipientBucketIndex: number): number {
  return (channelTypeIndex * RECIPIENT_BUCKETS.length + recipientBucketIndex) * LATENCY_SERIES_SLOTS;
}

const T = CHANNEL_TYPES.length;
const AFTER_ERRORS = 8 + 2 * T + ERROR_TYPES.length;
export const FIELD = {
  newConnections: 0,
  disconnections: 1,
  wsMessagesReceived: 2,
  wsMessagesSent: 3,
  socketBytesReceived: 4,
  socketBytesSent: 5,
  clientEventRateChecks: 6,
  clientEventRateLimited: 7,
  // subscriptions and unsubscriptions, one slot per channel type
  subscriptions: 8,
  unsubscriptions: 8 + T,
  errors: 8 + 2 * T,
  /** V2 deliveries a subscription filter held back; V2 client events not echoed to their sender. */
  filterSuppressed: AFTER_ERRORS,
  echoSuppressed: AFTER_ERRORS + 1,
  /** API rate-limit checks made on a worker (apps/apiRateBudget.ts), and those refused. */
  apiRateChecks: AFTER_ERRORS + 2,
  apiRateRefused: AFTER_ERRORS + 3,
  /** HTTP API calls a worker answered without the primary knowing of them (its 429s), and their bytes. */
  httpCalls: AFTER_ERRORS + 4,
  httpBytesReceived: AFTER_ERRORS + 5,
  httpBytesSent: AFTER_ERRORS + 6,
  /** HTTP publishes a worker held for a moment to write them together with the next ones (worker/fanoutHold.ts). */
  publishesHeld: AFTER_ERRORS + 7,
  /** sockudo_broadcast_latency_ms: a series per channel type and recipient bucket (latencySeries). */
  latency: AFTER_ERRORS + 8,
} as const;
const FIELDS_PER_APP = FIELD.latency + T * RECIPIENT_BUCKETS.length * LATENCY_SERIES_SLOTS;

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

  /** Worker side: one channel's broadcast latency into its series (by channel type and the sockets it reached). */
  observeLatency(appIndex: number, ms: number, channelTypeIndex: number, recipients: number): void {
    let r = 0;
    while (r < RECIPIENT_BUCKET_MAX.length && recipients > RECIPIENT_BUCKET_MAX[r]) r++;
    const series = FIELD.latency + latencySeries(channelTypeIndex, r);
    let i = 0;
    while (i < LATENCY_BUCKETS_MS.length && ms > LATENCY_BUCKETS_MS[i]) i++;
    this.add(appIndex, series + i);
    this.add(appIndex, series + LATENCY_BUCKETS_MS.length + 1, ms);
    this.add(appIndex, series + LATENCY_BUCKETS_MS.length + 2);
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
