// Reads a config file written for Sockudo (the Rust server): its section names, its `app_manager.array.apps`
// list with flat or `policy.*` app fields, and its `adapter` / `database.redis` settings. What we have an
// equivalent for is translated into our shape; every other Sockudo key is named in a warning and ignored; a
// setting whose loss would weaken security (`ssl.enabled`) or silently change where apps come from stops start-up.
// A file in our own shape never comes here and stays strict (unknown keys refused).
import { ConfigError } from './errors.ts';
import { configSchema } from './schema.ts';

export type Warn = (message: string) => void;

/** Top-level keys of Sockudo's ServerOptions that our schema does not have (SOCKUDO-REFERENCE.md §9.1). */
const SOCKUDO_ONLY_KEYS = new Set([
  'debug',
  'path_prefix',
  'server_role',
  'health_check_timeout_ms',
  'adapter',
  'app_manager',
  'cache',
  'channel_limits',
  'cors',
  'database',
  'database_pooling',
  'event_limits',
  'http_api',
  'instance',
  'logging',
  'queue',
  'rate_limiter',
  'ssl',
  'webhooks',
  'cleanup',
  'cluster_health',
  'unix_socket',
  'delta_compression',
  'tag_filtering',
  'websocket',
  'history',
  'presence_history',
  'event_name_filtering',
  'versioned_messages',
  'annotations',
  'ai_transport',
  'push_rules',
  'ably_compat',
]);

/** Sections both servers have: in a Sockudo file, their sub-keys we do not have are warned about and dropped. */
const SHARED_SECTIONS = ['metrics', 'presence', 'connection_recovery', 'idempotency', 'ephemeral', 'echo_control', 'push'] as const;

/** Sockudo's Redis connection settings (`database.redis` / `DATABASE_REDIS_*`). */
export interface RedisParams {
  host?: string;
  port?: number;
  username?: string;
  password?: string;
  db?: number;
}

export interface SockudoTranslation {
  /** The file in our shape (apps under `apps`). */
  config: Record<string, unknown>;
  /** `adapter.driver`, when the file sets it. */
  adapterDriver?: string;
  /** `database.redis` connection settings, when the file sets any. */
  redis: RedisParams;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** True when the file uses any top-level key only Sockudo's configuration has. */
export function isSockudoShape(raw: Obj): boolean {
  return Object.keys(raw).some((k) => SOCKUDO_ONLY_KEYS.has(k));
}

const NO_EQUIVALENT = 'Sockudo setting with no equivalent in sockudo-ts; ignored';

export function fromSockudoShape(raw: Obj, warn: Warn): SockudoTranslation {
  const out: Obj = {};
  const defaults = configSchema.omit({ apps: true }).parse({}) as Obj;
  for (const [k, rawValue] of Object.entries(raw)) {
    if (SOCKUDO_ONLY_KEYS.has(k)) continue;
    const v = k === 'metrics' && isObj(rawValue) ? metricsPrefix(rawValue) : k === 'push' && isObj(rawValue) ? pushQuotas(rawValue, warn) : rawValue;
    out[k] = (SHARED_SECTIONS as readonly string[]).includes(k) && isObj(v) && isObj(defaults[k]) ? keepKnown(v, defaults[k], k, warn) : v;
  }
  const result: SockudoTranslation = { config: out, redis: {} };

  for (const [k, v] of Object.entries(raw)) {
    if (!SOCKUDO_ONLY_KEYS.has(k)) continue;
    switch (k) {
      case 'debug':
        if (v === true && !(isObj(out.log) && 'level' in out.log)) out.log = { ...(isObj(out.log) ? out.log : {}), level: 'debug' };
        break;
      case 'path_prefix':
        if (v !== '/' && v !== '') warn(`path_prefix: ${NO_EQUIVALENT} (Sockudo's router does not use it either)`);
        break;
      case 'server_role':
        if (v !== 'default') warn(`server_role: "${String(v)}": sockudo-ts has no API-only role; this host serves WebSocket connections too`);
        break;
      case 'ssl':
        if (isObj(v) && v.enabled === true) {
          throw new ConfigError(
            'ssl.enabled: true, but sockudo-ts serves plain HTTP and WebSocket only; terminate TLS in front of it ' +
              '(a load balancer or reverse proxy) and set ssl.enabled to false',
          );
        }
        warn(`ssl: ${NO_EQUIVALENT} (TLS is not enabled in it)`);
        break;
      case 'adapter':
        if (isObj(v)) {
          for (const [ak, av] of Object.entries(v)) {
            if (ak === 'driver' && typeof av === 'string') result.adapterDriver = av;
            else warn(`adapter.${ak}: ${NO_EQUIVALENT}`);
          }
        } else warn(`adapter: ${NO_EQUIVALENT}`);
        break;
      case 'database':
        if (isObj(v)) {
          for (const [dk, dv] of Object.entries(v)) {
            if (dk === 'redis' && isObj(dv)) result.redis = redisParams(dv, out, warn);
            else warn(`database.${dk}: ${NO_EQUIVALENT}`);
          }
        } else warn(`database: ${NO_EQUIVALENT}`);
        break;
      case 'app_manager':
        appManager(v, raw, out, warn);
        break;
      case 'http_api':
        if (isObj(v)) {
          for (const [hk, hv] of Object.entries(v)) {
            if (hk === 'request_limit_in_mb' && typeof hv === 'number' && !('http_max_body_kb' in out)) out.http_max_body_kb = Math.round(hv * 1024);
            else warn(`http_api.${hk}: ${NO_EQUIVALENT}`);
          }
        } else warn(`http_api: ${NO_EQUIVALENT}`);
        break;
      case 'websocket':
        if (isObj(v)) {
          for (const [wk, wv] of Object.entries(v)) {
            if (wk === 'ping_interval' && !('websocket_ping_interval' in out)) out.websocket_ping_interval = wv;
            else warn(`websocket.${wk}: ${NO_EQUIVALENT}`);
          }
        } else warn(`websocket: ${NO_EQUIVALENT}`);
        break;
      case 'rate_limiter':
        if (isObj(v) && v.enabled === true) {
          warn(
            "rate_limiter: Sockudo's per-address request rate limits are not implemented and are NOT enforced; the equivalents " +
              'here are apps[].limits.max_api_requests_per_second (per app) and max_connections_per_ip (concurrent connections)',
          );
        } else warn(`rate_limiter: ${NO_EQUIVALENT}`);
        break;
      default:
        warn(`${k}: ${NO_EQUIVALENT}`);
    }
  }
  return result;
}

/** Sockudo's `metrics.prometheus.prefix` is our `metrics.prefix` (the rest of `prometheus` has no equivalent). */
function metricsPrefix(metrics: Obj): Obj {
  const { prometheus, ...rest } = metrics;
  if (!isObj(prometheus) || !('prefix' in prometheus)) return metrics;
  const { prefix, ...others } = prometheus;
  return { ...rest, prefix, ...(Object.keys(others).length > 0 ? { prometheus: others } : {}) };
}

/** Sockudo's `push.default_quotas` are our `push.acceptance_rps`, `fanout_max` and `delivery_quota_daily`. */
function pushQuotas(push: Obj, warn: Warn): Obj {
  const { default_quotas: quotas, ...rest } = push;
  if (!isObj(quotas)) return push;
  const out: Obj = { ...rest };
  for (const [k, v] of Object.entries(quotas)) {
    if ((k === 'acceptance_rps' || k === 'fanout_max' || k === 'delivery_quota_daily') && !(k in rest)) out[k] = v;
    else warn(`push.default_quotas.${k}: ${NO_EQUIVALENT}`);
  }
  return out;
}

/** Keeps the keys our schema has (recursively, by its defaults); warns about and drops the others. */
function keepKnown(value: Obj, known: Obj, path: string, warn: Warn): Obj {
  const kept: Obj = {};
  for (const [k, v] of Object.entries(value)) {
    if (!(k in known)) warn(`${path}.${k}: ${NO_EQUIVALENT}`);
    else kept[k] = isObj(v) && isObj(known[k]) ? keepKnown(v, known[k], `${path}.${k}`, warn) : v;
  }
  return kept;
}

function redisParams(v: Obj, out: Obj, warn: Warn): RedisParams {
  const params: RedisParams = {};
  for (const [k, x] of Object.entries(v)) {
    if (k === 'host' && typeof x === 'string') params.host = x;
    else if (k === 'port' && typeof x === 'number') params.port = x;
    else if (k === 'username' && typeof x === 'string') params.username = x;
    else if (k === 'password' && typeof x === 'string') params.password = x;
    else if (k === 'db' && typeof x === 'number') params.db = x;
    else if (k === 'key_prefix' && typeof x === 'string') {
      const redis = isObj(out.redis) ? out.redis : {};
      if (!('key_prefix' in redis)) out.redis = { ...redis, key_prefix: x };
    } else warn(`database.redis.${k}: ${NO_EQUIVALENT}`);
  }
  return params;
}

function appManager(v: unknown, raw: Obj, out: Obj, warn: Warn): void {
  if (!isObj(v)) return warn(`app_manager: ${NO_EQUIVALENT}`);
  const driver = v.driver ?? 'memory';
  if (driver !== 'memory') {
    throw new ConfigError(
      `app_manager.driver: "${String(driver)}" is not supported (sockudo-ts reads no app database); ` +
        'list the apps in app_manager.array.apps (driver "memory") or in apps',
    );
  }
  for (const [k, x] of Object.entries(v)) {
    if (k === 'driver') continue;
    if (k !== 'array') {
      warn(`app_manager.${k}: ${NO_EQUIVALENT}`);
      continue;
    }
    if (!isObj(x)) throw new ConfigError('app_manager.array: expected an object with an apps list');
    for (const ak of Object.keys(x)) if (ak !== 'apps') warn(`app_manager.array.${ak}: ${NO_EQUIVALENT}`);
    if (x.apps === undefined) continue;
    if (raw.apps !== undefined) throw new ConfigError('apps and app_manager.array.apps: both are set; keep one list of apps');
    if (!Array.isArray(x.apps)) throw new ConfigError('app_manager.array.apps: expected a list of apps');
    out.apps = x.apps.map((app, i) => (isObj(app) ? translateApp(app, `app_manager.array.apps[${i}]`, warn) : app));
  }
}

/** Limits with the same name and meaning in both servers (Sockudo's 0 = unlimited / no limiter is ours too). */
const LIMITS = new Set([
  'max_connections',
  'max_client_events_per_second',
  'max_presence_members_per_channel',
  'max_presence_member_size_in_kb',
  'max_channel_name_length',
  'max_event_channels_at_once',
  'max_event_name_length',
  'max_event_payload_in_kb',
  'max_event_batch_size',
  'decay_seconds',
  'terminate_on_limit',
  // Ours only, accepted in a Sockudo-shaped app too.
  'max_subscriptions_per_socket',
  'max_api_requests_per_second',
]);
const FEATURES: Record<string, string> = {
  enable_client_messages: 'enable_client_messages',
  enable_user_authentication: 'require_user_authentication',
  enable_watchlist_events: 'enable_watchlist_events',
  // Ours, accepted too.
  require_user_authentication: 'require_user_authentication',
};

/** One Sockudo app (flat fields, or `policy.limits` / `policy.features` / `policy.channels`) in our shape. */
export function translateApp(app: Obj, where: string, warn: Warn): Obj {
  const limits: Obj = {};
  const features: Obj = {};
  const out: Obj = {};
  const field = (k: string, v: unknown, path: string): void => {
    if (v === null) return; // Sockudo's Option::None: unset
    if (LIMITS.has(k)) limits[k] = v;
    else if (k in FEATURES) features[FEATURES[k]] = v;
    else if (k === 'max_backend_events_per_second' || k === 'max_read_requests_per_second') {
      warn(`${path}: ${NO_EQUIVALENT} (Sockudo does not enforce it either; see limits.max_api_requests_per_second)`);
    } else if (k === 'message_rate_limit' && isObj(v)) {
      const known = ['enabled', 'max_attempts', 'decay_seconds', 'terminate_on_limit'];
      limits.message_rate_limit = Object.fromEntries(Object.entries(v).filter(([mk, mv]) => known.includes(mk) && mv !== null));
      for (const mk of Object.keys(v)) if (!known.includes(mk)) warn(`${path}.${mk}: ${NO_EQUIVALENT}`);
    } else if (k === 'allowed_origins') {
      if (v !== null) out.allowed_origins = v; // Sockudo's Option: null = no origin check
    }
    else if (k === 'webhooks') out.webhooks = Array.isArray(v) ? v.flatMap((w, i) => webhook(w, `${path}[${i}]`, warn)) : v;
    else if (k === 'idempotency' && isObj(v)) {
      if (v.enabled === false) warn(`${path}.enabled: false: ${NO_EQUIVALENT} (idempotency is server-wide here)`);
      if (typeof v.ttl_seconds === 'number') out.idempotency_ttl_seconds = v.ttl_seconds;
      for (const ik of Object.keys(v)) if (ik !== 'enabled' && ik !== 'ttl_seconds') warn(`${path}.${ik}: ${NO_EQUIVALENT}`);
    } else if (k === 'limits' && isObj(v)) for (const [lk, lv] of Object.entries(v)) field(lk, lv, `${path}.${lk}`);
    else if (k === 'features' && isObj(v)) for (const [fk, fv] of Object.entries(v)) field(fk, fv, `${path}.${fk}`);
    else if (k === 'idempotency_ttl_seconds') out.idempotency_ttl_seconds = v;
    else warn(`${path}: ${NO_EQUIVALENT}`);
  };

  for (const [k, v] of Object.entries(app)) {
    if (k === 'id' || k === 'key' || k === 'secret' || k === 'enabled') out[k] = v;
    else if (k === 'policy' && isObj(v)) {
      for (const [pk, pv] of Object.entries(v)) {
        if ((pk === 'limits' || pk === 'features') && isObj(pv)) for (const [x, y] of Object.entries(pv)) field(x, y, `${where}.policy.${pk}.${x}`);
        else if (pk === 'channels' && isObj(pv)) {
          for (const [x, y] of Object.entries(pv)) {
            if (x === 'allowed_origins') {
              if (y !== null) out.allowed_origins = y; // Sockudo's Option: null = no origin check
            }
            else if (!(x === 'annotations_enabled' && y === false)) warn(`${where}.policy.channels.${x}: ${NO_EQUIVALENT}`);
          }
        } else field(pk, pv, `${where}.policy.${pk}`);
      }
    } else field(k, v, `${where}.${k}`);
  }
  if (Object.keys(limits).length > 0) out.limits = limits;
  if (Object.keys(features).length > 0) out.features = features;
  return out;
}

const WEBHOOK_EVENTS = new Set(['channel_occupied', 'channel_vacated', 'member_added', 'member_removed', 'client_event', 'cache_miss', 'subscription_count']);

function webhook(w: unknown, path: string, warn: Warn): Obj[] {
  if (!isObj(w)) return [w as Obj];
  if (typeof w.url !== 'string' || w.url === '') {
    warn(`${path}: a webhook without a url (e.g. a Lambda target) has no equivalent in sockudo-ts; ignored`);
    return [];
  }
  const out: Obj = { url: w.url };
  for (const [k, v] of Object.entries(w)) {
    if (k === 'url') continue;
    if (k === 'event_types' && Array.isArray(v)) {
      const kept = v.filter((e) => WEBHOOK_EVENTS.has(e as string));
      for (const e of v) if (!WEBHOOK_EVENTS.has(e as string)) warn(`${path}.event_types: "${String(e)}": ${NO_EQUIVALENT}`);
      out.event_types = kept;
    } else if (k === 'headers' && isObj(v)) out.headers = v;
    else if (k === 'filter' && isObj(v)) {
      const filter: Obj = {};
      for (const [fk, fv] of Object.entries(v)) {
        if (['channel_prefix', 'channel_suffix', 'channel_pattern'].includes(fk)) filter[fk] = fv;
        else if (fv !== null) warn(`${path}.filter.${fk}: ${NO_EQUIVALENT} (there are no channel namespaces here)`);
      }
      out.filter = filter;
    } else if (v !== null) warn(`${path}.${k}: ${NO_EQUIVALENT}`);
  }
  return [out];
}
