// Property-based fuzzing of every parser that sees outside bytes. Each property: the parser never throws
// anything but its own coded error, and answers with a coded error or a valid result. CI runs a short
// pass; `FUZZ_RUNS=100000 node --import tsx --test test/unit/fuzz.test.ts` runs a long one.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { parseQuery, verifyApiRequest } from '../../src/auth/apiSignature.ts';
import { parsePresenceData } from '../../src/channels/presenceData.ts';
import { ConfigError, loadConfig } from '../../src/config/load.ts';
import { type AppConfig, DEVELOPMENT_APP } from '../../src/config/schema.ts';
import { HttpError } from '../../src/errors.ts';
import { parseBatchBody, parseEventBody } from '../../src/http/events.ts';
import { fingerprint } from '../../src/http/idempotentPublish.ts';
import { canonicalEvent, dataObject, parseClientFrame } from '../../src/protocol/clientFrame.ts';
import { channelNameError } from '../../src/protocol/channels.ts';
import { compileFilter } from '../../src/protocol/filters.ts';
import { parseRewind } from '../../src/worker/recovery.ts';
import { parseDevice, parsePublish, parseSubscription } from '../../src/push/requests.ts';
import { render } from '../../src/push/render.ts';

const runs = Number(process.env.FUZZ_RUNS ?? 300);
const app = loadConfig({ env: {} }).apps[0] as AppConfig;

/** JSON-ish values, including the shapes a hostile client would try. */
const anyJson = fc.jsonValue({ maxDepth: 4 });
const frameLike = fc.oneof(
  anyJson,
  fc.record({ event: fc.oneof(fc.string(), fc.constantFrom('pusher:subscribe', 'sockudo:subscribe', 'pusher:signin', 'client-x', 'pusher:ping')), data: anyJson, channel: anyJson }, { requiredKeys: [] }),
);

function onlyCoded(fn: () => unknown, allowed: (e: unknown) => boolean): void {
  try {
    fn();
  } catch (err) {
    assert.ok(allowed(err), `threw ${String(err)}`);
  }
}

describe('fuzz: client frames', () => {
  test('arbitrary bytes never throw; the result is ok with a string event or a coded error', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => {
        const f = parseClientFrame(bytes);
        if (f.ok) assert.equal(typeof f.event, 'string');
        else assert.ok(['invalidMessage', 'missingEvent'].includes(f.error));
      }),
      { numRuns: runs },
    );
  });

  test('JSON frames of any shape: ok exactly when event is a string and the typed envelope fields have their types', () => {
    const stringOrAbsent = (x: unknown) => x === undefined || x === null || typeof x === 'string';
    fc.assert(
      fc.property(frameLike, (value) => {
        const f = parseClientFrame(new TextEncoder().encode(JSON.stringify(value)));
        const v = value as Record<string, unknown> | null;
        const expectOk =
          typeof v === 'object' &&
          v !== null &&
          !Array.isArray(v) &&
          typeof v.event === 'string' &&
          ['channel', 'name', 'user_id', 'message_id', 'stream_id', 'idempotency_key', 'conflation_key'].every((k) => stringOrAbsent(v[k])) &&
          (v.serial === undefined || v.serial === null || (Number.isInteger(v.serial) && (v.serial as number) >= 0));
        assert.equal(f.ok, expectOk);
        if (f.ok) {
          // decode → encode → decode is stable
          const again = parseClientFrame(new TextEncoder().encode(JSON.stringify({ event: f.event, channel: f.channel, data: f.data })));
          assert.ok(again.ok);
          assert.equal(again.event, f.event);
          assert.deepEqual(again.data, f.data);
          assert.equal(typeof canonicalEvent(f.event), 'string');
          dataObject(f.data);
        }
      }),
      { numRuns: runs },
    );
  });

  test('channel names: the validator never throws and accepts only the allowed alphabet within the limit', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 260 }), (name) => {
        const err = channelNameError(name, 200);
        if (err === null) assert.match(name, /^[A-Za-z0-9_\-=@,;.:#]{1,200}$/);
      }),
      { numRuns: runs },
    );
  });

  test('presence channel_data, filters and rewind options never throw', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), anyJson.map((v) => JSON.stringify(v))), anyJson, anyJson, (channelData, filter, rewind) => {
        const p = parsePresenceData(channelData, 2);
        if (p.ok) assert.equal(typeof p.userId, 'string');
        const c = compileFilter(filter);
        if (c.ok) c.filter.matches({ event: 'e', channel: 'c', data: filter, tags: { a: '1' } });
        parseRewind(rewind);
      }),
      { numRuns: runs },
    );
  });
});

describe('fuzz: HTTP bodies and query strings', () => {
  test('publish and batch bodies: a PublishEvent or an HttpError, nothing else', () => {
    const body = fc.oneof(
      anyJson,
      fc.record(
        {
          name: fc.oneof(fc.string(), anyJson),
          channel: fc.oneof(fc.string(), anyJson),
          channels: fc.oneof(fc.array(fc.string(), { maxLength: 5 }), anyJson),
          data: anyJson,
          socket_id: fc.oneof(fc.constant('1.2'), fc.string(), anyJson),
          idempotency_key: fc.oneof(fc.string(), anyJson),
          extras: anyJson,
          tags: anyJson,
        },
        { requiredKeys: [] },
      ),
    );
    fc.assert(
      fc.property(body, (b) => {
        onlyCoded(() => {
          const e = parseEventBody(b, app);
          assert.equal(typeof e.data, 'string');
          assert.ok(e.channels.length > 0);
        }, (err) => err instanceof HttpError && err.status >= 400 && err.status < 500);
        onlyCoded(() => parseBatchBody({ batch: [b] }, app), (err) => err instanceof HttpError && err.status < 500);
        fingerprint('events', b);
      }),
      { numRuns: runs },
    );
  });

  test('push bodies (publish, device, subscription): a valid result or a 400 naming a field', () => {
    const recipient = fc.oneof(
      anyJson,
      fc.record({ transportType: fc.constantFrom('web', 'gcm', 'apns', 'hms', ''), endpoint: fc.oneof(fc.webUrl(), fc.string()), p256dh: fc.string(), auth: fc.string(), registrationToken: fc.string(), deviceToken: fc.oneof(fc.stringMatching(/^[0-9a-f]{64}$/), fc.string()) }, { requiredKeys: [] }),
    );
    const target = fc.oneof(
      anyJson,
      fc.record({ type: fc.constantFrom('channel', 'device', 'client', 'recipient', 'registeredTopic', ''), channel: fc.oneof(fc.string(), anyJson), device_id: fc.string(), client_id: fc.string(), recipient }, { requiredKeys: [] }),
    );
    const publish = fc.oneof(
      anyJson,
      fc.record(
        {
          publishId: fc.oneof(fc.string(), anyJson),
          recipients: fc.oneof(fc.array(target, { maxLength: 4 }), anyJson),
          payload: fc.oneof(anyJson, fc.record({ title: fc.string(), body: fc.string(), icon: fc.oneof(fc.webUrl(), fc.string()), data: anyJson, templateData: anyJson, collapseKey: fc.string() }, { requiredKeys: [] })),
          providerOverrides: anyJson,
          sync: anyJson,
          expiresAtMs: fc.oneof(fc.integer(), anyJson),
        },
        { requiredKeys: [] },
      ),
    );
    const isFieldError = (err: unknown) => err instanceof HttpError && err.status === 400 && /: /.test(err.message);
    fc.assert(
      fc.property(publish, fc.oneof(anyJson, fc.record({ id: fc.string(), push: fc.oneof(anyJson, fc.record({ recipient })) }, { requiredKeys: [] })), fc.oneof(anyJson, fc.record({ channel: fc.string(), deviceId: fc.string() }, { requiredKeys: [] })), (p, d, sub) => {
        onlyCoded(() => {
          const parsed = parsePublish(p);
          assert.ok(parsed.intent.recipients.length > 0);
          render(parsed.intent);
        }, isFieldError);
        onlyCoded(() => parseDevice(d), isFieldError);
        onlyCoded(() => parseSubscription(sub), isFieldError);
      }),
      { numRuns: runs },
    );
  });

  test('query strings and signature parameters: authentication answers or refuses with a 4xx HttpError', () => {
    const param = fc.oneof(fc.string(), fc.constantFrom('auth_key', 'auth_timestamp', 'auth_signature', 'body_md5', 'auth_version'));
    const query = fc.array(fc.tuple(param, fc.string()), { maxLength: 8 }).map((pairs) => pairs.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&'));
    const raw = fc.string({ maxLength: 200 });
    fc.assert(
      fc.property(fc.oneof(query, raw), fc.string({ maxLength: 100 }), (q, body) => {
        onlyCoded(() => {
          const params = parseQuery(q);
          verifyApiRequest({ method: 'POST', path: '/apps/app-id/events', query: q, body }, params, (k) => (k === DEVELOPMENT_APP.key ? app : undefined), 'app-id', 1_700_000_000);
          assert.fail('an unsigned fuzz request was accepted');
        }, (err) => err instanceof HttpError && err.status >= 400 && err.status < 500);
      }),
      { numRuns: runs },
    );
  });
});

describe('fuzz: configuration values', () => {
  test('any file contents or environment values load or fail with a ConfigError', () => {
    const envValue = fc.oneof(fc.string({ maxLength: 12 }), fc.integer().map(String), fc.constantFrom('true', 'false', '0', '-1', '99999999'));
    const env = fc.dictionary(fc.constantFrom('SOCKUDO_PORT', 'SOCKUDO_WORKERS', 'SOCKUDO_MODE', 'SOCKUDO_APP_ID', 'SOCKUDO_APP_SECRET', 'SOCKUDO_METRICS_ENABLED', 'SOCKUDO_DEFAULT_APP_MAX_CONNECTIONS', 'SOCKUDO_ACTIVITY_TIMEOUT'), envValue);
    fc.assert(
      fc.property(fc.oneof(anyJson, fc.record({ port: anyJson, apps: anyJson, metrics: anyJson, mode: anyJson }, { requiredKeys: [] })), env, (file, vars) => {
        onlyCoded(() => {
          const c = loadConfig({ fileContents: file, env: vars });
          assert.ok(c.apps.length >= 1);
          assert.ok(Object.isFrozen(c));
        }, (err) => err instanceof ConfigError);
      }),
      { numRuns: Math.ceil(runs / 3) },
    );
  });
});
