// The one interface every push storage backend implements (SQLite embedded, PostgreSQL for several hosts).
// Every method is atomic on its own; the scheduler's correctness (no device sent a publish twice, every
// publish reaches a terminal state) rests on the guarantees written next to each method.
import type { ChannelSubscription, DeadLetter, Delivery, DeliveryState, DeviceRecord, Page, PublishCounters, PublishRecord, PublishState } from './types.ts';

export interface PageQuery {
  limit: number;
  cursor: string | null;
}

/** The outcome of one provider attempt, as the scheduler records it. */
export type DeliveryOutcome =
  | { kind: 'succeeded' }
  /** Try again at `nextAtMs` (attempts already counted). */
  | { kind: 'retry'; nextAtMs: number; error: string }
  /** Never try again; `dead` ones are listed as dead letters. */
  | { kind: 'failed' | 'dead'; error: string };

/** Kinds of small JSON documents an app keeps by id: notification templates, delivery-status events, provider credentials. */
export type DocumentKind = 'template' | 'deliveryEvent' | 'credential';

export interface PushStore {
  /** Creates tables on first use. */
  init(): Promise<void>;
  close(): Promise<void>;

  /** Inserts or replaces a device (by app and id); 'created' when it did not exist. */
  upsertDevice(device: DeviceRecord): Promise<'created' | 'updated'>;
  getDevice(appId: string, id: string): Promise<DeviceRecord | null>;
  listDevices(appId: string, page: PageQuery): Promise<Page<DeviceRecord>>;
  /** Removes the device and its channel subscriptions. */
  deleteDevice(appId: string, id: string): Promise<boolean>;
  deleteDevicesOfClient(appId: string, clientId: string): Promise<number>;
  /**
   * An invalid-token answer for the token whose hash is `tokenHash`: the device is marked FAILED and leaves its
   * channels, atomically, only if that is still its token (false when it re-registered with another one).
   */
  markDeviceInvalid(appId: string, id: string, tokenHash: string): Promise<boolean>;

  subscribe(sub: ChannelSubscription): Promise<void>;
  listSubscriptions(appId: string, filter: { channel?: string; deviceId?: string }, page: PageQuery): Promise<Page<ChannelSubscription>>;
  unsubscribe(appId: string, filter: { channel?: string; deviceId?: string }): Promise<number>;
  listChannels(appId: string, page: PageQuery): Promise<Page<string>>;
  /** Active devices the targets reach (an upper bound when targets overlap). */
  countRecipients(appId: string, channels: string[], deviceIds: string[], clientIds: string[]): Promise<number>;

  /**
   * Stores a new publish unless one with the same id is still remembered (keepUntilMs in the future):
   * then nothing changes and the stored one is returned.
   */
  createPublish(publish: PublishRecord, nowMs: number): Promise<{ created: true } | { created: false; existing: PublishRecord }>;
  getPublish(appId: string, publishId: string): Promise<PublishRecord | null>;
  /** Queued publishes due for planning (notBeforeMs reached), oldest first. */
  duePublishes(nowMs: number, limit: number): Promise<PublishRecord[]>;
  /**
   * Expands a queued publish into one delivery per distinct device (active devices of its channels,
   * clients and device ids), plus one per distinct raw recipient, FCM topic and FCM condition (types.ts
   * directDeliveries: no device row, deviceId null), and moves it to 'dispatching', in one transaction;
   * a publish that is no longer queued is left alone (another host planned it). Returns the count.
   */
  planPublish(appId: string, publishId: string, nowMs: number): Promise<number>;
  setPublishState(appId: string, publishId: string, state: PublishState, errorReason: string | null): Promise<void>;
  counters(appId: string, publishId: string): Promise<PublishCounters>;
  /** Deliveries still pending or in flight for the publish. */
  openDeliveries(appId: string, publishId: string): Promise<number>;
  /** Counts of the publish's deliveries by state. */
  deliveryStates(appId: string, publishId: string): Promise<Partial<Record<DeliveryState, number>>>;

  /**
   * Atomically moves up to `limit` due pending deliveries of `provider` to 'inflight' with a lease until
   * `leaseUntilMs`, counting the attempt; no two callers (threads or hosts) ever get the same delivery.
   * Deliveries of a publish whose expiresAtMs has passed are never claimed (expireDeliveries settles them).
   */
  claimDeliveries(provider: string, nowMs: number, limit: number, leaseUntilMs: number): Promise<Delivery[]>;
  /**
   * The earliest time anything becomes due: a queued publish's notBeforeMs or a pending delivery's nextAtMs
   * (null when nothing is queued or pending). Lets an idle scheduler sleep until then instead of polling.
   */
  nextDueAt(): Promise<number | null>;
  /** Records outcomes of claimed deliveries. */
  recordOutcomes(outcomes: { id: number; outcome: DeliveryOutcome }[], nowMs: number): Promise<void>;
  /**
   * In-flight deliveries whose lease passed (their host died mid-send) become 'failed': whether the
   * provider got them is unknown, and sending twice is worse than once too few. Returns their publishes.
   */
  failExpiredLeases(nowMs: number): Promise<{ appId: string; publishId: string }[]>;
  /** Pending deliveries of publishes whose expiresAtMs passed become 'expired'. Returns their publishes. */
  expireDeliveries(nowMs: number): Promise<{ appId: string; publishId: string }[]>;
  /** Pending deliveries become 'cancelled'. */
  cancelDeliveries(appId: string, publishId: string): Promise<number>;
  /** Publishes still dispatching (to finish after a restart). */
  dispatchingPublishes(limit: number): Promise<{ appId: string; publishId: string }[]>;

  listDeadLetters(appId: string, filter: { provider?: string; sinceMs?: number; untilMs?: number }, page: PageQuery): Promise<Page<DeadLetter>>;
  /** A dead delivery goes back to pending with a fresh attempt budget; returns its publish, or null. */
  replayDeadLetter(appId: string, id: number, nowMs: number): Promise<{ publishId: string } | null>;
  /** Inserts or replaces a document; `expiresAtMs` 0 keeps it until deleted, otherwise purge forgets it then. */
  putDocument(appId: string, kind: DocumentKind, id: string, body: unknown, expiresAtMs: number): Promise<void>;
  /** The document's body, or null. */
  getDocument(appId: string, kind: DocumentKind, id: string): Promise<unknown>;
  /** An app's documents of one kind, by id. */
  listDocuments(appId: string, kind: DocumentKind, page: PageQuery): Promise<Page<unknown>>;
  deleteDocument(appId: string, kind: DocumentKind, id: string): Promise<boolean>;

  /** Forgets publishes (and their deliveries) whose keepUntilMs passed and that are terminal, and expired documents. */
  purge(nowMs: number): Promise<number>;
}
