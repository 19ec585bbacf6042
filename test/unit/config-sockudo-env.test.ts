// Sockudo's environment variables (SOCKUDO-REFERENCE §9.2, §9.3): DEBUG / DEBUG_MODE turn debug logging on, every
// variable we have no equivalent for is named in a warning (never dropped silently), and a partial
// SOCKUDO_DEFAULT_APP_ID / _KEY / _SECRET stops start-up instead of filling in the development credentials.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config/load.ts';

function load(opts: Parameters<typeof loadConfig>[0]) {
  const warnings: string[] = [];
  let error: unknown;
  let config: ReturnType<typeof loadConfig> | undefined;
  try {
    config = loadConfig({ ...opts, onWarning: (w) => warnings.push(w) });
  } catch (err) {
    error = err;
  }
  return { config, error, warnings };
}


describe('§9.3 core variables', () => {
  // Sockudo env/core.rs: DEBUG=true (or DEBUG_MODE=true) turns debug mode on. Our loader translates the file's
  // `debug: true` to log.level "debug" but ignores both variables without a word.
  for (const name of ['DEBUG', 'DEBUG_MODE']) {
    test(`${name}=true turns debug logging on, as the file's debug: true does`, () => {
      const { config, warnings } = load({ env: { [name]: 'true' } });
      assert.ok(
        config?.log.level === 'debug' || warnings.some((w) => w.includes(name)),
        `${name}=true was silently ignored (log.level ${config?.log.level}, no warning)`,
      );
    });
  }
});

describe('§9.3 Sockudo variables with no equivalent are named, never silently dropped', () => {
  // load.ts promises (IGNORED_SOCKUDO_ENV): "Sockudo variables for features sockudo-ts does not have: named in a
  // warning when set (never silently dropped)". These names from §9.3 / §5.1 / §3.5 are neither read nor warned about.
  const names: Record<string, string> = {
    INSTANCE_PROCESS_ID: 'node-1',
    METRICS_DRIVER: 'prometheus',
    ADAPTER_FALLBACK_TO_LOCAL: 'false',
    ADAPTER_ENABLE_SOCKET_COUNTING: 'true',
    ADAPTER_AGGREGATE_COUNTS: 'true',
    ADAPTER_FAST_PRESENCE_TRANSITIONS: 'true',
    REDIS_CLUSTER_NODES: 'redis-1:6379,redis-2:6379',
    IDEMPOTENCY_MAX_KEY_LENGTH: '64',
    HISTORY_ENABLED: 'true',
    PRESENCE_HISTORY_ENABLED: 'true',
    EVENT_NAME_FILTERING_ENABLED: 'false',
    TAG_FILTERING_ENABLED: 'false',
    VERSIONED_MESSAGES_ENABLED: 'true',
    ANNOTATIONS_ENABLED: 'true',
    AI_TRANSPORT_ENABLED: 'true',
    WEBSOCKET_AUTO_PING: 'false',
    WEBSOCKET_IDLE_TIMEOUT: '30',
    WEBSOCKET_MAX_MESSAGES: '100',
    WEBSOCKET_MAX_BYTES: '1048576',
    WEBSOCKET_COMPRESSION: 'shared',
    RATE_LIMITER_API_MAX_REQUESTS: '10',
    RATE_LIMITER_API_WINDOW_SECONDS: '60',
    RATE_LIMITER_API_TRUST_HOPS: '1',
    RATE_LIMITER_WS_MAX_REQUESTS: '5',
    RATE_LIMITER_REDIS_PREFIX: 'rl:',
    PUSH_QUEUE_DRIVER: 'redis',
    PUSH_ALLOW_MEMORY_DRIVERS: 'true',
    PUSH_RETRY_MAX_ATTEMPTS: '3',
  };
  for (const [name, value] of Object.entries(names)) {
    test(`${name} is read or named in a warning`, () => {
      const { config, error, warnings } = load({ env: { [name]: value } });
      assert.ok(error instanceof ConfigError || warnings.some((w) => w.includes(name)), `${name}=${value} accepted silently (config loaded: ${config !== undefined})`);
    });
  }
});

describe('push credential variables are read, not warned about', () => {
  // Sockudo's push_http.rs and bootstrap/push/workers/providers/{fcm,apns}.rs: FCM_APP_ID is read before PUSH_FCM_APP_ID.
  test('PUSH_CREDENTIAL_ENCRYPTION_KEY, FCM_APP_ID / PUSH_FCM_APP_ID, APNS_APP_ID / PUSH_APNS_APP_ID and their credential ids', () => {
    const { config, warnings } = load({
      env: {
        PUSH_CREDENTIAL_ENCRYPTION_KEY: 'k',
        FCM_APP_ID: 'fcm-app',
        PUSH_FCM_APP_ID: 'ignored-fcm-app',
        PUSH_FCM_CREDENTIAL_ID: 'fcm-prod',
        PUSH_APNS_APP_ID: 'apns-app',
        APNS_CREDENTIAL_ID: 'apns-prod',
      },
    });
    assert.deepEqual(warnings, []);
    assert.equal(config?.push.credential_encryption_key, 'k');
    assert.deepEqual([config?.push.fcm.credential_app_id, config?.push.fcm.credential_id], ['fcm-app', 'fcm-prod']);
    assert.deepEqual([config?.push.apns.credential_app_id, config?.push.apns.credential_id], ['apns-app', 'apns-prod']);
  });

  // bootstrap/push/workers/providers/{hms,wns}.rs: HMS_APP_ID, HMS_PROVIDER_TOKEN, HMS_ENDPOINT and WNS_PROVIDER_TOKEN
  // are read before their PUSH_-prefixed names.
  test('PUSH_HMS_ENABLED / PUSH_WNS_ENABLED and the HMS and WNS credentials are read, the unprefixed names first', () => {
    const { config, warnings } = load({
      env: {
        PUSH_HMS_ENABLED: 'true',
        PUSH_WNS_ENABLED: 'true',
        HMS_APP_ID: '10493117',
        PUSH_HMS_APP_ID: 'ignored',
        PUSH_HMS_PROVIDER_TOKEN: 'hms-token',
        HMS_ENDPOINT: 'http://127.0.0.1:9',
        PUSH_WNS_PROVIDER_TOKEN: 'wns-token',
        WNS_PROVIDER_TOKEN: 'wns-token-first',
      },
    });
    assert.deepEqual(warnings, []);
    assert.deepEqual(config?.push.hms, { enabled: true, app_id: '10493117', provider_token: 'hms-token', endpoint: 'http://127.0.0.1:9' });
    assert.deepEqual(config?.push.wns, { enabled: true, provider_token: 'wns-token-first', type: 'toast' });
    assert.equal(load({ env: { SOCKUDO_PUSH_WNS_TYPE: 'raw' } }).config?.push.wns.type, 'raw');
    assert.ok(load({ env: { SOCKUDO_PUSH_WNS_TYPE: 'badge' } }).error instanceof ConfigError);
  });

  test('unset: no stored credential is used, and the credential ids default to the provider names', () => {
    const { config } = load({ env: {} });
    assert.equal(config?.push.credential_encryption_key, '');
    assert.deepEqual([config?.push.fcm.credential_app_id, config?.push.fcm.credential_id], ['', 'fcm']);
    assert.deepEqual([config?.push.apns.credential_app_id, config?.push.apns.credential_id], ['', 'apns']);
  });
});

describe('§9.2 env default app', () => {
  // apps.rs: only when SOCKUDO_DEFAULT_APP_ID, _KEY and _SECRET are all set is an app created; with a partial set
  // Sockudo registers no app and warns. We build an app that silently takes the well-known key/secret.
  test('SOCKUDO_DEFAULT_APP_ID + _KEY without _SECRET does not create an app with the well-known secret app-secret', () => {
    const { config, error } = load({ env: { SOCKUDO_DEFAULT_APP_ID: 'prod-app', SOCKUDO_DEFAULT_APP_KEY: 'prod-key' } });
    if (error) {
      assert.ok(error instanceof ConfigError);
      assert.match(error.message, /SOCKUDO_DEFAULT_APP_SECRET/);
      return;
    }
    assert.ok(!config?.apps.some((a) => a.secret === 'app-secret'), `apps: ${JSON.stringify(config?.apps.map((a) => [a.id, a.key, a.secret]))}`);
  });

  test('SOCKUDO_DEFAULT_APP_ID alone does not create an app keyed app-key / app-secret', () => {
    const { config, error } = load({ env: { SOCKUDO_DEFAULT_APP_ID: 'prod-app' } });
    if (error) return assert.ok(error instanceof ConfigError);
    assert.ok(!config?.apps.some((a) => a.key === 'app-key'), `apps: ${JSON.stringify(config?.apps.map((a) => [a.id, a.key, a.secret]))}`);
  });
});
