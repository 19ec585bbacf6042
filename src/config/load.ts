// Builds the server's configuration: built-in defaults < config file (JSON or TOML, ours or Sockudo's shape) <
// environment, validated once.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { z } from 'zod';
import { ConfigError } from './errors.ts';
import { PUSH_ENV } from './pushSchema.ts';
import { type AppConfig, type Config, DEVELOPMENT_APP, DEVELOPMENT_APP_FEATURES, appSchema, configSchema } from './schema.ts';
import { type RedisParams, type Warn, fromSockudoShape, isSockudoShape } from './sockudoShape.ts';

export { ConfigError };

type EnvKind = 'string' | 'int' | 'bool' | 'list';
interface EnvBinding {
  /** Names read in order; the first one set wins (ours first, then Sockudo's). */
  names: string[];
  path: string[];
  kind: EnvKind;
}

/** Every environment variable the server reads for server-wide settings. */
export const SERVER_ENV: EnvBinding[] = [
  { names: ['SOCKUDO_MODE', 'ENVIRONMENT'], path: ['mode'], kind: 'string' },
  { names: ['SOCKUDO_HOST', 'HOST'], path: ['host'], kind: 'string' },
  { names: ['SOCKUDO_PORT', 'PORT'], path: ['port'], kind: 'int' },
  { names: ['SOCKUDO_WORKERS'], path: ['workers'], kind: 'int' },
  { names: ['SOCKUDO_ACTIVITY_TIMEOUT', 'ACTIVITY_TIMEOUT'], path: ['activity_timeout'], kind: 'int' },
  { names: ['SOCKUDO_PONG_TIMEOUT'], path: ['pong_timeout'], kind: 'int' },
  { names: ['SOCKUDO_WEBSOCKET_PING_INTERVAL', 'WEBSOCKET_PING_INTERVAL'], path: ['websocket_ping_interval'], kind: 'int' },
  { names: ['SOCKUDO_MAX_CONNECTIONS'], path: ['max_connections'], kind: 'int' },
  { names: ['SOCKUDO_MAX_CONNECTIONS_PER_IP'], path: ['max_connections_per_ip'], kind: 'int' },
  { names: ['SOCKUDO_WEBSOCKET_MAX_PAYLOAD_KB', 'WEBSOCKET_MAX_PAYLOAD_KB'], path: ['websocket_max_payload_kb'], kind: 'int' },
  { names: ['SOCKUDO_WEBSOCKET_MAX_BACKPRESSURE_KB'], path: ['websocket_max_backpressure_kb'], kind: 'int' },
  { names: ['SOCKUDO_HTTP_MAX_BODY_KB'], path: ['http_max_body_kb'], kind: 'int' },
  { names: ['SOCKUDO_HTTP_REQUEST_TIMEOUT'], path: ['http_request_timeout'], kind: 'int' },
  { names: ['SOCKUDO_FANOUT_HOLD_MS'], path: ['fanout_hold_ms'], kind: 'int' },
  { names: ['SOCKUDO_SHUTDOWN_GRACE_PERIOD', 'SHUTDOWN_GRACE_PERIOD'], path: ['shutdown_grace_period'], kind: 'int' },
  { names: ['SOCKUDO_METRICS_ENABLED', 'METRICS_ENABLED'], path: ['metrics', 'enabled'], kind: 'bool' },
  { names: ['SOCKUDO_METRICS_HOST', 'METRICS_HOST'], path: ['metrics', 'host'], kind: 'string' },
  { names: ['SOCKUDO_METRICS_PORT', 'METRICS_PORT'], path: ['metrics', 'port'], kind: 'int' },
  { names: ['SOCKUDO_METRICS_PREFIX', 'METRICS_PROMETHEUS_PREFIX'], path: ['metrics', 'prefix'], kind: 'string' },
  { names: ['SOCKUDO_LOG_LEVEL', 'LOG_LEVEL'], path: ['log', 'level'], kind: 'string' },
  { names: ['SOCKUDO_LOG_PRETTY'], path: ['log', 'pretty'], kind: 'bool' },
  { names: ['SOCKUDO_WORKER_PORTS'], path: ['worker_ports'], kind: 'bool' },
  { names: ['SOCKUDO_USER_AUTHENTICATION_TIMEOUT', 'USER_AUTHENTICATION_TIMEOUT'], path: ['user_authentication_timeout'], kind: 'int' },
  { names: ['SOCKUDO_CACHE_CHANNEL_TTL'], path: ['cache_channel_ttl'], kind: 'int' },
  { names: ['SOCKUDO_MAX_CHANNELS_PER_WORKER'], path: ['max_channels_per_worker'], kind: 'int' },
  { names: ['SOCKUDO_PRESENCE_UNGRACEFUL_TIMEOUT_SECONDS', 'PRESENCE_UNGRACEFUL_TIMEOUT_SECONDS'], path: ['presence', 'ungraceful_timeout_seconds'], kind: 'int' },
  { names: ['SOCKUDO_PRESENCE_V2_UNGRACEFUL_TIMEOUT_SECONDS', 'PRESENCE_V2_UNGRACEFUL_TIMEOUT_SECONDS'], path: ['presence', 'v2_ungraceful_timeout_seconds'], kind: 'int' },
  { names: ['SOCKUDO_PRESENCE_UPDATE_RATE_LIMIT_PER_MEMBER_PER_SECOND', 'PRESENCE_UPDATE_RATE_LIMIT_PER_MEMBER_PER_SECOND'], path: ['presence', 'update_rate_limit_per_member_per_second'], kind: 'int' },
  { names: ['SOCKUDO_CONNECTION_RECOVERY_ENABLED', 'CONNECTION_RECOVERY_ENABLED'], path: ['connection_recovery', 'enabled'], kind: 'bool' },
  { names: ['SOCKUDO_CONNECTION_RECOVERY_BUFFER_TTL', 'CONNECTION_RECOVERY_BUFFER_TTL'], path: ['connection_recovery', 'buffer_ttl_seconds'], kind: 'int' },
  { names: ['SOCKUDO_CONNECTION_RECOVERY_MAX_BUFFER_SIZE', 'CONNECTION_RECOVERY_MAX_BUFFER_SIZE'], path: ['connection_recovery', 'max_buffer_size'], kind: 'int' },
  { names: ['SOCKUDO_EPHEMERAL_ENABLED', 'EPHEMERAL_ENABLED'], path: ['ephemeral', 'enabled'], kind: 'bool' },
  { names: ['SOCKUDO_ECHO_CONTROL_ENABLED', 'ECHO_CONTROL_ENABLED'], path: ['echo_control', 'enabled'], kind: 'bool' },
  { names: ['SOCKUDO_ECHO_CONTROL_DEFAULT_ECHO_MESSAGES', 'ECHO_CONTROL_DEFAULT_ECHO_MESSAGES'], path: ['echo_control', 'default_echo_messages'], kind: 'bool' },
  { names: ['SOCKUDO_IDEMPOTENCY_ENABLED', 'IDEMPOTENCY_ENABLED'], path: ['idempotency', 'enabled'], kind: 'bool' },
  { names: ['SOCKUDO_IDEMPOTENCY_TTL_SECONDS', 'IDEMPOTENCY_TTL_SECONDS'], path: ['idempotency', 'ttl_seconds'], kind: 'int' },
  { names: ['SOCKUDO_IDEMPOTENCY_MAX_ENTRIES'], path: ['idempotency', 'max_entries'], kind: 'int' },
  { names: ['SOCKUDO_REDIS_URL', 'REDIS_URL'], path: ['redis', 'url'], kind: 'string' },
  { names: ['SOCKUDO_REDIS_PREFIX', 'DATABASE_REDIS_KEY_PREFIX'], path: ['redis', 'key_prefix'], kind: 'string' },
  ...PUSH_ENV.map((b) => ({ names: [...b.names], path: [...b.path], kind: b.kind })),
];

/** Environment variables that define the default app (the guide's names first, then Sockudo's). */
export const APP_ENV: EnvBinding[] = [
  { names: ['SOCKUDO_APP_ID', 'SOCKUDO_DEFAULT_APP_ID'], path: ['id'], kind: 'string' },
  { names: ['SOCKUDO_APP_KEY', 'SOCKUDO_DEFAULT_APP_KEY'], path: ['key'], kind: 'string' },
  { names: ['SOCKUDO_APP_SECRET', 'SOCKUDO_DEFAULT_APP_SECRET'], path: ['secret'], kind: 'string' },
  { names: ['SOCKUDO_DEFAULT_APP_ENABLED'], path: ['enabled'], kind: 'bool' },
  ...(
    [
      'max_connections',
      'max_channel_name_length',
      'max_event_name_length',
      'max_event_channels_at_once',
      'max_event_payload_in_kb',
      'max_event_batch_size',
      'max_subscriptions_per_socket',
      'max_client_events_per_second',
      'max_presence_members_per_channel',
      'max_presence_member_size_in_kb',
      'max_api_requests_per_second',
    ] as const
  ).map((k) => ({ names: [`SOCKUDO_DEFAULT_APP_${k.toUpperCase()}`], path: ['limits', k], kind: 'int' as const })),
  { names: ['SOCKUDO_DEFAULT_APP_ENABLE_CLIENT_MESSAGES', 'SOCKUDO_ENABLE_CLIENT_MESSAGES'], path: ['features', 'enable_client_messages'], kind: 'bool' },
  {
    names: ['SOCKUDO_DEFAULT_APP_REQUIRE_USER_AUTHENTICATION', 'SOCKUDO_DEFAULT_APP_ENABLE_USER_AUTHENTICATION'],
    path: ['features', 'require_user_authentication'],
    kind: 'bool',
  },
  { names: ['SOCKUDO_DEFAULT_APP_ENABLE_WATCHLIST_EVENTS'], path: ['features', 'enable_watchlist_events'], kind: 'bool' },
  { names: ['SOCKUDO_DEFAULT_APP_ALLOWED_ORIGINS'], path: ['allowed_origins'], kind: 'list' },
  { names: ['SOCKUDO_DEFAULT_APP_WEBHOOK_URL'], path: ['webhook_url'], kind: 'string' },
];

/**
 * Limits of an app that Sockudo's names SOCKUDO_DEFAULT_APP_ID/KEY/SECRET define, where SOCKUDO_DEFAULT_APP_* does
 * not set them: Sockudo's defaults for its env app (crates/sockudo-core/src/options/env/apps.rs).
 */
export const SOCKUDO_ENV_APP_LIMITS = Object.freeze({
  max_connections: 100,
  max_client_events_per_second: 100,
  max_presence_members_per_channel: 100,
  max_presence_member_size_in_kb: 100,
  max_channel_name_length: 100,
  max_event_channels_at_once: 100,
  max_event_name_length: 100,
  max_event_payload_in_kb: 100,
  max_event_batch_size: 100,
});

/** Sockudo's env-app features where its variables leave them unset (apps.rs: client messages and watchlist off). */
export const SOCKUDO_ENV_APP_FEATURES = Object.freeze({ enable_client_messages: false, enable_watchlist_events: false });

/** Sockudo's Redis connection variables: with ADAPTER_DRIVER=redis they build redis.url when it is not set. */
const REDIS_PARAM_ENV: EnvBinding[] = [
  { names: ['DATABASE_REDIS_HOST'], path: ['host'], kind: 'string' },
  { names: ['DATABASE_REDIS_PORT'], path: ['port'], kind: 'int' },
  { names: ['DATABASE_REDIS_USERNAME'], path: ['username'], kind: 'string' },
  { names: ['DATABASE_REDIS_PASSWORD'], path: ['password'], kind: 'string' },
  { names: ['DATABASE_REDIS_DB'], path: ['db'], kind: 'int' },
];

/** Sockudo variables for features sockudo-ts does not have: named in a warning when set (never silently dropped). */
const IGNORED_SOCKUDO_ENV = [
  'CACHE_DRIVER',
  'QUEUE_DRIVER',
  'RATE_LIMITER_DRIVER',
  'RATE_LIMITER_ENABLED',
  'CORS_ORIGINS',
  'CORS_METHODS',
  'CORS_HEADERS',
  'CORS_CREDENTIALS',
  'WEBHOOK_BATCHING_ENABLED',
  'WEBHOOK_BATCHING_DURATION',
  'WEBHOOK_BATCHING_SIZE',
  'SOCKUDO_SERVER_ROLE',
  'SOCKUDO_DEFAULT_APP_MAX_BACKEND_EVENTS_PER_SECOND',
  'SOCKUDO_DEFAULT_APP_MAX_READ_REQUESTS_PER_SECOND',
  'SOCKUDO_DEFAULT_APP_ANNOTATIONS_ENABLED',
  'SOCKUDO_SKIP_INLINE_APPS',
  'APP_MANAGER_REGISTER_INLINE_APPS',
  // Sockudo features and runtime settings this server does not have (SOCKUDO-REFERENCE §9.3).
  'INSTANCE_PROCESS_ID',
  'METRICS_DRIVER',
  'ADAPTER_FALLBACK_TO_LOCAL',
  'ADAPTER_ENABLE_SOCKET_COUNTING',
  'ADAPTER_AGGREGATE_COUNTS',
  'ADAPTER_FAST_PRESENCE_TRANSITIONS',
  'REDIS_CLUSTER_NODES',
  'IDEMPOTENCY_MAX_KEY_LENGTH',
  'HISTORY_ENABLED',
  'PRESENCE_HISTORY_ENABLED',
  'EVENT_NAME_FILTERING_ENABLED',
  'TAG_FILTERING_ENABLED',
  'VERSIONED_MESSAGES_ENABLED',
  'ANNOTATIONS_ENABLED',
  'AI_TRANSPORT_ENABLED',
  'WEBSOCKET_AUTO_PING',
  'WEBSOCKET_IDLE_TIMEOUT',
  'WEBSOCKET_MAX_MESSAGES',
  'WEBSOCKET_MAX_BYTES',
  'WEBSOCKET_COMPRESSION',
  'RATE_LIMITER_API_MAX_REQUESTS',
  'RATE_LIMITER_API_WINDOW_SECONDS',
  'RATE_LIMITER_API_TRUST_HOPS',
  'RATE_LIMITER_WS_MAX_REQUESTS',
  'RATE_LIMITER_REDIS_PREFIX',
  'PUSH_QUEUE_DRIVER',
  'PUSH_ALLOW_MEMORY_DRIVERS',
  'PUSH_RETRY_MAX_ATTEMPTS',
];

/** The file read when neither --config nor SOCKUDO_CONFIG_FILE names one, as Sockudo does (first found). */
export const DEFAULT_CONFIG_FILES = ['config/config.toml', 'config/config.json'] as const;

/** Which config file to read: --config, else SOCKUDO_CONFIG_FILE, else ./config/config.toml, else ./config/config.json. */
export function chooseConfigFile(
  cliPath: string | undefined,
  env: NodeJS.ProcessEnv,
  cwd: string,
): { path: string; chosenBy: string } | undefined {
  if (cliPath) return { path: cliPath, chosenBy: '--config' };
  if (env.SOCKUDO_CONFIG_FILE) return { path: env.SOCKUDO_CONFIG_FILE, chosenBy: 'SOCKUDO_CONFIG_FILE' };
  for (const rel of DEFAULT_CONFIG_FILES) {
    const path = join(cwd, rel);
    if (existsSync(path)) return { path, chosenBy: `./${rel} in the working directory` };
  }
  return undefined;
}

export interface LoadOptions {
  /** Path of a config file (`--config`): TOML when it ends in `.toml`, JSON otherwise. */
  file?: string;
  /** Already-parsed file contents (tests); takes the place of `file`. */
  fileContents?: unknown;
  env?: NodeJS.ProcessEnv;
  /** Told about every setting that is read but ignored (Sockudo keys and variables with no equivalent here). */
  onWarning?: Warn;
}

export function loadConfig(opts: LoadOptions = {}): Config {
  const env = opts.env ?? process.env;
  const warn: Warn = opts.onWarning ?? (() => {});
  const fileValue = opts.fileContents ?? (opts.file ? readConfigFile(opts.file, env) : {});
  if (typeof fileValue !== 'object' || fileValue === null || Array.isArray(fileValue)) {
    throw new ConfigError('config file: expected a JSON object at the top level');
  }
  let raw = stripComments(structuredClone(fileValue)) as Record<string, unknown>;
  let fileAdapterDriver: string | undefined;
  let fileRedis: RedisParams = {};
  if (isSockudoShape(raw)) {
    const translated = fromSockudoShape(raw, warn);
    raw = translated.config;
    fileAdapterDriver = translated.adapterDriver;
    fileRedis = translated.redis;
  }
  const fileApps = raw.apps;
  delete raw.apps;

  const envSources = new Map<string, string>();
  for (const b of SERVER_ENV) applyEnv(raw, b, env, envSources, '');
  applyAdapterDriver(raw, fileAdapterDriver, fileRedis, env, envSources, warn);
  applyDebugEnv(raw, env, envSources);
  checkSockudoEnv(env, warn);

  const parsed = configSchema.omit({ apps: true }).safeParse(raw);
  if (!parsed.success) throw new ConfigError(describe(parsed.error, envSources, ''));

  const apps = resolveApps(fileApps, env);
  const ids = new Set<string>();
  const keys = new Set<string>();
  for (const app of apps) {
    if (ids.has(app.id)) throw new ConfigError(`apps: duplicate app id "${app.id}"`);
    if (keys.has(app.key)) throw new ConfigError(`apps: duplicate app key "${app.key}"`);
    ids.add(app.id);
    keys.add(app.key);
  }
  const config: Config = { ...parsed.data, apps };
  if (config.mode === 'production') {
    const dev = apps.find((a) => a.secret === DEVELOPMENT_APP.secret);
    if (dev) {
      throw new ConfigError(
        `apps[${apps.indexOf(dev)}].secret: app "${dev.id}" uses the well-known development secret; ` +
          'set a real secret (SOCKUDO_APP_SECRET or the config file) before running in production mode',
      );
    }
  }
  return deepFreeze(config);
}

function resolveApps(fileApps: unknown, env: NodeJS.ProcessEnv): AppConfig[] {
  const envApp: Record<string, unknown> = {};
  const envSources = new Map<string, string>();
  for (const b of APP_ENV) applyEnv(envApp, b, env, envSources, 'apps[0].');
  const envDefinesApp = ['id', 'key', 'secret'].some((k) => k in envApp);
  if (!envDefinesApp && fileApps !== undefined && envSources.size > 0) {
    const names = [...envSources.values()].join(', ');
    throw new ConfigError(`${names}: set, but the config file defines the apps; put these settings in the file's apps instead`);
  }

  // As in Sockudo: an app defined by the environment replaces the file's apps.
  if (envDefinesApp || fileApps === undefined) {
    // An app defined by Sockudo's SOCKUDO_DEFAULT_APP_ID/KEY/SECRET gets Sockudo's env-app limits and features where
    // unset (client events and watchlist events off); the guide's SOCKUDO_APP_* names keep the development app's.
    const bySockudoNames = ['id', 'key', 'secret'].some((k) => envSources.get(`apps[0].${k}`)?.startsWith('SOCKUDO_DEFAULT_APP_'));
    // Sockudo registers its env app only when all three are set; here a partial set would fill the rest with the
    // well-known development credentials, so it stops start-up instead.
    if (bySockudoNames) {
      const missing = ['ID', 'KEY', 'SECRET'].filter((k) => !(k.toLowerCase() in envApp));
      if (missing.length > 0) throw new ConfigError(`${missing.map((k) => `SOCKUDO_DEFAULT_APP_${k}`).join(', ')}: required with the other SOCKUDO_DEFAULT_APP_ID / _KEY / _SECRET (Sockudo registers the app only when all three are set)`);
    }
    const features = { ...(bySockudoNames ? SOCKUDO_ENV_APP_FEATURES : DEVELOPMENT_APP_FEATURES), ...(envApp.features as object | undefined) };
    const limits = bySockudoNames ? { ...SOCKUDO_ENV_APP_LIMITS, ...(envApp.limits as object | undefined) } : envApp.limits;
    const { webhook_url: webhookUrl, ...rest } = envApp;
    const candidate = {
      ...DEVELOPMENT_APP,
      ...rest,
      ...(limits ? { limits } : {}),
      features,
      ...(webhookUrl ? { webhooks: [{ url: webhookUrl }] } : {}),
    };
    const parsed = appSchema.safeParse(candidate);
    if (!parsed.success) throw new ConfigError(describe(parsed.error, envSources, 'apps[0].'));
    // The development app (unsigned API calls in development mode) is the one from the defaults or the guide's
    // SOCKUDO_APP_* names; an app from Sockudo's SOCKUDO_DEFAULT_APP_* names is signed like any, as Sockudo's is.
    return [{ ...parsed.data, development_app: !bySockudoNames }];
  }
  const parsed = z.array(appSchema).min(1, 'at least one app is required').safeParse(fileApps);
  if (!parsed.success) throw new ConfigError(describe(parsed.error, new Map(), 'apps'));
  return parsed.data.map((a) => ({ ...a, development_app: false }));
}

/** The one place config files are parsed: `${VAR}` placeholders substituted, then TOML (`.toml`) or JSON. */
function readConfigFile(path: string, env: NodeJS.ProcessEnv): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`config file ${path}: cannot be read (${(err as Error).message})`);
  }
  text = substitutePlaceholders(text, env, `config file ${path}`);
  if (path.toLowerCase().endsWith('.toml')) {
    try {
      return parseToml(text);
    } catch (err) {
      throw new ConfigError(`config file ${path}: not valid TOML (${(err as Error).message})`);
    }
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`config file ${path}: not valid JSON (${(err as Error).message})`);
  }
}

/**
 * Sockudo's placeholders, substituted in the file's text before parsing: `${VAR}` is VAR's value (an unset VAR stops
 * start-up); `${VAR:-default}` is VAR's value, or `default` when VAR is unset or empty. Values are inserted as they are.
 */
export function substitutePlaceholders(text: string, env: NodeJS.ProcessEnv, where: string): string {
  return text.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g, (_m, name: string, fallback: string | undefined) => {
    const value = env[name];
    if (fallback !== undefined) return value === undefined || value === '' ? fallback : value;
    if (value === undefined) throw new ConfigError(`${where}: \${${name}} is used but the environment variable ${name} is not set (use \${${name}:-default} for a default)`);
    return value;
  });
}

/** Sockudo's DEBUG / DEBUG_MODE (true or 1): debug logging, as the file's `debug: true`, unless a log level is set. */
function applyDebugEnv(raw: Record<string, unknown>, env: NodeJS.ProcessEnv, envSources: Map<string, string>): void {
  const name = ['DEBUG_MODE', 'DEBUG'].find((n) => /^(true|1)$/i.test(env[n] ?? ''));
  if (!name || envSources.has('log.level')) return;
  const log = (typeof raw.log === 'object' && raw.log !== null ? raw.log : (raw.log = {})) as Record<string, unknown>;
  log.level = 'debug';
  envSources.set('log.level', name);
}

/**
 * Sockudo's adapter choice (ADAPTER_DRIVER, or the file's adapter.driver): `redis` clusters through Redis, with
 * redis.url built from DATABASE_REDIS_* / database.redis when it is not set; `local` runs alone (a redis.url is
 * dropped, with a warning); anything else is refused.
 */
function applyAdapterDriver(
  raw: Record<string, unknown>,
  fileDriver: string | undefined,
  fileRedis: RedisParams,
  env: NodeJS.ProcessEnv,
  envSources: Map<string, string>,
  warn: Warn,
): void {
  const fromEnv = env.ADAPTER_DRIVER !== undefined && env.ADAPTER_DRIVER !== '';
  const driver = (fromEnv ? (env.ADAPTER_DRIVER as string) : fileDriver)?.trim().toLowerCase();
  const named = fromEnv ? `ADAPTER_DRIVER=${driver}` : `adapter.driver "${driver}"`;
  if (driver === undefined) return;
  if (driver === 'local') {
    // As in Sockudo, the local adapter runs alone whatever Redis is configured for (its cache or queue, say).
    const redis = raw.redis as Record<string, unknown> | undefined;
    if (typeof redis?.url === 'string' && redis.url !== '') {
      warn(`${named}: this host runs alone; ${envSources.get('redis.url') ?? 'redis.url'} is not used to join other hosts`);
      delete redis.url;
      envSources.delete('redis.url');
    }
    return;
  }
  if (driver !== 'redis') {
    throw new ConfigError(
      `${named}: not supported; sockudo-ts hosts share state through Redis only (ADAPTER_DRIVER=redis, or SOCKUDO_REDIS_URL)`,
    );
  }
  const redis = (typeof raw.redis === 'object' && raw.redis !== null ? raw.redis : (raw.redis = {})) as Record<string, unknown>;
  if (typeof redis.url === 'string' && redis.url !== '') return;
  const params: Record<string, unknown> = { ...fileRedis };
  const paramSources = new Map<string, string>();
  for (const b of REDIS_PARAM_ENV) applyEnv(params, b, env, paramSources, '');
  if (Object.keys(params).length === 0) {
    throw new ConfigError(
      `${named}: no Redis to connect to; set SOCKUDO_REDIS_URL (or REDIS_URL), or DATABASE_REDIS_HOST ` +
        '(with DATABASE_REDIS_PORT, DATABASE_REDIS_USERNAME, DATABASE_REDIS_PASSWORD, DATABASE_REDIS_DB as needed), ' +
        'or redis.url / database.redis in the config file',
    );
  }
  const p = params as RedisParams;
  const auth = p.password !== undefined ? `${encodeURIComponent(p.username ?? '')}:${encodeURIComponent(p.password)}@` : p.username ? `${encodeURIComponent(p.username)}@` : '';
  const host = (p.host ?? '127.0.0.1').includes(':') ? `[${p.host}]` : (p.host ?? '127.0.0.1');
  redis.url = `redis://${auth}${host}:${p.port ?? 6379}${p.db ? `/${p.db}` : ''}`;
  envSources.set('redis.url', [...paramSources.values(), fromEnv ? 'ADAPTER_DRIVER' : undefined].filter(Boolean).join(', ') || 'database.redis');
}

/** Sockudo variables we do not read: a security setting we cannot honour stops start-up, the rest are warned about. */
function checkSockudoEnv(env: NodeJS.ProcessEnv, warn: Warn): void {
  const isSet = (n: string) => env[n] !== undefined && env[n] !== '';
  if (isSet('SSL_ENABLED') && ['true', '1', 'yes', 'on'].includes((env.SSL_ENABLED as string).trim().toLowerCase())) {
    throw new ConfigError('SSL_ENABLED: true, but sockudo-ts serves plain HTTP and WebSocket only; terminate TLS in front of it (a load balancer or reverse proxy) and unset SSL_ENABLED');
  }
  const appManager = env.APP_MANAGER_DRIVER?.trim().toLowerCase();
  if (appManager && appManager !== 'memory') {
    throw new ConfigError(`APP_MANAGER_DRIVER=${appManager}: not supported (sockudo-ts reads no app database); define the apps in the config file or with SOCKUDO_DEFAULT_APP_*`);
  }
  for (const name of IGNORED_SOCKUDO_ENV) if (isSet(name)) warn(`${name}: Sockudo variable with no equivalent in sockudo-ts; ignored`);
  for (const name of ['SSL_CERT_PATH', 'SSL_KEY_PATH', 'SSL_REDIRECT_HTTP', 'SSL_HTTP_PORT']) if (isSet(name)) warn(`${name}: Sockudo variable with no equivalent in sockudo-ts (TLS is not served here); ignored`);
}

function applyEnv(
  target: Record<string, unknown>,
  b: EnvBinding,
  env: NodeJS.ProcessEnv,
  sources: Map<string, string>,
  prefix: string,
): void {
  const name = b.names.find((n) => env[n] !== undefined && env[n] !== '');
  if (!name) return;
  const text = env[name] as string;
  let value: unknown = text;
  if (b.kind === 'list') {
    value = text
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
  } else if (b.kind === 'int') {
    if (!/^-?\d+$/.test(text.trim())) throw new ConfigError(`${name}: expected an integer, got "${text}"`);
    value = Number(text.trim());
  } else if (b.kind === 'bool') {
    const t = text.trim().toLowerCase();
    if (['true', '1', 'yes', 'on'].includes(t)) value = true;
    else if (['false', '0', 'no', 'off'].includes(t)) value = false;
    else throw new ConfigError(`${name}: expected true or false, got "${text}"`);
  }
  let node = target;
  for (const part of b.path.slice(0, -1)) {
    if (typeof node[part] !== 'object' || node[part] === null) node[part] = {};
    node = node[part] as Record<string, unknown>;
  }
  node[b.path[b.path.length - 1]] = value;
  sources.set(prefix + b.path.join('.'), name);
}

/** One line per problem, naming the key (and the environment variable it came from). */
function describe(error: z.ZodError, envSources: Map<string, string>, prefix: string): string {
  return error.issues
    .map((issue) => {
      const path = issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('');
      const key = (prefix + path).replace(/\.\.+/g, '.').replace(/^\./, '').replace(/\.\[/g, '[') || '(top level)';
      const from = envSources.get(key);
      const extra = issue.code === 'unrecognized_keys' ? ` ${JSON.stringify(issue.keys)}` : '';
      return `${key}${from ? ` (from ${from})` : ''}: ${issue.message}${extra}`;
    })
    .join('\n');
}

/** Keys starting with "//" are comments in our JSON config files. */
function stripComments(value: unknown): unknown {
  if (Array.isArray(value)) value.forEach(stripComments);
  else if (value && typeof value === 'object') {
    for (const k of Object.keys(value)) {
      if (k.startsWith('//')) delete (value as Record<string, unknown>)[k];
      else stripComments((value as Record<string, unknown>)[k]);
    }
  }
  return value;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
