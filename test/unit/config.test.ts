// Configuration: defaults < config file < SOCKUDO_* env, validation that names the key, and the frozen result.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { ConfigError, SOCKUDO_ENV_APP_LIMITS, chooseConfigFile, loadConfig } from '../../src/config/load.ts';
import { type Config, appSchema } from '../../src/config/schema.ts';
import { resolveWorkerCount } from '../../src/primary/workerCount.ts';

/** Runs loadConfig and returns the ConfigError it must throw. */
function configError(opts: Parameters<typeof loadConfig>[0]): ConfigError {
  let caught: unknown;
  try {
    loadConfig(opts);
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof ConfigError, `expected a ConfigError, got ${String(caught)}`);
  assert.equal(caught.name, 'ConfigError');
  return caught;
}

const fileApp = (id: string, key: string, secret = `${id}-secret`) => ({ id, key, secret });

describe('defaults (empty env, no file)', () => {
  const config = loadConfig({ env: {} });

  test('server-wide defaults', () => {
    assert.equal(config.mode, 'development');
    assert.equal(config.host, '127.0.0.1');
    assert.equal(config.port, 6001);
    assert.equal(config.workers, 0);
    assert.equal(config.activity_timeout, 120);
    assert.equal(config.pong_timeout, 30);
    assert.equal(config.max_connections, 0);
    assert.equal(config.websocket_max_payload_kb, 64);
    assert.equal(config.http_max_body_kb, 10 * 1024);
    assert.equal(config.worker_ports, false);
    assert.deepEqual(config.metrics, { enabled: true, host: '127.0.0.1', port: 9601, prefix: 'sockudo_' });
    assert.equal(config.log.level, 'info');
    // Off, as Sockudo's code default and its image's config.json: V2 channel frames carry no positions.
    assert.deepEqual(config.connection_recovery, { enabled: false, buffer_ttl_seconds: 120, max_buffer_size: 100 });
  });

  test('exactly one development app app-id / app-key / app-secret', () => {
    assert.equal(config.apps.length, 1);
    const [app] = config.apps;
    assert.equal(app.id, 'app-id');
    assert.equal(app.key, 'app-key');
    assert.equal(app.secret, 'app-secret');
    assert.equal(app.enabled, true);
    assert.equal(app.development_app, true);
    assert.deepEqual(app.limits, {
      max_connections: 0,
      max_channel_name_length: 200,
      max_event_name_length: 200,
      max_event_channels_at_once: 100,
      max_event_payload_in_kb: 100,
      max_event_batch_size: 10,
      max_subscriptions_per_socket: 1000,
      max_client_events_per_second: 10,
      decay_seconds: 1,
      terminate_on_limit: false,
      message_rate_limit: { enabled: false, max_attempts: 60, decay_seconds: 60, terminate_on_limit: false },
      max_presence_members_per_channel: 100,
      max_presence_member_size_in_kb: 2,
      max_api_requests_per_second: 0,
    });
    assert.deepEqual(app.features, { enable_client_messages: true, require_user_authentication: false, enable_watchlist_events: true });
  });

  test('loadConfig() without an env option reads process.env', (t) => {
    const saved = process.env.SOCKUDO_PORT;
    t.after(() => {
      if (saved === undefined) delete process.env.SOCKUDO_PORT;
      else process.env.SOCKUDO_PORT = saved;
    });
    process.env.SOCKUDO_PORT = '7345';
    assert.equal(loadConfig().port, 7345);
  });
});

describe('precedence: defaults < file < env', () => {
  test('a file value replaces the default', () => {
    const c = loadConfig({ env: {}, fileContents: { port: 7000, metrics: { port: 9700 } } });
    assert.equal(c.port, 7000);
    assert.equal(c.metrics.port, 9700);
    // keys the file does not mention keep their defaults, also inside a section the file names
    assert.equal(c.host, '127.0.0.1');
    assert.equal(c.metrics.enabled, true);
    assert.equal(c.metrics.host, '127.0.0.1');
  });

  test('env replaces the file value', () => {
    const c = loadConfig({
      env: { SOCKUDO_PORT: '7001', SOCKUDO_METRICS_PORT: '9701', SOCKUDO_HOST: '0.0.0.0' },
      fileContents: { port: 7000, host: '10.0.0.1', metrics: { port: 9700, enabled: false } },
    });
    assert.equal(c.port, 7001);
    assert.equal(c.metrics.port, 9701);
    assert.equal(c.host, '0.0.0.0');
    // env for one key of a section leaves the file's other keys alone
    assert.equal(c.metrics.enabled, false);
  });

  test("our SOCKUDO_* name wins over Sockudo's plain name; the plain name works alone", () => {
    assert.equal(loadConfig({ env: { SOCKUDO_PORT: '7001', PORT: '7002' } }).port, 7001);
    assert.equal(loadConfig({ env: { PORT: '7002' } }).port, 7002);
    assert.equal(loadConfig({ env: { ENVIRONMENT: 'production', SOCKUDO_APP_SECRET: 's3cret' } }).mode, 'production');
    assert.equal(loadConfig({ env: { ACTIVITY_TIMEOUT: '45' } }).activity_timeout, 45);
  });

  test('an empty env value counts as unset', () => {
    assert.equal(loadConfig({ env: { SOCKUDO_PORT: '' }, fileContents: { port: 7000 } }).port, 7000);
    assert.equal(loadConfig({ env: { SOCKUDO_PORT: '', PORT: '7003' } }).port, 7003);
  });

  test('int env values are trimmed; bool env values accept true/false/1/0/yes/no/on/off', () => {
    assert.equal(loadConfig({ env: { SOCKUDO_PORT: ' 7004 ' } }).port, 7004);
    for (const [text, value] of [
      ['true', true],
      ['FALSE', false],
      ['1', true],
      ['0', false],
      ['yes', true],
      ['no', false],
      ['on', true],
      ['Off', false],
    ] as const) {
      assert.equal(loadConfig({ env: { SOCKUDO_METRICS_ENABLED: text } }).metrics.enabled, value, text);
    }
    assert.equal(loadConfig({ env: { SOCKUDO_WORKER_PORTS: 'true' } }).worker_ports, true);
  });

  test('env strings for enums and nested keys', () => {
    const c = loadConfig({ env: { SOCKUDO_LOG_LEVEL: 'debug', SOCKUDO_LOG_PRETTY: 'false', SOCKUDO_WORKERS: '3' } });
    assert.equal(c.log.level, 'debug');
    assert.equal(c.log.pretty, false);
    assert.equal(c.workers, 3);
  });
});

describe('apps', () => {
  test('SOCKUDO_APP_ID/KEY/SECRET define the app (still the development app)', () => {
    const c = loadConfig({ env: { SOCKUDO_APP_ID: 'my-app', SOCKUDO_APP_KEY: 'my-key', SOCKUDO_APP_SECRET: 'my-secret' } });
    assert.equal(c.apps.length, 1);
    assert.deepEqual([c.apps[0].id, c.apps[0].key, c.apps[0].secret], ['my-app', 'my-key', 'my-secret']);
    assert.equal(c.apps[0].development_app, true);
  });

  test("Sockudo's SOCKUDO_DEFAULT_APP_ID/KEY/SECRET work too", () => {
    const c = loadConfig({
      env: { SOCKUDO_DEFAULT_APP_ID: 'demo-app', SOCKUDO_DEFAULT_APP_KEY: 'demo-key', SOCKUDO_DEFAULT_APP_SECRET: 'demo-secret' },
    });
    assert.deepEqual([c.apps[0].id, c.apps[0].key, c.apps[0].secret], ['demo-app', 'demo-key', 'demo-secret']);
  });

  test('SOCKUDO_APP_* wins over SOCKUDO_DEFAULT_APP_*', () => {
    const c = loadConfig({
      env: {
        SOCKUDO_APP_ID: 'ours-id',
        SOCKUDO_DEFAULT_APP_ID: 'theirs-id',
        SOCKUDO_APP_KEY: 'ours-key',
        SOCKUDO_DEFAULT_APP_KEY: 'theirs-key',
        SOCKUDO_APP_SECRET: 'ours-secret',
        SOCKUDO_DEFAULT_APP_SECRET: 'theirs-secret',
      },
    });
    assert.deepEqual([c.apps[0].id, c.apps[0].key, c.apps[0].secret], ['ours-id', 'ours-key', 'ours-secret']);
  });

  test('a partial env app fills the rest from the development app', () => {
    const c = loadConfig({ env: { SOCKUDO_APP_KEY: 'other-key' } });
    assert.deepEqual([c.apps[0].id, c.apps[0].key, c.apps[0].secret], ['app-id', 'other-key', 'app-secret']);
  });

  test('SOCKUDO_DEFAULT_APP_* limits and enabled apply to the env app', () => {
    const c = loadConfig({
      env: {
        SOCKUDO_DEFAULT_APP_MAX_CONNECTIONS: '1000',
        SOCKUDO_DEFAULT_APP_MAX_EVENT_BATCH_SIZE: '25',
        SOCKUDO_DEFAULT_APP_MAX_CHANNEL_NAME_LENGTH: '150',
        SOCKUDO_DEFAULT_APP_ENABLED: 'false',
      },
    });
    assert.equal(c.apps[0].limits.max_connections, 1000);
    assert.equal(c.apps[0].limits.max_event_batch_size, 25);
    assert.equal(c.apps[0].limits.max_channel_name_length, 150);
    assert.equal(c.apps[0].limits.max_event_payload_in_kb, 100, 'untouched limits keep their defaults');
    assert.equal(c.apps[0].enabled, false);
  });

  test('file apps are used as given and are not development apps', () => {
    const c = loadConfig({
      env: {},
      fileContents: { apps: [fileApp('a1', 'k1'), { ...fileApp('a2', 'k2'), enabled: false, limits: { max_connections: 5 } }] },
    });
    assert.deepEqual(
      c.apps.map((a) => [a.id, a.key, a.secret, a.enabled, a.development_app]),
      [
        ['a1', 'k1', 'a1-secret', true, false],
        ['a2', 'k2', 'a2-secret', false, false],
      ],
    );
    assert.equal(c.apps[1].limits.max_connections, 5);
    assert.equal(c.apps[1].limits.max_event_batch_size, 10);
    assert.ok(!c.apps.some((a) => a.id === 'app-id'), 'the development app is not added next to file apps');
  });

  test('an app defined by env replaces every file app', () => {
    for (const env of [{ SOCKUDO_APP_ID: 'env-app' }, { SOCKUDO_APP_KEY: 'env-key' }, { SOCKUDO_APP_SECRET: 'env-secret' }]) {
      const c = loadConfig({ env, fileContents: { apps: [fileApp('a1', 'k1'), fileApp('a2', 'k2')] } });
      assert.equal(c.apps.length, 1, JSON.stringify(env));
      assert.equal(c.apps[0].development_app, true);
      assert.ok(!['a1', 'a2'].includes(c.apps[0].id));
    }
    // Sockudo's names make an app that is signed like any (no unsigned calls in development mode).
    const sockudo = loadConfig({ env: { SOCKUDO_DEFAULT_APP_ID: 'demo-app', SOCKUDO_DEFAULT_APP_KEY: 'demo-key', SOCKUDO_DEFAULT_APP_SECRET: 'demo-secret' }, fileContents: { apps: [fileApp('a1', 'k1')] } });
    assert.deepEqual(sockudo.apps.map((a) => [a.id, a.development_app]), [['demo-app', false]]);
  });

  test("a partial SOCKUDO_DEFAULT_APP_ID / _KEY / _SECRET stops start-up (it would take the development app's secret)", () => {
    assert.match(configError({ env: { SOCKUDO_DEFAULT_APP_ID: 'prod-app' } }).message, /^SOCKUDO_DEFAULT_APP_KEY, SOCKUDO_DEFAULT_APP_SECRET: required/);
    assert.match(configError({ env: { SOCKUDO_DEFAULT_APP_ID: 'prod-app', SOCKUDO_DEFAULT_APP_KEY: 'prod-key' } }).message, /^SOCKUDO_DEFAULT_APP_SECRET: required/);
  });

  test('duplicate app ids are refused', () => {
    const err = configError({ env: {}, fileContents: { apps: [fileApp('same', 'k1'), fileApp('same', 'k2')] } });
    assert.match(err.message, /duplicate app id/);
    assert.match(err.message, /"same"/);
  });

  test('duplicate app keys are refused', () => {
    const err = configError({ env: {}, fileContents: { apps: [fileApp('a1', 'dup'), fileApp('a2', 'dup')] } });
    assert.match(err.message, /duplicate app key/);
    assert.match(err.message, /"dup"/);
  });

  test('an empty apps list is refused', () => {
    const err = configError({ env: {}, fileContents: { apps: [] } });
    assert.match(err.message, /^apps/);
    assert.match(err.message, /at least one app is required/);
  });

  test('an invalid file app names its index and key', () => {
    const err = configError({ env: {}, fileContents: { apps: [fileApp('ok', 'k1'), { id: 'bad id', key: 'k2', secret: 's' }] } });
    assert.match(err.message, /^apps\[1\]\.id: /);
    const missing = configError({ env: {}, fileContents: { apps: [{ id: 'a', key: 'k' }] } });
    assert.match(missing.message, /^apps\[0\]\.secret: /);
  });

  test('allowed_origins: empty by default (every origin), a list of strings from a file app, anything else refused', () => {
    assert.deepEqual(loadConfig({ env: {} }).apps[0].allowed_origins, []);
    const c = loadConfig({ env: {}, fileContents: { apps: [{ ...fileApp('a1', 'k1'), allowed_origins: ['https://*.example.com', 'localhost:3000'] }] } });
    assert.deepEqual(c.apps[0].allowed_origins, ['https://*.example.com', 'localhost:3000']);
    const notList = configError({ env: {}, fileContents: { apps: [{ ...fileApp('a1', 'k1'), allowed_origins: 'https://example.com' }] } });
    assert.match(notList.message, /^apps\[0\]\.allowed_origins: /);
    const notStrings = configError({ env: {}, fileContents: { apps: [{ ...fileApp('a1', 'k1'), allowed_origins: [42] }] } });
    assert.match(notStrings.message, /^apps\[0\]\.allowed_origins/);
  });

  test('an API rate limit past what the shared budget counts is refused, not silently unlimited', () => {
    const limited = (n: number) => ({ apps: [{ ...fileApp('a', 'k'), limits: { max_api_requests_per_second: n } }] });
    assert.equal(loadConfig({ env: {}, fileContents: limited(1_000_000) }).apps[0].limits.max_api_requests_per_second, 1_000_000);
    assert.match(configError({ env: {}, fileContents: limited(1_000_001) }).message, /^apps\[0\]\.limits\.max_api_requests_per_second: /);
  });
});

describe('fanout_hold_ms', () => {
  test('defaults to 4 ms, reads SOCKUDO_FANOUT_HOLD_MS, takes 0 for off and refuses more than 100', () => {
    assert.equal(loadConfig({ env: {} }).fanout_hold_ms, 4);
    assert.equal(loadConfig({ env: { SOCKUDO_FANOUT_HOLD_MS: '0' } }).fanout_hold_ms, 0);
    assert.equal(loadConfig({ env: {}, fileContents: { fanout_hold_ms: 100 } }).fanout_hold_ms, 100);
    assert.match(configError({ env: {}, fileContents: { fanout_hold_ms: 101 } }).message, /^fanout_hold_ms: /);
    assert.match(configError({ env: { SOCKUDO_FANOUT_HOLD_MS: '-1' } }).message, /SOCKUDO_FANOUT_HOLD_MS|fanout_hold_ms/);
  });
});

describe('invalid values stop with a ConfigError naming the key', () => {
  test('non-integer env value names the env var and the expected form', () => {
    const err = configError({ env: { SOCKUDO_PORT: 'abc' } });
    assert.match(err.message, /SOCKUDO_PORT/);
    assert.match(err.message, /expected an integer/);
    assert.match(err.message, /"abc"/);
    assert.match(configError({ env: { SOCKUDO_PORT: '6001.5' } }).message, /SOCKUDO_PORT: expected an integer/);
    assert.match(configError({ env: { PORT: 'x' } }).message, /^PORT: expected an integer/);
  });

  test('out-of-range env value names the key and the env var', () => {
    const err = configError({ env: { SOCKUDO_PORT: '70000' } });
    assert.match(err.message, /^port \(from SOCKUDO_PORT\): /);
    const neg = configError({ env: { SOCKUDO_PORT: '-1' } });
    assert.match(neg.message, /^port \(from SOCKUDO_PORT\): /);
    const nested = configError({ env: { SOCKUDO_METRICS_PORT: '99999' } });
    assert.match(nested.message, /^metrics\.port \(from SOCKUDO_METRICS_PORT\): /);
    const alias = configError({ env: { METRICS_PORT: '99999' } });
    assert.match(alias.message, /^metrics\.port \(from METRICS_PORT\): /);
  });

  test('non-boolean env value names the env var', () => {
    const err = configError({ env: { SOCKUDO_METRICS_ENABLED: 'maybe' } });
    assert.match(err.message, /SOCKUDO_METRICS_ENABLED: expected true or false, got "maybe"/);
  });

  test('bad enum values name the key and where they came from', () => {
    assert.match(configError({ env: { SOCKUDO_MODE: 'staging' } }).message, /^mode \(from SOCKUDO_MODE\): /);
    assert.match(configError({ env: { ENVIRONMENT: 'staging' } }).message, /^mode \(from ENVIRONMENT\): /);
    assert.match(configError({ env: { SOCKUDO_LOG_LEVEL: 'loud' } }).message, /^log\.level \(from SOCKUDO_LOG_LEVEL\): /);
  });

  test('bad file values name the key (no env source)', () => {
    const port = configError({ env: {}, fileContents: { port: 'six' } });
    assert.match(port.message, /^port: /);
    assert.doesNotMatch(port.message, /\(from /);
    assert.match(configError({ env: {}, fileContents: { activity_timeout: 0 } }).message, /^activity_timeout: /);
    assert.match(configError({ env: {}, fileContents: { metrics: { port: 1.5 } } }).message, /^metrics\.port: /);
  });

  test('one line per problem', () => {
    const err = configError({ env: {}, fileContents: { port: -5, host: '' } });
    const lines = err.message.split('\n');
    assert.equal(lines.length, 2);
    assert.ok(lines.some((l) => l.startsWith('port: ')));
    assert.ok(lines.some((l) => l.startsWith('host: ')));
  });

  test('an invalid env app value names apps[0].<key> and the env var', () => {
    const id = configError({ env: { SOCKUDO_APP_ID: 'bad id!' } });
    assert.match(id.message, /^apps\[0\]\.id \(from SOCKUDO_APP_ID\): /);
    const viaSockudoName = configError({ env: { SOCKUDO_DEFAULT_APP_ID: 'bad id!', SOCKUDO_DEFAULT_APP_KEY: 'k', SOCKUDO_DEFAULT_APP_SECRET: 's' } });
    assert.match(viaSockudoName.message, /^apps\[0\]\.id \(from SOCKUDO_DEFAULT_APP_ID\): /);
    const limit = configError({ env: { SOCKUDO_DEFAULT_APP_MAX_CHANNEL_NAME_LENGTH: '500' } });
    assert.match(limit.message, /^apps\[0\]\.limits\.max_channel_name_length \(from SOCKUDO_DEFAULT_APP_MAX_CHANNEL_NAME_LENGTH\): /);
  });

  test('a non-integer env app limit names the env var', () => {
    const err = configError({ env: { SOCKUDO_DEFAULT_APP_MAX_CONNECTIONS: 'lots' } });
    assert.match(err.message, /SOCKUDO_DEFAULT_APP_MAX_CONNECTIONS: expected an integer/);
  });

  test('a non-object file is refused', () => {
    for (const contents of [[], 'text', 42]) {
      assert.match(configError({ env: {}, fileContents: contents }).message, /expected a JSON object/);
    }
  });
});

describe('unknown keys and comments', () => {
  test('an unknown top-level key is rejected and named', () => {
    const err = configError({ env: {}, fileContents: { prot: 6001 } });
    assert.match(err.message, /"prot"/);
  });

  test('an unknown key inside a section is rejected with the section named', () => {
    const err = configError({ env: {}, fileContents: { metrics: { prot: 1 } } });
    assert.match(err.message, /^metrics: /);
    assert.match(err.message, /"prot"/);
  });

  test('an unknown key inside an app is rejected with the app named', () => {
    const err = configError({ env: {}, fileContents: { apps: [{ ...fileApp('a', 'k'), scret: 'x' }] } });
    assert.match(err.message, /^apps\[0\]: /);
    assert.match(err.message, /"scret"/);
    const limits = configError({ env: {}, fileContents: { apps: [{ ...fileApp('a', 'k'), limits: { max_conections: 1 } }] } });
    assert.match(limits.message, /^apps\[0\]\.limits: /);
    assert.match(limits.message, /"max_conections"/);
  });

  test('"//" keys are comments at every level and are not in the result', () => {
    const c = loadConfig({
      env: {},
      fileContents: {
        '//': 'top comment',
        '// port': 'the WebSocket port',
        port: 7100,
        metrics: { '//': 'nested comment', port: 9800 },
        apps: [{ '//': 'app comment', ...fileApp('a', 'k'), limits: { '//': 'limits comment', max_connections: 3 } }],
      },
    });
    assert.equal(c.port, 7100);
    assert.equal(c.metrics.port, 9800);
    assert.equal(c.apps[0].limits.max_connections, 3);
    assert.ok(!('//' in c) && !('// port' in c));
    assert.ok(!('//' in c.metrics));
    assert.ok(!('//' in c.apps[0]) && !('//' in c.apps[0].limits));
  });

  test('a key that merely contains "//" is not a comment', () => {
    const err = configError({ env: {}, fileContents: { 'x//y': 1 } });
    assert.match(err.message, /"x\/\/y"/);
  });

  test('the caller’s fileContents object is not modified', () => {
    const contents = { '//': 'c', port: 7000, apps: [fileApp('a', 'k')] };
    const before = JSON.stringify(contents);
    loadConfig({ env: { SOCKUDO_PORT: '7001' }, fileContents: contents });
    assert.equal(JSON.stringify(contents), before);
  });
});

describe('production mode', () => {
  test('refuses the development secret from defaults', () => {
    const err = configError({ env: { SOCKUDO_MODE: 'production' } });
    assert.match(err.message, /apps\[0\]\.secret/);
    assert.match(err.message, /development secret/);
  });

  test('refuses the development secret in a file app and names that app', () => {
    const err = configError({
      env: {},
      fileContents: { mode: 'production', apps: [fileApp('a1', 'k1'), { id: 'a2', key: 'k2', secret: 'app-secret' }] },
    });
    assert.match(err.message, /apps\[1\]\.secret/);
    assert.match(err.message, /"a2"/);
  });

  test('accepts a real secret from env or file', () => {
    const fromEnv = loadConfig({ env: { SOCKUDO_MODE: 'production', SOCKUDO_APP_SECRET: 'a-real-secret' } });
    assert.equal(fromEnv.mode, 'production');
    assert.equal(fromEnv.apps[0].secret, 'a-real-secret');
    const fromFile = loadConfig({ env: {}, fileContents: { mode: 'production', apps: [fileApp('a1', 'k1')] } });
    assert.equal(fromFile.mode, 'production');
  });

  test('development mode accepts the development secret', () => {
    assert.equal(loadConfig({ env: { SOCKUDO_MODE: 'development' } }).apps[0].secret, 'app-secret');
  });
});

describe('config file on disk', () => {
  test('reads JSON from `file`, and reports unreadable or malformed files', (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'sockudo-config-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const good = join(dir, 'good.json');
    writeFileSync(good, JSON.stringify({ port: 7200, apps: [fileApp('disk', 'disk-key')] }));
    const c = loadConfig({ env: {}, file: good });
    assert.equal(c.port, 7200);
    assert.equal(c.apps[0].id, 'disk');

    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{ "port": ');
    const badErr = configError({ env: {}, file: bad });
    assert.match(badErr.message, /not valid JSON/);
    assert.ok(badErr.message.includes(bad));

    const missing = join(dir, 'missing.json');
    const missingErr = configError({ env: {}, file: missing });
    assert.match(missingErr.message, /cannot be read/);
    assert.ok(missingErr.message.includes(missing));
  });
});

describe('the result is frozen', () => {
  const c: Config = loadConfig({ env: {}, fileContents: { apps: [fileApp('a', 'k')] } });

  test('every level is frozen', () => {
    assert.ok(Object.isFrozen(c));
    assert.ok(Object.isFrozen(c.metrics));
    assert.ok(Object.isFrozen(c.log));
    assert.ok(Object.isFrozen(c.apps));
    assert.ok(Object.isFrozen(c.apps[0]));
    assert.ok(Object.isFrozen(c.apps[0].limits));
  });

  test('writes throw (modules are strict)', () => {
    assert.throws(() => {
      (c as { port: number }).port = 1;
    }, TypeError);
    assert.throws(() => {
      (c.apps[0].limits as { max_connections: number }).max_connections = 1;
    }, TypeError);
    assert.throws(() => {
      (c.apps as unknown as AppLike[]).push({ id: 'x' });
    }, TypeError);
    assert.equal(c.port, 6001);
  });

  test('two loads do not share objects', () => {
    const a = loadConfig({ env: {} });
    const b = loadConfig({ env: { SOCKUDO_APP_KEY: 'other' } });
    assert.equal(a.apps[0].key, 'app-key');
    assert.equal(b.apps[0].key, 'other');
    assert.notEqual(a.metrics, b.metrics);
  });
});

type AppLike = { id: string };

test('config/example.json, which documents every key, is a valid configuration', () => {
  const config = loadConfig({ file: new URL('../../config/example.json', import.meta.url).pathname, env: {} });
  assert.equal(config.push.storage.driver, 'sqlite');
  assert.equal(config.push.retry.max_attempts, 5);
});

test('config/example.json shows every key the server has, with its default value', () => {
  const example = JSON.parse(readFileSync(new URL('../../config/example.json', import.meta.url), 'utf8')) as Record<string, unknown>;
  const { apps, ...defaults } = loadConfig({ env: {} });
  // The example's app is a config-file app: its defaults are the schema's, apart from the two features the file turns on.
  const appDefaults = { ...appSchema.parse({ id: 'app-id', key: 'app-key', secret: 'app-secret' }), idempotency_ttl_seconds: 120 };
  const shownApp = (example.apps as Record<string, unknown>[])[0];
  const notDefault = new Set(['apps[0].features.enable_client_messages', 'apps[0].features.enable_watchlist_events']);
  const missing: string[] = [];
  const differing: string[] = [];
  const walk = (expected: Record<string, unknown>, shown: Record<string, unknown>, at: string) => {
    for (const [key, value] of Object.entries(expected)) {
      const path = at ? `${at}.${key}` : key;
      if (!(key in shown)) missing.push(path);
      else if (value !== null && typeof value === 'object' && !Array.isArray(value)) walk(value as Record<string, unknown>, shown[key] as Record<string, unknown>, path);
      else if (!notDefault.has(path) && JSON.stringify(shown[key]) !== JSON.stringify(value)) differing.push(`${path}: ${JSON.stringify(shown[key])}, default ${JSON.stringify(value)}`);
    }
  };
  walk(defaults, example, '');
  walk(appDefaults, shownApp, 'apps[0]');
  assert.ok(apps.length === 1, 'the defaults have the development app');
  assert.deepEqual(missing, [], 'keys the example does not show');
  assert.deepEqual(differing, [], 'values the example shows that are not the defaults');
});

test('push settings from the environment (ours and Sockudo names) and a bad one named', () => {
  const config = loadConfig({ env: { PUSH_DEFAULT_ACCEPTANCE_RPS: '7', SOCKUDO_PUSH_APNS_TOPIC: 'com.example' } });
  assert.equal(config.push.acceptance_rps, 7);
  assert.equal(config.push.apns.topic, 'com.example');
  assert.throws(() => loadConfig({ env: { SOCKUDO_PUSH_STORAGE_DRIVER: 'mysql' } }), /push\.storage\.driver \(from SOCKUDO_PUSH_STORAGE_DRIVER\)/);
});

// Sockudo's presence.update_rate_limit_per_member_per_second (PresenceConfig; 0 stops start-up there too).
test("presence update rate: Sockudo's key and variable, 10 by default, 0 refused", () => {
  assert.equal(loadConfig({ env: {} }).presence.update_rate_limit_per_member_per_second, 10);
  assert.equal(loadConfig({ env: { PRESENCE_UPDATE_RATE_LIMIT_PER_MEMBER_PER_SECOND: '25' } }).presence.update_rate_limit_per_member_per_second, 25);
  assert.equal(loadConfig({ env: { SOCKUDO_PRESENCE_UPDATE_RATE_LIMIT_PER_MEMBER_PER_SECOND: '7' } }).presence.update_rate_limit_per_member_per_second, 7);
  const file = { presence: { update_rate_limit_per_member_per_second: 4, max_members_per_channel: 100 }, app_manager: { driver: 'memory', array: { apps: [fileApp('a1', 'k1')] } } };
  assert.equal(loadWithWarnings({ env: {}, fileContents: file }).config.presence.update_rate_limit_per_member_per_second, 4);
  assert.throws(() => loadConfig({ env: { PRESENCE_UPDATE_RATE_LIMIT_PER_MEMBER_PER_SECOND: '0' } }), /presence\.update_rate_limit_per_member_per_second/);
});

// Sockudo's push.default_quotas (file) and PUSH_FANOUT_MAX / PUSH_DELIVERY_QUOTA_DAILY / PUSH_ACCEPTANCE_RATE_LIMIT (env).
test("push quotas: Sockudo's push.default_quotas and variables", () => {
  const defaults = loadConfig({ env: {} }).push;
  assert.deepEqual([defaults.acceptance_rps, defaults.fanout_max, defaults.delivery_quota_daily], [100, 0, 0]);
  const file = { push: { default_quotas: { acceptance_rps: 50, fanout_max: 1000, delivery_quota_daily: 5000, inflight_max: 10 } }, app_manager: { driver: 'memory', array: { apps: [fileApp('a1', 'k1')] } } };
  const { config, warnings } = loadWithWarnings({ env: {}, fileContents: file });
  assert.deepEqual([config.push.acceptance_rps, config.push.fanout_max, config.push.delivery_quota_daily], [50, 1000, 5000]);
  assert.ok(warnings.some((w) => w.startsWith('push.default_quotas.inflight_max: ')), warnings.join(' | '));
  const env = loadConfig({ env: { PUSH_FANOUT_MAX: '9', PUSH_DEFAULT_DELIVERY_QUOTA_DAILY: '8', PUSH_ACCEPTANCE_RATE_LIMIT: '3', PUSH_DEFAULT_ACCEPTANCE_RPS: '4' } }).push;
  assert.deepEqual([env.fanout_max, env.delivery_quota_daily, env.acceptance_rps], [9, 8, 3], 'PUSH_ACCEPTANCE_RATE_LIMIT wins, as in Sockudo');
});

describe('worker count', () => {
  test('workers: 0 leaves a core to the primary thread, and never runs fewer than one worker', () => {
    assert.equal(resolveWorkerCount(0, 1), 1);
    assert.equal(resolveWorkerCount(0, 2), 1);
    assert.equal(resolveWorkerCount(0, 8), 7);
    assert.equal(resolveWorkerCount(3, 2), 3, 'a configured count is used as it is');
  });
});

// Migrating from Sockudo: its config files, shapes and variables (/work/shared/spec/SOCKUDO-REFERENCE.md §0 and §9).

/** Loads and returns the configuration and the warnings the loader gave. */
function loadWithWarnings(opts: Parameters<typeof loadConfig>[0]): { config: Config; warnings: string[] } {
  const warnings: string[] = [];
  const config = loadConfig({ ...opts, onWarning: (m) => warnings.push(m) });
  return { config, warnings };
}

function tempFile(t: { after(fn: () => void): void }, name: string, text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'sockudo-config-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

describe("Sockudo's config file shapes", () => {
  // Reference §9.2: app_manager.array.apps, and the legacy flat app shape (Sockudo's shipped config.json).
  test("Sockudo's config.json (app_manager.array.apps, flat app shape) loads with its app", () => {
    const sockudoConfigJson = {
      host: '127.0.0.1',
      port: 6001,
      activity_timeout: 120,
      app_manager: {
        driver: 'memory',
        array: {
          apps: [
            {
              id: 'app-id',
              key: 'app-key',
              secret: 'app-secret',
              max_connections: 10000,
              enable_client_messages: true,
              enabled: true,
              max_client_events_per_second: 1000,
              allowed_origins: ['*'],
            },
          ],
        },
      },
    };
    const config = loadConfig({ env: {}, fileContents: sockudoConfigJson });
    assert.equal(config.apps.length, 1);
    const [app] = config.apps;
    assert.deepEqual([app.id, app.key, app.secret, app.development_app], ['app-id', 'app-key', 'app-secret', false]);
    assert.equal(app.limits.max_connections, 10000);
    assert.equal(app.limits.max_client_events_per_second, 1000);
    assert.equal(app.features.enable_client_messages, true);
    assert.deepEqual(app.allowed_origins, ['*']);
  });

  // Reference §7.2: metrics.prometheus.prefix (Sockudo's file), METRICS_PROMETHEUS_PREFIX (its variable).
  test("Sockudo's metrics.prometheus.prefix and METRICS_PROMETHEUS_PREFIX set metrics.prefix", () => {
    const file = { metrics: { enabled: true, port: 9601, prometheus: { prefix: 'rt_' } }, app_manager: { driver: 'memory', array: { apps: [{ id: 'a', key: 'k', secret: 's' }] } } };
    assert.equal(loadConfig({ env: {}, fileContents: file }).metrics.prefix, 'rt_');
    assert.equal(loadConfig({ env: { METRICS_PROMETHEUS_PREFIX: 'x_' } }).metrics.prefix, 'x_');
    assert.throws(() => loadConfig({ env: { METRICS_PROMETHEUS_PREFIX: '9bad-' } }), /metrics\.prefix/);
  });

  // Reference §9.2: limits and features under `policy`, origins under policy.channels.
  test('an app_manager.array.apps entry with policy.limits / policy.features loads', () => {
    const config = loadConfig({
      env: {},
      fileContents: {
        app_manager: {
          driver: 'memory',
          array: {
            apps: [
              {
                id: 'my-app',
                key: 'my-key',
                secret: 'my-secret',
                enabled: true,
                policy: {
                  limits: {
                    max_connections: 500,
                    max_event_batch_size: 10,
                    max_client_events_per_second: 0,
                    decay_seconds: 5,
                    terminate_on_limit: true,
                    message_rate_limit: { enabled: true, max_attempts: 30, decay_seconds: 10, terminate_on_limit: false },
                  },
                  features: { enable_client_messages: true, enable_user_authentication: true, enable_watchlist_events: false },
                  channels: { allowed_origins: ['https://example.com'] },
                  idempotency: { enabled: true, ttl_seconds: 300 },
                  webhooks: [{ url: 'https://hooks.example.com/x', event_types: ['channel_occupied'] }],
                },
              },
            ],
          },
        },
      },
    });
    const [app] = config.apps;
    assert.equal(app.id, 'my-app');
    assert.equal(app.limits.max_connections, 500);
    assert.equal(app.limits.max_client_events_per_second, 0, '0 = no limiter, as in Sockudo');
    assert.equal(app.limits.decay_seconds, 5);
    assert.equal(app.limits.terminate_on_limit, true);
    assert.deepEqual(app.limits.message_rate_limit, { enabled: true, max_attempts: 30, decay_seconds: 10, terminate_on_limit: false });
    assert.equal(app.features.enable_client_messages, true);
    assert.equal(app.features.require_user_authentication, true);
    assert.deepEqual(app.allowed_origins, ['https://example.com']);
    assert.equal(app.idempotency_ttl_seconds, 300);
    assert.deepEqual(app.webhooks, [{ url: 'https://hooks.example.com/x', event_types: ['channel_occupied'] }]);
  });

  // Sockudo's allowed_origins is an Option: null means no origin check (it was refused here).
  test('allowed_origins: null (flat or under policy.channels) means any origin', () => {
    const apps = [{ ...fileApp('a1', 'k1'), allowed_origins: null }, { ...fileApp('a2', 'k2'), policy: { channels: { allowed_origins: null } } }];
    const config = loadConfig({ env: {}, fileContents: { app_manager: { driver: 'memory', array: { apps } } } });
    assert.deepEqual(config.apps.map((a) => a.allowed_origins), [[], []]);
  });

  test('Sockudo keys with no equivalent are named in warnings, not silently dropped', () => {
    const { config, warnings } = loadWithWarnings({
      env: {},
      fileContents: {
        debug: true,
        cors: { origin: ['*'] },
        queue: { driver: 'memory' },
        database: { mysql: { host: 'db' } },
        history: { enabled: true },
        metrics: { enabled: true, driver: 'prometheus', port: 9700 },
        app_manager: {
          driver: 'memory',
          cache: { enabled: true, ttl: 300 },
          array: {
            apps: [
              {
                ...fileApp('a1', 'k1'),
                max_backend_events_per_second: 10,
                policy: { channels: { channel_namespaces: [] }, connection_recovery: { enabled: true } },
              },
            ],
          },
        },
      },
    });
    assert.equal(config.metrics.port, 9700, 'shared section keys are kept');
    assert.equal(config.log.level, 'debug', 'debug = true means debug logging');
    for (const key of [
      'cors',
      'queue',
      'database.mysql',
      'history',
      'metrics.driver',
      'app_manager.cache',
      'app_manager.array.apps[0].max_backend_events_per_second',
      'app_manager.array.apps[0].policy.channels.channel_namespaces',
      'app_manager.array.apps[0].policy.connection_recovery',
    ]) {
      assert.ok(warnings.some((w) => w.startsWith(`${key}: `)), `a warning names ${key}: ${warnings.join(' | ')}`);
    }
  });

  // Reference §1.6 line 118: V2 native pings follow websocket.ping_interval (WEBSOCKET_PING_INTERVAL), default 30.
  test("Sockudo's websocket.ping_interval and WEBSOCKET_PING_INTERVAL set websocket_ping_interval; other websocket keys are warned", () => {
    assert.equal(loadConfig({ env: {} }).websocket_ping_interval, 30);
    const { config, warnings } = loadWithWarnings({ env: {}, fileContents: { websocket: { ping_interval: 45, max_messages: 100 }, app_manager: { driver: 'memory', array: { apps: [fileApp('a1', 'k1')] } } } });
    assert.equal(config.websocket_ping_interval, 45);
    assert.ok(warnings.some((w) => w.startsWith('websocket.max_messages: ')), warnings.join(' | '));
    assert.equal(loadConfig({ env: { WEBSOCKET_PING_INTERVAL: '10' } }).websocket_ping_interval, 10);
    assert.match(configError({ env: { WEBSOCKET_PING_INTERVAL: '0' } }).message, /websocket_ping_interval/);
  });

  test('ssl.enabled = true stops start-up (we serve plain text); so do an app database and two app lists', () => {
    assert.match(configError({ env: {}, fileContents: { ssl: { enabled: true, cert_path: 'c.pem' } } }).message, /^ssl\.enabled: .*plain/);
    assert.equal(loadConfig({ env: {}, fileContents: { ssl: { enabled: false } } }).port, 6001);
    assert.match(configError({ env: {}, fileContents: { app_manager: { driver: 'mysql' } } }).message, /^app_manager\.driver: "mysql" is not supported/);
    const both = { apps: [fileApp('a', 'k')], app_manager: { driver: 'memory', array: { apps: [fileApp('b', 'l')] } } };
    assert.match(configError({ env: {}, fileContents: both }).message, /both are set/);
  });

  test('a key neither server has is still refused in a Sockudo-shaped file, and our own shape stays strict', () => {
    assert.match(configError({ env: {}, fileContents: { cors: {}, activty_timeout: 5 } }).message, /activty_timeout/);
    assert.match(configError({ env: {}, fileContents: { apps: [{ ...fileApp('a', 'k'), max_connections: 5 }] } }).message, /^apps\[0\].*max_connections/);
  });

  // Reference §9.1: "TOML or JSON with the same schema".
  test('a TOML config file is read', (t) => {
    const file = tempFile(t, 'config.toml', 'port = 7005\nactivity_timeout = 60\n');
    const config = loadConfig({ env: {}, file });
    assert.equal(config.port, 7005);
    assert.equal(config.activity_timeout, 60);
  });

  test("Sockudo's config.toml app tables load; broken TOML names the file", (t) => {
    const file = tempFile(
      t,
      'config.toml',
      [
        'port = 6001',
        '[app_manager]',
        'driver = "memory"',
        '[[app_manager.array.apps]]',
        'id = "app-id"',
        'key = "app-key"',
        'secret = "real-secret"',
        '[app_manager.array.apps.policy.limits]',
        'max_connections = 100000',
        'max_client_events_per_second = 1000',
        '[app_manager.array.apps.policy.features]',
        'enable_client_messages = true',
        'enable_user_authentication = true',
        '[app_manager.array.apps.policy.channels]',
        'allowed_origins = ["*"]',
      ].join('\n'),
    );
    const [app] = loadConfig({ env: {}, file }).apps;
    assert.equal(app.secret, 'real-secret');
    assert.equal(app.limits.max_client_events_per_second, 1000);
    assert.equal(app.features.require_user_authentication, true);
    const bad = tempFile(t, 'bad.toml', 'port = \n');
    assert.match(configError({ env: {}, file: bad }).message, /not valid TOML/);
  });

  // Reference §0: "`${VAR}` / `${VAR:-default}` placeholders are substituted in the file text before parsing".
  test('${VAR} and ${VAR:-default} placeholders in the file are substituted from the environment', (t) => {
    const file = tempFile(
      t,
      'config.json',
      JSON.stringify({ host: '${REVIEW_HOST:-0.0.0.0}', apps: [{ id: 'a1', key: 'k1', secret: '${REVIEW_APP_SECRET}' }] }),
    );
    const config = loadConfig({ env: { REVIEW_APP_SECRET: 'from-env' }, file });
    assert.equal(config.apps[0].secret, 'from-env');
    assert.equal(config.host, '0.0.0.0');
    const unquoted = tempFile(t, 'config.toml', 'port = ${APP_PORT:-7010}\n');
    assert.equal(loadConfig({ env: { APP_PORT: '' }, file: unquoted }).port, 7010, 'an empty variable takes the default');
    assert.equal(loadConfig({ env: { APP_PORT: '7011' }, file: unquoted }).port, 7011);
  });

  test('an unset ${VAR} without a default stops start-up, naming it', (t) => {
    const file = tempFile(t, 'config.json', '{ "apps": [{ "id": "a", "key": "k", "secret": "${MISSING_SECRET}" }] }');
    const err = configError({ env: {}, file });
    assert.match(err.message, /MISSING_SECRET/);
    assert.ok(err.message.includes(file));
  });

  test('without --config or SOCKUDO_CONFIG_FILE, ./config/config.toml, else ./config/config.json, is chosen', (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'sockudo-config-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    assert.equal(chooseConfigFile(undefined, {}, dir), undefined, 'nothing there: no file');
    mkdirSync(join(dir, 'config'));
    writeFileSync(join(dir, 'config', 'example.json'), '{}');
    assert.equal(chooseConfigFile(undefined, {}, dir), undefined, 'other files in ./config are not read');
    writeFileSync(join(dir, 'config', 'config.json'), '{}');
    assert.equal(chooseConfigFile(undefined, {}, dir)?.path, join(dir, 'config', 'config.json'));
    writeFileSync(join(dir, 'config', 'config.toml'), '');
    assert.equal(chooseConfigFile(undefined, {}, dir)?.path, join(dir, 'config', 'config.toml'));
    assert.deepEqual(chooseConfigFile(undefined, { SOCKUDO_CONFIG_FILE: 'x.json' }, dir), { path: 'x.json', chosenBy: 'SOCKUDO_CONFIG_FILE' });
    assert.deepEqual(chooseConfigFile('y.json', { SOCKUDO_CONFIG_FILE: 'x.json' }, dir), { path: 'y.json', chosenBy: '--config' });
    const repoRoot = new URL('../../', import.meta.url).pathname;
    assert.equal(chooseConfigFile(undefined, {}, repoRoot), undefined, "the repository's own config/ holds no default file");
  });
});

describe("Sockudo's environment variables", () => {
  const sockudoDefaultApp = { SOCKUDO_DEFAULT_APP_ID: 'demo-app', SOCKUDO_DEFAULT_APP_KEY: 'demo-key', SOCKUDO_DEFAULT_APP_SECRET: 'demo-secret' };

  test('SOCKUDO_DEFAULT_APP_ALLOWED_ORIGINS restricts the env app', () => {
    const config = loadConfig({ env: { ...sockudoDefaultApp, SOCKUDO_DEFAULT_APP_ALLOWED_ORIGINS: 'https://a.example.com, https://b.example.com' } });
    assert.deepEqual(config.apps[0].allowed_origins, ['https://a.example.com', 'https://b.example.com']);
  });

  test('SOCKUDO_DEFAULT_APP_ENABLE_USER_AUTHENTICATION=true turns on the sign-in requirement', () => {
    const config = loadConfig({ env: { ...sockudoDefaultApp, SOCKUDO_DEFAULT_APP_ENABLE_USER_AUTHENTICATION: 'true' } });
    assert.equal(config.apps[0].features.require_user_authentication, true);
  });

  // Reference §9.2: Sockudo's env app limits default to 100.
  test("an app from SOCKUDO_DEFAULT_APP_ID/KEY/SECRET gets Sockudo's env-app limits", () => {
    const { limits } = loadConfig({ env: sockudoDefaultApp }).apps[0];
    assert.equal(limits.max_client_events_per_second, 100);
    assert.equal(limits.max_event_batch_size, 100);
    assert.equal(limits.max_channel_name_length, 100);
    for (const [k, v] of Object.entries(SOCKUDO_ENV_APP_LIMITS)) assert.equal(limits[k as keyof typeof limits], v, k);
    const set = loadConfig({ env: { ...sockudoDefaultApp, SOCKUDO_DEFAULT_APP_MAX_CONNECTIONS: '1000' } }).apps[0].limits;
    assert.equal(set.max_connections, 1000, 'a SOCKUDO_DEFAULT_APP_* limit wins');
    const guide = loadConfig({ env: { SOCKUDO_APP_ID: 'g', SOCKUDO_APP_KEY: 'gk', SOCKUDO_APP_SECRET: 'gs' } }).apps[0].limits;
    assert.equal(guide.max_client_events_per_second, 10, "the guide's names keep our defaults");
  });

  // Reference §9.2: ENABLE_CLIENT_MESSAGES (falling back to SOCKUDO_ENABLE_CLIENT_MESSAGES) and ENABLE_WATCHLIST_EVENTS
  // default to false for Sockudo's env app.
  test("an app from SOCKUDO_DEFAULT_APP_* has client and watchlist events off unless its variables turn them on", () => {
    const off = loadConfig({ env: sockudoDefaultApp }).apps[0].features;
    assert.equal(off.enable_client_messages, false);
    assert.equal(off.enable_watchlist_events, false);
    const on = loadConfig({ env: { ...sockudoDefaultApp, SOCKUDO_ENABLE_CLIENT_MESSAGES: 'true', SOCKUDO_DEFAULT_APP_ENABLE_WATCHLIST_EVENTS: 'true' } }).apps[0].features;
    assert.equal(on.enable_client_messages, true, "Sockudo's compose sets SOCKUDO_ENABLE_CLIENT_MESSAGES=true");
    assert.equal(on.enable_watchlist_events, true);
    const guide = loadConfig({ env: { SOCKUDO_APP_ID: 'g', SOCKUDO_APP_KEY: 'gk', SOCKUDO_APP_SECRET: 'gs' } }).apps[0].features;
    assert.equal(guide.enable_client_messages, true, "the guide's names keep the development app's features");
  });

  test('SOCKUDO_DEFAULT_APP_MAX_CLIENT_EVENTS_PER_SECOND=0 (no limiter) is accepted', () => {
    const config = loadConfig({ env: { ...sockudoDefaultApp, SOCKUDO_DEFAULT_APP_MAX_CLIENT_EVENTS_PER_SECOND: '0' } });
    assert.equal(config.apps[0].limits.max_client_events_per_second, 0);
  });

  // Reference §9.3 (DATABASE_REDIS_*) and §9.5 (Sockudo's compose: ADAPTER_DRIVER=redis, DATABASE_REDIS_HOST=redis).
  test("Sockudo's compose Redis settings (ADAPTER_DRIVER=redis, DATABASE_REDIS_HOST) make a cluster", () => {
    const config = loadConfig({ env: { ADAPTER_DRIVER: 'redis', DATABASE_REDIS_HOST: 'redis', DATABASE_REDIS_PORT: '6380', DATABASE_REDIS_KEY_PREFIX: 'sockudo:' } });
    assert.equal(config.redis.url, 'redis://redis:6380');
    const auth = loadConfig({ env: { ADAPTER_DRIVER: 'redis', DATABASE_REDIS_HOST: 'r', DATABASE_REDIS_PASSWORD: 'p@ss', DATABASE_REDIS_DB: '2' } });
    assert.equal(auth.redis.url, 'redis://:p%40ss@r:6379/2');
    const url = loadConfig({ env: { ADAPTER_DRIVER: 'redis', REDIS_URL: 'redis://given:1', DATABASE_REDIS_HOST: 'ignored' } });
    assert.equal(url.redis.url, 'redis://given:1', 'a URL that is set wins');
    const file = loadConfig({ env: {}, fileContents: { adapter: { driver: 'redis' }, database: { redis: { host: 'cache', port: 6390, key_prefix: 'x:' } } } });
    assert.deepEqual([file.redis.url, file.redis.key_prefix], ['redis://cache:6390', 'x:']);
    assert.equal(loadConfig({ env: { ADAPTER_DRIVER: 'local', DATABASE_REDIS_HOST: 'redis' } }).redis.url, '', 'local: one host');
    // README: "ADAPTER_DRIVER=local runs alone", as Sockudo's local adapter does even with REDIS_URL set (for its cache).
    const local = loadWithWarnings({ env: { ADAPTER_DRIVER: 'local', REDIS_URL: 'redis://cache:6379' } });
    assert.equal(local.config.redis.url, '', 'REDIS_URL does not join a cluster when the adapter is local');
    assert.ok(local.warnings.some((w) => /^ADAPTER_DRIVER=local: this host runs alone; REDIS_URL is not used/.test(w)), local.warnings.join(' | '));
    const localFile = { adapter: { driver: 'local' }, redis: { url: 'redis://cache:6379' }, app_manager: { driver: 'memory', array: { apps: [fileApp('a1', 'k1')] } } };
    assert.equal(loadConfig({ env: {}, fileContents: localFile }).redis.url, '');
    assert.equal(loadConfig({ env: { REDIS_URL: 'redis://peers:6379' } }).redis.url, 'redis://peers:6379', 'without an adapter named, REDIS_URL still clusters');
  });

  test('ADAPTER_DRIVER=redis with no Redis to connect to, or another adapter, stops start-up naming the variables', () => {
    const none = configError({ env: { ADAPTER_DRIVER: 'redis' } });
    assert.match(none.message, /^ADAPTER_DRIVER=redis: .*SOCKUDO_REDIS_URL.*DATABASE_REDIS_HOST/);
    assert.match(configError({ env: {}, fileContents: { adapter: { driver: 'redis' } } }).message, /adapter\.driver "redis"/);
    assert.match(configError({ env: { ADAPTER_DRIVER: 'nats' } }).message, /^ADAPTER_DRIVER=nats: not supported/);
    assert.match(configError({ env: { ADAPTER_DRIVER: 'redis', DATABASE_REDIS_HOST: 'r', DATABASE_REDIS_PORT: 'x' } }).message, /DATABASE_REDIS_PORT: expected an integer/);
  });

  test('SSL_ENABLED=true and a database app manager stop start-up; other Sockudo variables are warned about', () => {
    assert.match(configError({ env: { SSL_ENABLED: 'true' } }).message, /^SSL_ENABLED: .*plain/);
    assert.match(configError({ env: { APP_MANAGER_DRIVER: 'mysql' } }).message, /^APP_MANAGER_DRIVER=mysql: not supported/);
    const { warnings } = loadWithWarnings({ env: { APP_MANAGER_DRIVER: 'memory', CACHE_DRIVER: 'redis', CORS_ORIGINS: '*' } });
    assert.deepEqual(warnings.map((w) => w.split(':')[0]).sort(), ['CACHE_DRIVER', 'CORS_ORIGINS']);
  });

  // Reference §9.3 (HOST, PORT, METRICS_*) and §9.5 (Sockudo's compose sets PORT / METRICS_PORT).
  test("in our Docker image, Sockudo's PORT / METRICS_PORT still choose the ports", () => {
    const dockerfile = readFileSync(new URL('../../Dockerfile', import.meta.url), 'utf8');
    const imageEnv: Record<string, string> = {};
    for (const block of dockerfile.matchAll(/^ENV ((?:.*\\\n)*.*)$/gm)) {
      for (const [, k, v] of block[1].matchAll(/([A-Z_]+)=(\S+)/g)) imageEnv[k] = v;
    }
    assert.ok(Object.keys(imageEnv).length > 0, 'the Dockerfile sets an environment');
    const image = loadConfig({ env: imageEnv });
    assert.deepEqual([image.host, image.port, image.metrics.host, image.metrics.port], ['0.0.0.0', 6001, '0.0.0.0', 9601]);
    const config = loadConfig({ env: { ...imageEnv, PORT: '7000', METRICS_PORT: '9700' } });
    assert.equal(config.port, 7000);
    assert.equal(config.metrics.port, 9700);
    assert.equal(loadConfig({ env: { ...imageEnv, PORT: '7000', SOCKUDO_PORT: '7001' } }).port, 7001, 'our name still wins');
    assert.match(dockerfile, /HEALTHCHECK[\s\S]*SOCKUDO_PORT\|\|e\.PORT\|\|6001/, 'the health check probes the port in use');
  });
});
