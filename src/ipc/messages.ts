// THE union of every message between the primary thread and the uWS worker threads.
// Dispatch on `type` with an exhaustive switch so a new message breaks the build until it is handled.
import type { Config } from '../config/schema.ts';
import type { ProtocolVersion } from '../protocol/frames.ts';

/** What a worker is started with (structured-cloned into workerData). */
export interface WorkerInit {
  index: number;
  workerCount: number;
  config: Config;
  /** Port to listen on; the first worker gets the configured one (maybe 0), the rest the port it reported. */
  port: number;
  /** Int32 connection counters shared by all threads (see apps/connectionQuota.ts). */
  connectionCounts: SharedArrayBuffer;
  /** BigUint64 API request budgets per app, shared by all threads (see apps/apiRateBudget.ts). */
  rateBudgets: SharedArrayBuffer;
  /** Float64 metric counters, one region per worker (see metrics/workerCounters.ts). */
  metricCounters: SharedArrayBuffer;
  /** Int32 subscriber counts per occupied channel, one region per worker (see channels/channelCounts.ts). */
  channelCounts: SharedArrayBuffer;
  /** Int32 connection counts per client-address bucket (see apps/ipQuota.ts). */
  ipCounts: SharedArrayBuffer;
  /** The Int32 counter that stamps API requests in host-wide order (see ipc/requestOrder.ts). */
  requestSequence: SharedArrayBuffer;
}

/**
 * What workers need of a V2 channel message beyond its frame: replay position and filter inputs. The data
 * is not repeated here: a filter that reads it parses the frame (see worker/v2Message.ts).
 */
export interface V2Meta {
  channel: string;
  event: string;
  /** Absent when the message has none (connection recovery off, none supplied by the publisher). */
  messageId?: string;
  streamId?: string;
  serial?: number;
  ephemeral: boolean;
  tags?: Record<string, string>;
  /** As published; V2 frames carry them whole, filters read `extras.headers`. */
  extras?: Record<string, unknown>;
  userId?: string;
  publishedAt: number;
}

/**
 * What the worker that admitted an HTTP publish needs from the primary to deliver it: per frame (each event's
 * channels in order) the message id and the V2 position (stream id '' and serial -1: none, e.g. ephemeral),
 * columns rather than an object per frame, which is what the structured clone charges for.
 */
export interface OwnPublishPositions {
  messageIds: string[];
  streamIds: string[];
  serials: number[];
  publishedAt: number;
}

/**
 * The primary has taken these `accepted-publish`es of one worker (it answers each, in stamp order) and delivered
 * them to the other workers: every answer queued for that worker in a row, as columns. For 50 single-event
 * publishes, an object with three arrays per publish cost the worker 1.25 µs each to take off the port, these
 * columns 0.34 µs (bench/micro/publishMessage.ts, docs/benchmarks.md "Session 14"). Publish `i` owns `counts[i]` entries of the per-message columns, after those of the publishes
 * before it; a count of -1 means it did not validate on the primary (a bug: nothing is delivered) and owns none.
 */
export interface PublishesTaken {
  type: 'publishes-taken';
  // Per publish:
  seqs: number[];
  counts: number[];
  publishedAt: number[];
  /** As `at` on `frames`. */
  at: number[];
  /** As `through` on `frames`, after this publish. */
  through: number[];
  // Per message (each event's channels in order), as in OwnPublishPositions:
  messageIds: string[];
  streamIds: string[];
  serials: number[];
}

/**
 * Frames for a worker's sockets: every hand-over the primary queued for one worker in a row (each Publisher
 * call that gave it TopicFrames), as columns built and read by ipc/frameColumns.ts. Hand-over `i` owns
 * `counts[i]` entries of the per-frame columns, after those of the hand-overs before it.
 */
export interface FrameColumns {
  type: 'frames';
  // Per hand-over:
  /** When the primary handed it over (epoch ms, fractional), for the broadcast latency metric. */
  at: number[];
  /**
   * The last request stamp up to which the primary had finished every request when it handed this over
   * (worker/localPublishOrder.ts): everything it did for those stamps was posted here before or with it.
   */
  through: number[];
  counts: number[];
  /** How many of `answers` come before it (the rest come after the last hand-over). */
  answersBefore: number[];
  /**
   * Answers to presence joins, in the order the primary made them among the hand-overs: joins and member frames
   * alternate in presence rooms, and a message per run of either cost the primary a quarter of its time.
   */
  answers: PresenceAnswers;
  // Per frame, as in TopicFrame:
  apps: number[];
  topics: string[];
  frames: string[];
  /** '' when no socket is excluded. */
  excludes: string[];
  /** 0 unless a cache channel's frame. */
  cacheTtlMs: number[];
  /** FRAME_V1, FRAME_V2 (TopicFrame.v2) or FRAME_V1_ALSO_V2 (TopicFrame.alsoV2): ipc/frameColumns.ts. */
  kinds: number[];
  // Per frame, the V2 fields (placeholders for FRAME_V1); stream id '' and serial NO_SERIAL: no position.
  channels: string[];
  events: string[];
  messageIds: string[];
  streamIds: string[];
  serials: number[];
  ephemeral: boolean[];
  publishedAt: number[];
  tags: (Record<string, string> | undefined)[];
  extras: (Record<string, unknown> | undefined)[];
  userIds: (string | undefined)[];
}

/** A presence join a worker asks the primary for (one entry of `presence-changes`), answered by a PresenceJoined. */
export interface PresenceJoin {
  type: 'presence-join';
  requestId: number;
  worker: number;
  app: number;
  channel: string;
  socketId: string;
  /** The joining socket's protocol: the primary builds member frames only for the versions in the channel. */
  protocol: ProtocolVersion;
  userId: string;
  userInfo: unknown;
}

/** A socket left a presence channel it had joined (one entry of `presence-changes`). */
export interface PresenceLeave {
  type: 'presence-leave';
  app: number;
  channel: string;
  socketId: string;
  userId: string;
  /**
   * The socket dropped without a clean close: the primary holds the leave for this long (the presence lease,
   * primary/presenceLeases.ts), unless the member joins again first. 0 or absent: it leaves now.
   */
  leaseMs?: number;
}

/** The primary's answer to a PresenceJoin (one entry of a `frames` message's `answers`). */
export type PresenceJoined =
  /** `dataJson`: the snapshot `{"presence":…}` written as a JSON string literal, ready for the frame's `data`. */
  | { type: 'presence-joined'; requestId: number; ok: true; dataJson: string }
  | { type: 'presence-joined'; requestId: number; ok: false; reason: 'full' | 'unavailable' };

/**
 * A worker's presence joins and leaves queued in a row, in the order it made them, as columns: an object per
 * join cost the worker, the busy thread in presence churn, twice as much to post (ipc/presenceColumns.ts).
 */
export interface PresenceChanges {
  type: 'presence-changes';
  worker: number;
  /** Per change: a join (answered by its request id) or a leave. */
  joins: boolean[];
  /** -1 for a leave. */
  requestIds: number[];
  apps: number[];
  channels: string[];
  socketIds: string[];
  /** The joining socket's protocol version; 0 for a leave. */
  protocols: (ProtocolVersion | 0)[];
  userIds: string[];
  /** undefined for a leave. */
  userInfos: unknown[];
  /** A leave's presence lease in ms (PresenceLeave.leaseMs); 0 for a join or a leave that is not held. */
  leaseMs: number[];
}

/** The primary's answers to one worker's presence joins, as columns (ipc/presenceColumns.ts), in a `frames` message. */
export interface PresenceAnswers {
  requestIds: number[];
  /** The presence data for subscription_succeeded as a JSON string literal (PresenceJoined.dataJson); '' when refused. */
  dataJson: string[];
  /** '' when accepted, else why not. */
  refusals: ('' | 'full' | 'unavailable')[];
}

/** One frame to hand to uWS under a topic; `exclude` is a socket_id that must not receive it. */
export interface TopicFrame {
  /** Index of the app in config.apps (for metrics). */
  app: number;
  topic: string;
  frame: string;
  exclude?: string;
  /** Set for HTTP publishes to cache channels: workers keep the frame for new subscribers this long. */
  cacheTtlMs?: number;
  /** Set on V2 channel frames (topic and frame are V2's): workers buffer them for resume/rewind and apply filters. */
  v2?: V2Meta;
  /**
   * Set on the V1 frame of an HTTP publish: the same message for V2 subscribers. Each worker derives the V2
   * frame from this V1 frame only when it has a V2 audience for the channel or replays the message, so a
   * channel nobody follows over V2 costs neither the primary nor the workers a second frame.
   */
  alsoV2?: V2Meta;
}

export interface HttpRequestMessage {
  type: 'http-request';
  /** Host-wide order stamp (ipc/requestOrder.ts). */
  seq: number;
  requestId: number;
  method: string;
  path: string;
  query: string;
  contentType: string;
  /** The X-Idempotency-Key header, '' when absent. */
  idempotencyKey: string;
  body: string;
  remoteAddress: string;
  /** Set when the worker found the request correctly signed for this app (worker/apiPrecheck.ts). */
  verifiedAppId?: string;
  /** Push routes only: x-sockudo-push-capability, the device identity token, the rotate flag, x-sockudo-push-quota-override. */
  push?: { capability: string; identityToken: string; rotate: boolean; quotaOverride: boolean };
}

export type WorkerToPrimary =
  /** Several messages of one event-loop turn (see outbox.ts). */
  | { type: 'batch'; messages: WorkerToPrimary[] }
  | { type: 'ready'; index: number; port: number; workerPort?: number }
  | HttpRequestMessage
  /**
   * A publish the worker has already answered with 200 (worker/publishAdmission.ts): signed, validated, to be
   * delivered. The primary answers `publishes-taken` with the messages' ids and positions, from which the worker
   * builds and delivers its own frames (the other workers get frames from the primary).
   */
  | {
      type: 'accepted-publish';
      seq: number;
      app: number;
      /**
       * The body as read, not the parsed events: with other workers to hand frames to, the primary parses and
       * validates it again with the same code (so it passes), which costs it less than the structured clone of
       * the parsed events cost the worker, the busier of the two threads (docs/benchmarks.md, "Session 11").
       */
      body: string;
      /** POST /batch_events (else /events). */
      batch: boolean;
      /**
       * Each message's channel (each event's channels, in the body's order), '' where its event is ephemeral, unless
       * it goes to a user's sockets (whose channel decides its message id): with no other worker, all the primary
       * needs, so it does not parse the body
       * (a quarter of its time in many-channels; docs/benchmarks.md "Session 16").
       */
      positionChannels: string[];
      /** Events marked ephemeral, for the metric. */
      ephemeralEvents: number;
      receivedBytes: number;
      sentBytes: number;
      /**
       * The message ids and positions the worker gave the messages (in positionChannels' order), when it could
       * (worker/positionTracker.ts): the primary adopts them instead of assigning its own.
       */
      positions?: OwnPublishPositions;
    }
  | { type: 'drained'; index: number }
  /** The first local subscriber of a channel arrived; its count lives in `slot` of the worker's region. */
  | { type: 'channel-occupied'; worker: number; app: number; channel: string; slot: number }
  /** The last local subscriber left; the primary answers `slot-released`. */
  | { type: 'channel-vacated'; worker: number; app: number; channel: string; slot: number }
  /** Presence joins and leaves, every one queued in a row (ipc/presenceColumns.ts). */
  | PresenceChanges
  /**
   * A V2 member changed its `user_info` (`sockudo:presence_update`, worker/presenceUpdate.ts): checked on the worker,
   * kept and announced by the primary. Queued after the socket's join and before its leave, so it meets its member.
   */
  | { type: 'presence-update'; app: number; channel: string; socketId: string; userId: string; userInfo: unknown }
  /**
   * A client event already delivered to V1 subscribers on the sender's thread; the primary relays the V1
   * frame to the other workers and builds the V2 frame (with its serial) for everyone.
   */
  | {
      type: 'client-event';
      worker: number;
      app: number;
      channel: string;
      event: string;
      data: unknown;
      v1Frame: string;
      userId?: string;
      socketId: string;
      /** False when the sender is a V2 socket that must not get its own event back. */
      echo: boolean;
    }
  | { type: 'user-signin'; worker: number; app: number; userId: string; socketId: string; watchlist: string[] }
  | { type: 'user-signout'; app: number; userId: string; socketId: string }
  /** A subscriber of a cache channel found nothing cached (only sent for apps with webhooks). */
  | { type: 'cache-miss'; app: number; channel: string }
  /** A V2 subscription opened a stream for a channel that had none here (worker/subscriptions.ts streamPosition). */
  | { type: 'stream-opened'; app: number; channel: string; streamId: string }
  /** The answer to `thread-stats-request`: this thread's running totals (metrics/threadTotals.ts). */
  | { type: 'thread-stats'; id: number; worker: number; activeMs: number; idleMs: number; heapUsedBytes: number };

export type PrimaryToWorker =
  /** Several messages of one event-loop turn (see outbox.ts). */
  | { type: 'batch'; messages: PrimaryToWorker[] }
  /** Frames for this worker's sockets and answers to its presence joins, everything queued in a row (ipc/frameColumns.ts). */
  | FrameColumns
  | { type: 'http-response'; requestId: number; status: number; contentType: string; body: string; headers?: Record<string, string> }
  | PublishesTaken
  /** Stop taking WebSocket upgrades, close sockets with 4200 over `windowMs`, report `drained`. */
  | { type: 'drain'; windowMs: number }
  /** Close the listen sockets and let the thread end. */
  | { type: 'stop' }
  | { type: 'slot-released'; slot: number }
  /** Close every socket signed in as this user with 4009. */
  /** terminate_connections (close 4009), or force_reconnect (`reconnect`: close 4200) of one user's sockets. */
  | { type: 'terminate-user'; app: number; userId: string; reconnect: boolean }
  /** Redis reachability changed: `/up` says DEGRADED while it is not. */
  | { type: 'health'; degraded: boolean }
  /** Watchlist state for one socket that just signed in: its watched users that are online, and those that are not. */
  | { type: 'watchlist'; socketId: string; onlineUserIds: string[]; offlineUserIds: string[] }
  /** A metrics scrape asks for this thread's load (answered with `thread-stats`, metrics/threadStats.ts). */
  | { type: 'thread-stats-request'; id: number }
  /** Cache channels' last events (V1 frames) a starting host loaded from the cluster (adapter/clusterCache.ts). */
  | { type: 'cache-entries'; apps: number[]; topics: string[]; frames: string[]; ttlMs: number[] }
  /** The channel's stream, as it stands after a worker opened one: kept as the channel's position if none is kept here. */
  | { type: 'stream-opened'; app: number; channel: string; streamId: string; serial: number };

export function assertNever(m: never): never {
  throw new Error(`unhandled message ${JSON.stringify(m)}`);
}
