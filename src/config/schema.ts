// The one schema of the server's configuration: every key, its type, its default. Validated once, frozen.
import { z } from 'zod';
import { pushConfigSchema } from './pushSchema.ts';

export const DEVELOPMENT_APP = Object.freeze({ id: 'app-id', key: 'app-key', secret: 'app-secret' });

const positiveInt = z.number().int().positive();
const nonNegativeInt = z.number().int().nonnegative();

export const appLimitsSchema = z.strictObject({
  /** Simultaneous connections for this app on this host; 0 = unlimited. Over it: close 4004. */
  max_connections: nonNegativeInt.default(0),
  max_channel_name_length: positiveInt.max(200).default(200),
  max_event_name_length: positiveInt.default(200),
  max_event_channels_at_once: positiveInt.default(100),
  /** Size of one event's `data` in KiB; over it: HTTP 413. */
  max_event_payload_in_kb: positiveInt.default(100),
  max_event_batch_size: positiveInt.default(10),
  /** Channels one socket may be subscribed to at once; over it: pusher:error 4300. */
  max_subscriptions_per_socket: positiveInt.default(1000),
  /** Client events one socket may send per second (Pusher's documented 10/s); over it: pusher:error 4301. 0 = no limiter (as Sockudo). */
  max_client_events_per_second: nonNegativeInt.default(10),
  /** The window, in seconds, that max_client_events_per_second counts over (Sockudo's decay_seconds). */
  decay_seconds: positiveInt.max(3600).default(1),
  /** Over the client-event limit, close the socket (4301) after the error instead of keeping it (Sockudo's terminate_on_limit). */
  terminate_on_limit: z.boolean().default(false),
  /**
   * A limit on every frame one socket sends, off by default (Sockudo's message_rate_limit): `max_attempts` frames per
   * `decay_seconds`; past it pusher:error 4301, and with `terminate_on_limit` a close with 4301.
   */
  message_rate_limit: z
    .strictObject({
      enabled: z.boolean().default(false),
      max_attempts: positiveInt.default(60),
      decay_seconds: positiveInt.max(3600).default(60),
      terminate_on_limit: z.boolean().default(false),
    })
    .default(() => ({ enabled: false, max_attempts: 60, decay_seconds: 60, terminate_on_limit: false })),
  /** Distinct users in one presence channel; over it: pusher:error 4100. */
  max_presence_members_per_channel: positiveInt.default(100),
  /** Size of one member's JSON `user_info` in KiB; over it: pusher:error 4300. */
  max_presence_member_size_in_kb: positiveInt.default(2),
  /**
   * HTTP API requests per second for this app on this host; 0 = unlimited. Over it: HTTP 429 with Retry-After.
   * Counted in 21 bits of a shared word (apps/apiRateBudget.ts), hence the ceiling.
   */
  max_api_requests_per_second: nonNegativeInt.max(1_000_000).default(0),
});

export const appFeaturesSchema = z.strictObject({
  /** Lets subscribers of private and presence channels send `client-*` events. */
  enable_client_messages: z.boolean().default(false),
  /** Closes (4009) connections that neither sign in nor join a private/presence channel within user_authentication_timeout. */
  require_user_authentication: z.boolean().default(false),
  /** Sends `pusher_internal:watchlist_events` (online/offline) for the users in a signed-in user's watchlist. */
  enable_watchlist_events: z.boolean().default(false),
});

/** The default (development) app has the features the guide and Laravel Echo's whispers expect. */
export const DEVELOPMENT_APP_FEATURES = Object.freeze({ enable_client_messages: true, enable_watchlist_events: true });

export const appSchema = z.strictObject({
  id: z.string().min(1).max(128).regex(/^[A-Za-z0-9_.\-]+$/, 'letters, digits, "_", "-" and "." only'),
  key: z.string().min(1).max(128).regex(/^[A-Za-z0-9_.\-]+$/, 'letters, digits, "_", "-" and "." only'),
  secret: z.string().min(1),
  enabled: z.boolean().default(true),
  limits: appLimitsSchema.default(() => appLimitsSchema.parse({})),
  features: appFeaturesSchema.default(() => appFeaturesSchema.parse({})),
  /** Where this app's webhooks go; `event_types` limits what a target receives (absent: all). */
  webhooks: z
    .array(
      z.strictObject({
        url: z.string().url(),
        event_types: z
          .array(z.enum(['channel_occupied', 'channel_vacated', 'member_added', 'member_removed', 'member_updated', 'client_event', 'cache_miss', 'subscription_count']))
          .optional(),
        /** Only events of channels that match every given rule (Sockudo's webhook filter). */
        filter: z
          .strictObject({
            channel_prefix: z.string().optional(),
            channel_suffix: z.string().optional(),
            /** A regular expression the channel name must match. */
            channel_pattern: z
              .string()
              .refine((p) => {
                try {
                  new RegExp(p);
                  return true;
                } catch {
                  return false;
                }
              }, 'a valid regular expression')
              .optional(),
          })
          .optional(),
        /** Extra headers on every request to this target. */
        headers: z.record(z.string(), z.string()).optional(),
      }),
    )
    .default([]),
  /** Overrides idempotency.ttl_seconds for this app. */
  idempotency_ttl_seconds: positiveInt.max(86400).optional(),
  /**
   * Origins (the upgrade's Origin header) allowed to connect; empty = all. `*` or `any` allows all; `*` inside a
   * pattern is a wildcard (`https://*.example.com`); a pattern without a scheme matches any scheme. Others (and a
   * missing Origin) get pusher:error 4009 "Origin not allowed" and close 4009 (src/protocol/origins.ts).
   */
  allowed_origins: z.array(z.string()).default([]),
});

export const configSchema = z.strictObject({
  /** development: the default app accepts unsigned API calls. production: never; refuses the development secret. */
  mode: z.enum(['development', 'production']).default('development'),
  host: z.string().min(1).default('127.0.0.1'),
  port: z.number().int().min(0).max(65535).default(6001),
  /** uWS worker threads; 0 = one per available core. */
  workers: nonNegativeInt.max(64).default(0),
  /** Seconds of client silence before the server sends pusher:ping (sent to clients in connection_established). */
  activity_timeout: positiveInt.max(3600).default(120),
  /** Seconds to wait for any frame after a server ping before closing with 4201. */
  pong_timeout: positiveInt.max(600).default(30),
  /**
   * Protocol V2: the shortest silence before a native ping, in seconds (Sockudo's `websocket.ping_interval`). A V2
   * socket is pinged after max(this, activity_timeout / 2, 5) seconds without a frame from it, as in Sockudo.
   */
  websocket_ping_interval: positiveInt.max(3600).default(30),
  /** Connections on this host across all apps; 0 = unlimited. Over it: close 4100. */
  max_connections: nonNegativeInt.default(0),
  /** Concurrent connections from one client address on this host; 0 = unlimited. Over it: close 4100. */
  max_connections_per_ip: nonNegativeInt.default(0),
  /** Largest inbound WebSocket frame in KiB; larger frames close the socket with 1009. */
  websocket_max_payload_kb: positiveInt.max(16 * 1024).default(64),
  /** Bytes buffered for one slow socket before it is closed (uWS maxBackpressure). */
  websocket_max_backpressure_kb: positiveInt.default(1024),
  /** Largest HTTP API request body in KiB; larger: HTTP 413. */
  http_max_body_kb: positiveInt.max(100 * 1024).default(10 * 1024),
  /** Seconds a worker waits for the primary to answer an API request before answering 503. */
  http_request_timeout: positiveInt.max(300).default(10),
  /**
   * Milliseconds a worker may hold publishes to a channel with at least 512 of its subscribers while publishes
   * stream, so that each socket gets several in one write (src/worker/fanoutHold.ts); 0 = never hold.
   */
  fanout_hold_ms: nonNegativeInt.max(100).default(4),
  /** Seconds from SIGTERM to a forced exit; sockets are closed with 4200 over the first part of it. */
  shutdown_grace_period: positiveInt.max(3600).default(10),
  metrics: z
    .strictObject({
      enabled: z.boolean().default(true),
      host: z.string().min(1).default('127.0.0.1'),
      port: z.number().int().min(0).max(65535).default(9601),
      /** Replaces `sockudo_` at the start of every series name (Sockudo's metrics.prometheus.prefix). */
      prefix: z
        .string()
        .regex(/^[a-zA-Z_:][a-zA-Z0-9_:]*$/, 'a Prometheus name prefix: letters, digits, "_" and ":", not starting with a digit')
        .default('sockudo_'),
    })
    .default(() => ({ enabled: true, host: '127.0.0.1', port: 9601, prefix: 'sockudo_' })),
  log: z
    .strictObject({
      level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
      /** Human-readable lines instead of JSON; defaults to on in development mode. */
      pretty: z.boolean().optional(),
    })
    .default(() => ({ level: 'info' as const })),
  /** Seconds a connection of an app with require_user_authentication has to sign in. */
  user_authentication_timeout: positiveInt.max(86400).default(3600),
  /** Seconds the last HTTP-published event of a cache channel is kept. */
  cache_channel_ttl: positiveInt.max(30 * 86400).default(3600),
  /** Distinct occupied channels one worker thread can track; a subscribe past it gets pusher:error 4100. */
  max_channels_per_worker: positiveInt.max(16 * 1024 * 1024).default(262144),
  /**
   * Protocol V2 connection recovery and rewind: every channel keeps its recent messages for replay. Off by default,
   * as Sockudo's code default and its image's config.json (its config.toml turns it on).
   */
  connection_recovery: z
    .strictObject({
      enabled: z.boolean().default(false),
      buffer_ttl_seconds: positiveInt.max(3600).default(120),
      /** Messages kept per channel, and the most one resume replays. */
      max_buffer_size: positiveInt.max(10_000).default(100),
    })
    .default(() => ({ enabled: false, buffer_ttl_seconds: 120, max_buffer_size: 100 })),
  /**
   * How long a presence member whose socket dropped without a clean close (no close frame, or no pong) stays in
   * its channels, as Sockudo's `presence.*ungraceful_timeout_seconds`: a client that reconnects and joins again
   * within it causes no member_removed / member_added. An unsubscribe or a clean close leaves at once.
   */
  presence: z
    .strictObject({
      ungraceful_timeout_seconds: nonNegativeInt.max(3600).default(0),
      v2_ungraceful_timeout_seconds: nonNegativeInt.max(3600).default(15),
      /** V2 `presence_update`s one socket may send per channel in a second (Sockudo's fixed one-second window). */
      update_rate_limit_per_member_per_second: positiveInt.max(1_000_000).default(10),
    })
    .default(() => ({ ungraceful_timeout_seconds: 0, v2_ungraceful_timeout_seconds: 15, update_rate_limit_per_member_per_second: 10 })),
  /** V2 `extras.ephemeral` (Sockudo's `ephemeral`): off, the flag is dropped and such a message is an ordinary one. */
  ephemeral: z
    .strictObject({ enabled: z.boolean().default(true) })
    .default(() => ({ enabled: true })),
  /**
   * A V2 socket's echo of its own client events (Sockudo's `echo_control`): `default_echo_messages` is the setting
   * of a socket that connects without `?echo_messages`; with `enabled` off, `?echo_messages` and `extras.echo` are
   * ignored (V2 senders get their own client events) and `extras.echo` is dropped from publishes.
   */
  echo_control: z
    .strictObject({ enabled: z.boolean().default(true), default_echo_messages: z.boolean().default(true) })
    .default(() => ({ enabled: true, default_echo_messages: true })),
  /** Idempotent HTTP publishing (idempotency_key / X-Idempotency-Key). */
  idempotency: z
    .strictObject({
      enabled: z.boolean().default(true),
      ttl_seconds: positiveInt.max(86400).default(120),
      /** Keys remembered at once on this host; the oldest are forgotten first. */
      max_entries: positiveInt.default(1_000_000),
    })
    .default(() => ({ enabled: true, ttl_seconds: 120, max_entries: 1_000_000 })),
  /** Several hosts: set `url` (redis://host:port) and every host sharing it forms one cluster. */
  redis: z
    .strictObject({
      url: z.string().default(''),
      key_prefix: z.string().min(1).default('sockudo:'),
      /** Cross-host messages kept in Redis, so a host that loses its connection for a while catches up. */
      stream_max_len: positiveInt.default(100_000),
    })
    .default(() => ({ url: '', key_prefix: 'sockudo:', stream_max_len: 100_000 })),
  /** Push notifications: storage, scheduler and providers (see README "Push notifications"). */
  push: pushConfigSchema.default(() => pushConfigSchema.parse({})),
  /** Testing aid: every worker also listens on a private port of its own, so a client can pick its thread. */
  worker_ports: z.boolean().default(false),
  apps: z.array(appSchema).min(1, 'at least one app is required').optional(),
});

export type ConfigInput = z.input<typeof configSchema>;
export type AppLimits = z.output<typeof appLimitsSchema>;
export type AppFeatures = z.output<typeof appFeaturesSchema>;
export type AppConfig = z.output<typeof appSchema> & {
  /** True for the app built from defaults/env (not from a config file): the only one unsigned calls may use. */
  readonly development_app: boolean;
};
export type Config = Omit<z.output<typeof configSchema>, 'apps'> & { readonly apps: readonly AppConfig[] };
