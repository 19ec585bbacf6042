// The `push` section of the configuration: storage, scheduler limits, retries and the five providers.
import { z } from 'zod';

const positiveInt = z.number().int().positive();
const nonNegativeInt = z.number().int().nonnegative();

export const webPushConfigSchema = z.strictObject({
  enabled: z.boolean().default(true),
  /** VAPID key pair (base64url, as `web-push generate-vapid-keys` prints). Empty: generated on first run and stored next to the database. */
  vapid_public_key: z.string().default(''),
  vapid_private_key: z.string().default(''),
  /** The contact the push services see in the VAPID token (`mailto:` or `https:`). */
  vapid_subject: z.string().regex(/^(mailto:|https:)/, 'a mailto: or https: URL').default('mailto:push@sockudo.invalid'),
  /** Seconds a push service keeps an undelivered message (the TTL header). */
  ttl_seconds: nonNegativeInt.max(2419200).default(2419200),
});

export const fcmConfigSchema = z.strictObject({
  enabled: z.boolean().default(false),
  /** The Google service-account JSON itself, or a path to it. */
  service_account_json: z.string().default(''),
  service_account_path: z.string().default(''),
  /** Defaults to the service account's project_id. */
  project_id: z.string().default(''),
  endpoint: z.string().url().default('https://fcm.googleapis.com'),
  /** Overrides the service account's token_uri (where the OAuth2 JWT-bearer grant is posted). */
  token_uri: z.string().default(''),
  /** Set: the service account is the one stored for this app (`POST /push/credentials/fcm`), read once at start. */
  credential_app_id: z.string().default(''),
  credential_id: z.string().min(1).default('fcm'),
});

export const apnsConfigSchema = z.strictObject({
  enabled: z.boolean().default(false),
  team_id: z.string().default(''),
  key_id: z.string().default(''),
  /** The .p8 signing key (PEM text), or a path to it. */
  private_key: z.string().default(''),
  private_key_path: z.string().default(''),
  /** The app's bundle id, sent as apns-topic. */
  topic: z.string().default(''),
  /** https://api.push.apple.com, or https://api.sandbox.push.apple.com for development builds. */
  endpoint: z.string().url().default('https://api.push.apple.com'),
  push_type: z.enum(['alert', 'background', 'voip', 'complication', 'fileprovider', 'mdm', 'location', 'liveactivity', 'pushtotalk']).default('alert'),
  priority: z.union([z.literal(10), z.literal(5), z.literal(1)]).default(10),
  /** Set: team id, key id and key are the ones stored for this app (`POST /push/credentials/apns`), read once at start. */
  credential_app_id: z.string().default(''),
  credential_id: z.string().min(1).default('apns'),
});

/** Huawei Push Kit (HMS): a static bearer token, as Sockudo's HMS worker takes it (it mints none). */
export const hmsConfigSchema = z.strictObject({
  enabled: z.boolean().default(false),
  /** The HMS app id in the send URL (`/v1/{app_id}/messages:send`). */
  app_id: z.string().default(''),
  /** The OAuth access token sent as `Authorization: Bearer` (obtained from Huawei's OAuth server beforehand). */
  provider_token: z.string().default(''),
  endpoint: z.string().url().default('https://push-api.cloud.huawei.com'),
});

/** Windows Push Notification Services: POST to each device's channel URI with a static bearer token. */
export const wnsConfigSchema = z.strictObject({
  enabled: z.boolean().default(false),
  /** The WNS access token sent as `Authorization: Bearer` (obtained from Microsoft's token endpoint beforehand). */
  provider_token: z.string().default(''),
  /** The notification type (`x-wns-type: wns/<type>`) of publishes whose wns override names none. */
  type: z.enum(['toast', 'tile', 'raw']).default('toast'),
});

export const pushConfigSchema = z.strictObject({
  /** Off: every /push route answers 404. */
  enabled: z.boolean().default(true),
  storage: z
    .strictObject({
      driver: z.enum(['sqlite', 'postgres']).default('sqlite'),
      /** The embedded database file; created on first run. */
      sqlite_path: z.string().min(1).default('data/push.sqlite'),
      /** postgres://user:pass@host:port/db — for several hosts sharing one push store. */
      postgres_url: z.string().default(''),
    })
    .default(() => ({ driver: 'sqlite' as const, sqlite_path: 'data/push.sqlite', postgres_url: '' })),
  /** Encrypts stored provider credentials (AES-256-GCM, key = SHA-256 of it); empty: `/push/credentials` refuses to store. */
  credential_encryption_key: z.string().default(''),
  /** Publishes accepted per second per app; over it: 429 with Retry-After. */
  acceptance_rps: positiveInt.default(100),
  /**
   * A publish expecting more recipients than this is stored as `quota_exceeded` and sent to nobody (still a 202);
   * 0 = no limit. Sockudo's `push.default_quotas.fanout_max` (PUSH_FANOUT_MAX).
   */
  fanout_max: nonNegativeInt.default(0),
  /** The same check under Sockudo's other name (`delivery_quota_daily`, PUSH_DELIVERY_QUOTA_DAILY): per publish, as there. */
  delivery_quota_daily: nonNegativeInt.default(0),
  /** Provider requests in flight at once, per provider. */
  concurrency_per_provider: positiveInt.max(10_000).default(64),
  /** Deliveries the scheduler claims from storage in one step. */
  batch_size: positiveInt.max(10_000).default(500),
  /** Threads for Web Push encryption and token signing (0: one per core, at most 4). */
  crypto_threads: nonNegativeInt.max(64).default(0),
  /** Longest a `sync: true` publish waits for its final state before answering with the current one. */
  sync_timeout_ms: positiveInt.max(120_000).default(15_000),
  /** How long a publish id is remembered for duplicate detection (unless expiresAtMs is sooner). */
  publish_ttl_hours: positiveInt.max(24 * 30).default(24),
  retry: z
    .strictObject({
      max_attempts: positiveInt.max(100).default(5),
      initial_backoff_ms: positiveInt.default(1000),
      max_backoff_ms: positiveInt.max(86_400_000).default(60_000),
      jitter_ratio_percent: nonNegativeInt.max(100).default(20),
    })
    .default(() => ({ max_attempts: 5, initial_backoff_ms: 1000, max_backoff_ms: 60_000, jitter_ratio_percent: 20 })),
  /**
   * Per provider (FCM, APNs, HMS, WNS): after `failure_threshold` retryable failures in a row (5xx, 429, network) nothing
   * is sent to it for `cooldown_secs`; then at most `half_open_max_inflight` probe requests, and the first
   * answer closes it again or reopens it. Sockudo's `push.circuit_breaker` and defaults.
   */
  circuit_breaker: z
    .strictObject({
      enabled: z.boolean().default(true),
      failure_threshold: positiveInt.max(1_000_000).default(5),
      cooldown_secs: positiveInt.max(86_400).default(60),
      half_open_max_inflight: positiveInt.max(10_000).default(10),
    })
    .default(() => ({ enabled: true, failure_threshold: 5, cooldown_secs: 60, half_open_max_inflight: 10 })),
  webpush: webPushConfigSchema.default(() => webPushConfigSchema.parse({})),
  fcm: fcmConfigSchema.default(() => fcmConfigSchema.parse({})),
  apns: apnsConfigSchema.default(() => apnsConfigSchema.parse({})),
  hms: hmsConfigSchema.default(() => hmsConfigSchema.parse({})),
  wns: wnsConfigSchema.default(() => wnsConfigSchema.parse({})),
});

export type PushConfig = z.output<typeof pushConfigSchema>;
export type WebPushConfig = z.output<typeof webPushConfigSchema>;
export type FcmConfig = z.output<typeof fcmConfigSchema>;
export type ApnsConfig = z.output<typeof apnsConfigSchema>;
export type HmsConfig = z.output<typeof hmsConfigSchema>;
export type WnsConfig = z.output<typeof wnsConfigSchema>;

/** Environment variables for push (ours first, then Sockudo's names). */
export const PUSH_ENV = [
  { names: ['SOCKUDO_PUSH_ENABLED'], path: ['push', 'enabled'], kind: 'bool' },
  { names: ['SOCKUDO_PUSH_STORAGE_DRIVER', 'PUSH_STORAGE_DRIVER'], path: ['push', 'storage', 'driver'], kind: 'string' },
  { names: ['SOCKUDO_PUSH_SQLITE_PATH'], path: ['push', 'storage', 'sqlite_path'], kind: 'string' },
  { names: ['SOCKUDO_PUSH_POSTGRES_URL', 'PUSH_POSTGRES_URL'], path: ['push', 'storage', 'postgres_url'], kind: 'string' },
  { names: ['SOCKUDO_PUSH_ACCEPTANCE_RPS', 'PUSH_ACCEPTANCE_RATE_LIMIT', 'PUSH_DEFAULT_ACCEPTANCE_RPS'], path: ['push', 'acceptance_rps'], kind: 'int' },
  { names: ['SOCKUDO_PUSH_FANOUT_MAX', 'PUSH_FANOUT_MAX', 'PUSH_DEFAULT_FANOUT_MAX'], path: ['push', 'fanout_max'], kind: 'int' },
  { names: ['SOCKUDO_PUSH_DELIVERY_QUOTA_DAILY', 'PUSH_DELIVERY_QUOTA_DAILY', 'PUSH_DEFAULT_DELIVERY_QUOTA_DAILY'], path: ['push', 'delivery_quota_daily'], kind: 'int' },
  { names: ['SOCKUDO_PUSH_WEBPUSH_ENABLED', 'PUSH_WEBPUSH_ENABLED'], path: ['push', 'webpush', 'enabled'], kind: 'bool' },
  { names: ['SOCKUDO_PUSH_VAPID_PUBLIC_KEY', 'PUSH_WEBPUSH_VAPID_PUBLIC_KEY'], path: ['push', 'webpush', 'vapid_public_key'], kind: 'string' },
  { names: ['SOCKUDO_PUSH_VAPID_PRIVATE_KEY', 'PUSH_WEBPUSH_VAPID_PRIVATE_KEY'], path: ['push', 'webpush', 'vapid_private_key'], kind: 'string' },
  { names: ['SOCKUDO_PUSH_VAPID_SUBJECT', 'PUSH_WEBPUSH_VAPID_CONTACT'], path: ['push', 'webpush', 'vapid_subject'], kind: 'string' },
  { names: ['SOCKUDO_PUSH_FCM_ENABLED', 'PUSH_FCM_ENABLED'], path: ['push', 'fcm', 'enabled'], kind: 'bool' },
  { names: ['SOCKUDO_PUSH_FCM_SERVICE_ACCOUNT_JSON', 'PUSH_FCM_SERVICE_ACCOUNT_JSON'], path: ['push', 'fcm', 'service_account_json'], kind: 'string' },
  { names: ['SOCKUDO_PUSH_FCM_SERVICE_ACCOUNT_PATH', 'PUSH_FCM_SERVICE_ACCOUNT_JSON_PATH'], path: ['push', 'fcm', 'service_account_path'], kind: 'string' },
  { names: ['SOCKUDO_PUSH_FCM_PROJECT_ID', 'PUSH_FCM_PROJECT_ID'], path: ['push', 'fcm', 'project_id'], kind: 'string' },
  { names: ['SOCKUDO_PUSH_FCM_ENDPOINT', 'PUSH_FCM_ENDPOINT'], path: ['push', 'fcm', 'endpoint'], kind: 'string' },
  { names: ['SOCKUDO_PUSH_APNS_ENABLED', 'PUSH_APNS_ENABLED'], path: ['push', 'apns', 'enabled'], kind: 'bool' },
  { names: ['SOCKUDO_PUSH_APNS_TEAM_ID', 'PUSH_APNS_TEAM_ID'], path: ['push', 'apns', 'team_id'], kind: 'string' },
  { names: ['SOCKUDO_PUSH_APNS_KEY_ID', 'PUSH_APNS_KEY_ID'], path: ['push', 'apns', 'key_id'], kind: 'string' },
  { names: ['SOCKUDO_PUSH_APNS_PRIVATE_KEY', 'PUSH_APNS_PRIVATE_KEY'], path: ['push', 'apns', 'private_key'], kind: 'string' },
  { names: ['SOCKUDO_PUSH_APNS_PRIVATE_KEY_PATH', 'PUSH_APNS_PRIVATE_KEY_PATH'], path: ['push', 'apns', 'private_key_path'], kind: 'string' },
  { names: ['SOCKUDO_PUSH_APNS_TOPIC', 'PUSH_APNS_TOPIC'], path: ['push', 'apns', 'topic'], kind: 'string' },
  { names: ['SOCKUDO_PUSH_APNS_ENDPOINT', 'PUSH_APNS_ENDPOINT'], path: ['push', 'apns', 'endpoint'], kind: 'string' },
  // Sockudo's HMS and WNS workers read HMS_* / WNS_* before PUSH_HMS_* / PUSH_WNS_* (bootstrap/push/workers/providers).
  { names: ['SOCKUDO_PUSH_HMS_ENABLED', 'PUSH_HMS_ENABLED'], path: ['push', 'hms', 'enabled'], kind: 'bool' },
  { names: ['SOCKUDO_PUSH_HMS_APP_ID', 'HMS_APP_ID', 'PUSH_HMS_APP_ID'], path: ['push', 'hms', 'app_id'], kind: 'string' },
  { names: ['SOCKUDO_PUSH_HMS_PROVIDER_TOKEN', 'HMS_PROVIDER_TOKEN', 'PUSH_HMS_PROVIDER_TOKEN'], path: ['push', 'hms', 'provider_token'], kind: 'string' },
  { names: ['SOCKUDO_PUSH_HMS_ENDPOINT', 'HMS_ENDPOINT', 'PUSH_HMS_ENDPOINT'], path: ['push', 'hms', 'endpoint'], kind: 'string' },
  { names: ['SOCKUDO_PUSH_WNS_ENABLED', 'PUSH_WNS_ENABLED'], path: ['push', 'wns', 'enabled'], kind: 'bool' },
  { names: ['SOCKUDO_PUSH_WNS_PROVIDER_TOKEN', 'WNS_PROVIDER_TOKEN', 'PUSH_WNS_PROVIDER_TOKEN'], path: ['push', 'wns', 'provider_token'], kind: 'string' },
  { names: ['SOCKUDO_PUSH_WNS_TYPE'], path: ['push', 'wns', 'type'], kind: 'string' },
  { names: ['SOCKUDO_PUSH_CREDENTIAL_ENCRYPTION_KEY', 'PUSH_CREDENTIAL_ENCRYPTION_KEY'], path: ['push', 'credential_encryption_key'], kind: 'string' },
  { names: ['SOCKUDO_PUSH_FCM_CREDENTIAL_APP_ID', 'FCM_APP_ID', 'PUSH_FCM_APP_ID'], path: ['push', 'fcm', 'credential_app_id'], kind: 'string' },
  { names: ['SOCKUDO_PUSH_FCM_CREDENTIAL_ID', 'FCM_CREDENTIAL_ID', 'PUSH_FCM_CREDENTIAL_ID'], path: ['push', 'fcm', 'credential_id'], kind: 'string' },
  { names: ['SOCKUDO_PUSH_APNS_CREDENTIAL_APP_ID', 'APNS_APP_ID', 'PUSH_APNS_APP_ID'], path: ['push', 'apns', 'credential_app_id'], kind: 'string' },
  { names: ['SOCKUDO_PUSH_APNS_CREDENTIAL_ID', 'APNS_CREDENTIAL_ID', 'PUSH_APNS_CREDENTIAL_ID'], path: ['push', 'apns', 'credential_id'], kind: 'string' },
] as const;
