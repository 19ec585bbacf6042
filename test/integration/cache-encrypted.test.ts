// Cache channels and end-to-end encrypted channels against the real two-thread server: the last HTTP
// publish replayed to new subscribers on either thread, pusher:cache_miss, signatures on private/presence
// cache channels, the TTL, the ?info=cache query; encrypted payloads decrypted by pusher-js and opaque on
// the wire.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import Pusher from 'pusher';
import PusherJsModule from 'pusher-js';
import { DEVELOPMENT_APP } from '../../src/config/schema.ts';
import { type Frame, type PusherClient, RawClient, connectPusherJs, serverSdk } from '../helpers/clients.ts';
import { type TestServer, eventually, startTestServer } from '../helpers/server.ts';
import { signedUrl } from '../helpers/signing.ts';

const PusherJs = PusherJsModule as unknown as typeof import('pusher-js').default;

/** Rejects if `p` has not settled within `ms`, so a missing event fails the test instead of hanging it. */
function within<T>(p: Promise<T>, what: string, ms = 5000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

const isSucceeded = (channel: string) => (f: Frame) => f.event === 'pusher_internal:subscription_succeeded' && f.channel === channel;
const isError = (code: number) => (f: Frame) => f.event === 'pusher:error' && (f.data as { code: number }).code === code;

/** Subscribes and returns the frame that follows subscription_succeeded on that channel. */
async function subscribeAndTakeNext(c: RawClient, data: Record<string, unknown>): Promise<Frame> {
  const channel = data.channel as string;
  const from = c.frames.length;
  c.send({ event: 'pusher:subscribe', data });
  const ok = await c.next(isSucceeded(channel), 5000, from);
  const at = c.frames.indexOf(ok, from);
  return c.next((f) => f.channel === channel, 5000, at + 1);
}

describe('cache channels', () => {
  let server: TestServer;
  let sdk: Pusher;
  const raws: RawClient[] = [];
  const open = async (worker: number, query?: string) => {
    const c = await RawClient.open(server.workerPorts[worker], DEVELOPMENT_APP.key, query);
    raws.push(c);
    return c;
  };

  before(async () => {
    server = await startTestServer();
    sdk = serverSdk(server.port);
  });
  after(async () => {
    for (const c of raws) c.close();
    await server.shutdown();
  });

  test('an event published before anyone subscribed is sent right after subscription_succeeded, on both threads', async () => {
    assert.equal((await sdk.trigger('cache-prices', 'price', { v: 1 })).status, 200);
    for (const worker of [0, 1]) {
      const c = await open(worker);
      const from = c.frames.length;
      const cached = await subscribeAndTakeNext(c, { channel: 'cache-prices' });
      assert.deepEqual(cached, { event: 'price', channel: 'cache-prices', data: '{"v":1}' }, `worker ${worker}`);
      // Nothing between the confirmation and the cached event.
      const mine = c.frames.slice(from).filter((f) => f.channel === 'cache-prices');
      assert.deepEqual(
        mine.map((f) => f.event),
        ['pusher_internal:subscription_succeeded', 'price'],
      );
    }
  });

  test('the latest publish replaces the cached one; live subscribers just get it live', async () => {
    const live = await open(0);
    await subscribeAndTakeNext(live, { channel: 'cache-latest' });
    await sdk.trigger('cache-latest', 'tick', { n: 1 });
    await sdk.trigger('cache-latest', 'tock', { n: 2 });
    await live.next((f) => f.event === 'tock');
    assert.deepEqual(
      live.frames.filter((f) => f.channel === 'cache-latest').map((f) => f.event),
      ['pusher_internal:subscription_succeeded', 'pusher:cache_miss', 'tick', 'tock'],
    );
    for (const worker of [0, 1]) {
      const c = await open(worker);
      assert.deepEqual(await subscribeAndTakeNext(c, { channel: 'cache-latest' }), { event: 'tock', channel: 'cache-latest', data: '{"n":2}' });
    }
  });

  test('a never-published cache channel answers pusher:cache_miss (sockudo:cache_miss on V2)', async () => {
    for (const worker of [0, 1]) {
      const c = await open(worker);
      assert.deepEqual(await subscribeAndTakeNext(c, { channel: 'cache-empty' }), { event: 'pusher:cache_miss', channel: 'cache-empty', data: '{}' });
    }
    const v2 = await open(1, 'protocol=2&client=js&version=2.2.0&flash=false');
    const from = v2.frames.length;
    v2.send({ event: 'sockudo:subscribe', data: { channel: 'cache-empty' } });
    await v2.next((f) => f.event === 'sockudo_internal:subscription_succeeded', 5000, from);
    // V2 frames to a single socket may also carry a message_id (Protocol V2); the rest is the V1 shape.
    const { message_id: messageId, ...v2Miss } = await v2.next((f) => f.event.endsWith('cache_miss'), 5000, from);
    assert.deepEqual(v2Miss, { event: 'sockudo:cache_miss', channel: 'cache-empty', data: '{}' });
    assert.ok(messageId === undefined || typeof messageId === 'string');
    // Ordinary channels never get a cache_miss.
    const plain = await open(0);
    await plain.request({ event: 'pusher:subscribe', data: { channel: 'not-a-cache' } }, isSucceeded('not-a-cache'));
    await plain.request({ event: 'pusher:ping' }, (f) => f.event === 'pusher:pong');
    assert.equal(plain.frames.filter((f) => f.event.endsWith('cache_miss')).length, 0);
  });

  test("pusher-js sees 'pusher:cache_miss' on the channel, and the cached event otherwise", async () => {
    const clients: PusherClient[] = [];
    try {
      const client = await connectPusherJs(server.workerPorts[1]);
      clients.push(client);
      const miss = new Promise<unknown>((resolve) => client.subscribe('cache-pjs-miss').bind('pusher:cache_miss', resolve));
      assert.deepEqual(await within(miss, 'pusher:cache_miss in pusher-js'), {});

      await sdk.trigger('cache-pjs-hit', 'snapshot', { items: [1, 2] });
      const other = await connectPusherJs(server.workerPorts[0]);
      clients.push(other);
      const channel = other.subscribe('cache-pjs-hit');
      const seen: string[] = [];
      channel.bind('pusher:subscription_succeeded', () => seen.push('succeeded'));
      channel.bind('pusher:cache_miss', () => seen.push('miss'));
      const hit = new Promise<unknown>((resolve) => channel.bind('snapshot', resolve));
      assert.deepEqual(await within(hit, 'the cached event in pusher-js'), { items: [1, 2] });
      assert.deepEqual(seen, ['succeeded']);
    } finally {
      for (const c of clients) c.disconnect();
    }
  });

  test('private and presence cache channels need a valid signature (4009), then replay like any cache channel', async () => {
    await sdk.trigger('private-cache-secret', 'state', { s: 'on' });
    const c = await open(0);
    const missing = await c.request({ event: 'pusher:subscribe', data: { channel: 'private-cache-secret' } }, isError(4009));
    assert.match((missing.data as { message: string }).message, /signature required/);
    // Sockudo accepts any non-empty auth for these channels; this server checks the HMAC.
    await c.request({ event: 'pusher:subscribe', data: { channel: 'private-cache-secret', auth: 'app-key:nonsense' } }, isError(4009));
    const forOther = sdk.authorizeChannel('1234.5678', 'private-cache-secret');
    await c.request({ event: 'pusher:subscribe', data: { channel: 'private-cache-secret', auth: forOther.auth } }, isError(4009));
    assert.equal(c.frames.filter((f) => f.event === 'state').length, 0, 'no cached event leaks to a refused subscriber');

    const good = sdk.authorizeChannel(c.socketId, 'private-cache-secret');
    assert.deepEqual(await subscribeAndTakeNext(c, { channel: 'private-cache-secret', auth: good.auth }), {
      event: 'state',
      channel: 'private-cache-secret',
      data: '{"s":"on"}',
    });

    // presence-cache-*: signature over channel_data, presence member list, then the cache frame.
    const p = await open(1);
    await p.request({ event: 'pusher:subscribe', data: { channel: 'presence-cache-room', auth: 'app-key:bad', channel_data: '{"user_id":"u1"}' } }, isError(4009));
    const member = { user_id: 'u1', user_info: { name: 'Ann' } };
    const auth = sdk.authorizeChannel(p.socketId, 'presence-cache-room', member);
    const from = p.frames.length;
    const next = await subscribeAndTakeNext(p, { channel: 'presence-cache-room', auth: auth.auth, channel_data: auth.channel_data });
    assert.deepEqual(next, { event: 'pusher:cache_miss', channel: 'presence-cache-room', data: '{}' });
    const ok = p.frames.slice(from).find(isSucceeded('presence-cache-room'));
    assert.deepEqual(JSON.parse(ok?.data as string), { presence: { ids: ['u1'], hash: { u1: { name: 'Ann' } }, count: 1 } });
  });

  test('client events never populate the cache', async () => {
    // presence-cache-* is a presence channel here, so it takes client events (private-cache-* does not, below).
    const join = async (c: RawClient, userId: string) => {
      const auth = sdk.authorizeChannel(c.socketId, 'presence-cache-chat', { user_id: userId });
      return subscribeAndTakeNext(c, { channel: 'presence-cache-chat', auth: auth.auth, channel_data: auth.channel_data });
    };
    const a = await open(0);
    const b = await open(1);
    await join(a, 'chat-a');
    await join(b, 'chat-b');
    a.send({ event: 'client-typing', channel: 'presence-cache-chat', data: { who: 'a' } });
    await b.next((f) => f.event === 'client-typing');
    const late = await open(1);
    assert.deepEqual(await join(late, 'chat-late'), { event: 'pusher:cache_miss', channel: 'presence-cache-chat', data: '{}' });
  });

  // Reference §2.1 and §2.6: private-cache-* and private-encrypted-cache-* are cache channels, and client events
  // can only be sent to private or presence channels; requiring a signature to subscribe (deliberate difference
  // 6) does not make them private ones.
  test('client events on private-cache-* and private-encrypted-cache-* are refused with 4301, socket open', async () => {
    // The SDK signs private-encrypted-* only when it has a master key (the signature itself does not use it).
    const signer = new Pusher({ ...DEVELOPMENT_APP, appId: DEVELOPMENT_APP.id, host: '127.0.0.1', encryptionMasterKeyBase64: randomBytes(32).toString('base64') });
    const a = await open(0);
    const b = await open(1);
    for (const channel of ['private-cache-typing', 'private-encrypted-cache-typing']) {
      for (const c of [a, b]) {
        const { auth } = signer.authorizeChannel(c.socketId, channel);
        await c.request({ event: 'pusher:subscribe', data: { channel, auth } }, isSucceeded(channel));
      }
      const err = await a.request({ event: 'client-typing', channel, data: { on: true } }, (f) => f.event === 'pusher:error');
      assert.deepEqual(err.data, { code: 4301, message: 'Client events can only be sent to private or presence channels' }, channel);
    }
    await a.request({ event: 'pusher:ping' }, (f) => f.event === 'pusher:pong');
    assert.equal(a.closeCode, null);
  });

  test('GET /channels/{name}?info=cache returns the cached frame and its remaining TTL', async () => {
    await sdk.trigger('cache-query', 'last', { x: 42 });
    const res = await sdk.get({ path: '/channels/cache-query', params: { info: 'cache,subscription_count' } });
    const body = (await res.json()) as { occupied: boolean; subscription_count: number; cache: { data: string; ttl: number } };
    assert.equal(body.occupied, false);
    assert.equal(body.subscription_count, 0);
    assert.deepEqual(Object.keys(body.cache).sort(), ['data', 'ttl']);
    assert.deepEqual(JSON.parse(body.cache.data), { event: 'last', channel: 'cache-query', data: '{"x":42}' });
    assert.ok(body.cache.ttl > 3590 && body.cache.ttl <= 3600, `ttl ${body.cache.ttl}`);

    // Nothing cached: no cache attribute.
    const none = await sdk.get({ path: '/channels/cache-never', params: { info: 'cache' } });
    assert.deepEqual(await none.json(), { occupied: false });
    // Publishes to ordinary channels are not cached.
    await sdk.trigger('plain-query', 'last', { x: 1 });
    const url = signedUrl(`http://127.0.0.1:${server.port}`, { method: 'GET', path: '/apps/app-id/channels/plain-query', extra: { info: 'cache' } });
    assert.deepEqual(await (await fetch(url)).json(), { occupied: false });
  });
});

describe('cache channel TTL', () => {
  test('with cache_channel_ttl 1 the cached event expires and new subscribers get cache_miss', async () => {
    const server = await startTestServer({ cache_channel_ttl: 1 });
    const clients: RawClient[] = [];
    try {
      const sdk = serverSdk(server.port);
      for (const worker of [0, 1]) clients.push(await RawClient.open(server.workerPorts[worker]));
      const published = Date.now();
      await sdk.trigger('cache-short', 'brief', { t: 1 });
      const info = (await (await sdk.get({ path: '/channels/cache-short', params: { info: 'cache' } })).json()) as { cache?: { ttl: number } };
      if (Date.now() - published < 800) assert.equal(info.cache?.ttl, 1); // not judged on a host too slow to ask in time
      for (const c of clients) {
        const first = await subscribeAndTakeNext(c, { channel: 'cache-short' });
        // Well inside the second the event is still cached (a host too slow to get here in 800 ms is not judged).
        if (Date.now() - published < 800) assert.deepEqual(first, { event: 'brief', channel: 'cache-short', data: '{"t":1}' });
      }
      for (const [worker, c] of clients.entries()) {
        await eventually(async () => {
          c.send({ event: 'pusher:unsubscribe', data: { channel: 'cache-short' } });
          const f = await subscribeAndTakeNext(c, { channel: 'cache-short' });
          return f.event === 'pusher:cache_miss';
        }, `cache expiry on worker ${worker}`, 4000);
      }
      const after = await (await sdk.get({ path: '/channels/cache-short', params: { info: 'cache' } })).json();
      assert.deepEqual(after, { occupied: true });

      // A new publish fills the cache again.
      const c = clients[1];
      c.send({ event: 'pusher:unsubscribe', data: { channel: 'cache-short' } });
      const republished = Date.now();
      await sdk.trigger('cache-short', 'again', { t: 2 });
      const f = await subscribeAndTakeNext(c, { channel: 'cache-short' });
      if (Date.now() - republished < 800) assert.deepEqual(f, { event: 'again', channel: 'cache-short', data: '{"t":2}' });
    } finally {
      for (const c of clients) c.close();
      await server.shutdown();
    }
  });
});

describe('private-encrypted channels', () => {
  let server: TestServer;
  let sdk: Pusher;
  const masterKey = randomBytes(32).toString('base64');
  const SECRET = { card: '4242', owner: 'Ann', amounts: [1, 2, 3] };

  before(async () => {
    server = await startTestServer();
    sdk = new Pusher({
      appId: DEVELOPMENT_APP.id,
      key: DEVELOPMENT_APP.key,
      secret: DEVELOPMENT_APP.secret,
      host: '127.0.0.1',
      port: String(server.port),
      useTLS: false,
      encryptionMasterKeyBase64: masterKey,
    });
  });
  after(() => server.shutdown());

  function encryptedClient(port: number): PusherClient {
    return new PusherJs(DEVELOPMENT_APP.key, {
      wsHost: '127.0.0.1',
      wsPort: port,
      forceTLS: false,
      cluster: 'local',
      enabledTransports: ['ws'],
      disableStats: true,
      channelAuthorization: {
        customHandler: ({ socketId, channelName }, cb) => cb(null, sdk.authorizeChannel(socketId, channelName)),
      },
    });
  }

  test('pusher-js on both threads decrypts what the SDK encrypted; a raw subscriber sees only ciphertext', async () => {
    const clients = [encryptedClient(server.workerPorts[0]), encryptedClient(server.workerPorts[1])];
    const raw = await RawClient.open(server.workerPorts[1]);
    try {
      const received: unknown[][] = [[], []];
      const subscriptions = clients.map(
        (client, i) =>
          new Promise<void>((resolve, reject) => {
            const ch = client.subscribe('private-encrypted-vault');
            ch.bind('secret', (d: unknown) => received[i].push(d));
            ch.bind('pusher:subscription_succeeded', () => resolve());
            ch.bind('pusher:subscription_error', (e: unknown) => reject(new Error(JSON.stringify(e))));
          }),
      );
      await within(Promise.all(subscriptions), 'encrypted subscriptions');
      // A raw socket with a valid signature (but no shared secret) is allowed to subscribe.
      const auth = sdk.authorizeChannel(raw.socketId, 'private-encrypted-vault');
      assert.equal(typeof auth.shared_secret, 'string');
      await raw.request({ event: 'pusher:subscribe', data: { channel: 'private-encrypted-vault', auth: auth.auth } }, isSucceeded('private-encrypted-vault'));

      const res = await sdk.trigger('private-encrypted-vault', 'secret', SECRET);
      assert.equal(res.status, 200);
      await eventually(() => received.every((r) => r.length === 1), 'decrypted event on both threads');
      assert.deepEqual(received, [[SECRET], [SECRET]]);

      const frame = await raw.next((f) => f.event === 'secret');
      assert.equal(frame.channel, 'private-encrypted-vault');
      assert.equal(typeof frame.data, 'string');
      const payload = JSON.parse(frame.data as string) as Record<string, unknown>;
      assert.deepEqual(Object.keys(payload).sort(), ['ciphertext', 'nonce']);
      assert.equal(Buffer.from(payload.nonce as string, 'base64').length, 24);
      assert.ok(Buffer.from(payload.ciphertext as string, 'base64').length >= JSON.stringify(SECRET).length + 16);
      // Random base64 may spell "Ann" by chance (about 1 run in 2,400), so look for plaintext outside the
      // two encoded values, and for the plaintext bytes inside the decoded ciphertext.
      const envelope = (frame.data as string).replace(payload.ciphertext as string, '').replace(payload.nonce as string, '');
      for (const plain of ['4242', 'Ann', 'card', 'owner', 'amounts']) assert.ok(!envelope.includes(plain), `plaintext "${plain}" on the wire`);
      // The whole plaintext is long enough that random bytes never spell it.
      const cipherBytes = Buffer.from(payload.ciphertext as string, 'base64');
      assert.ok(!cipherBytes.includes(JSON.stringify(SECRET)), 'plaintext inside the ciphertext');
    } finally {
      for (const c of clients) c.disconnect();
      raw.close();
    }
  });

  test('encrypted channels are signed like private ones (4009) and refuse client events (4301)', async () => {
    const c = await RawClient.open(server.workerPorts[0]);
    try {
      await c.request({ event: 'pusher:subscribe', data: { channel: 'private-encrypted-box' } }, isError(4009));
      await c.request({ event: 'pusher:subscribe', data: { channel: 'private-encrypted-box', auth: 'app-key:00' } }, isError(4009));
      const auth = sdk.authorizeChannel(c.socketId, 'private-encrypted-box');
      await c.request({ event: 'pusher:subscribe', data: { channel: 'private-encrypted-box', auth: auth.auth } }, isSucceeded('private-encrypted-box'));
      await c.request({ event: 'client-x', channel: 'private-encrypted-box', data: {} }, isError(4301));
      assert.equal(c.closeCode, null);
    } finally {
      c.close();
    }
  });

  test('private-encrypted-cache channels replay the ciphertext, which pusher-js decrypts', async () => {
    await sdk.trigger('private-encrypted-cache-vault', 'state', SECRET);
    const client = encryptedClient(server.workerPorts[1]);
    try {
      const got = new Promise<unknown>((resolve) => client.subscribe('private-encrypted-cache-vault').bind('state', resolve));
      assert.deepEqual(await within(got, 'the decrypted cached event'), SECRET);
    } finally {
      client.disconnect();
    }
    const raw = await RawClient.open(server.workerPorts[0]);
    try {
      const auth = sdk.authorizeChannel(raw.socketId, 'private-encrypted-cache-vault');
      const cached = await subscribeAndTakeNext(raw, { channel: 'private-encrypted-cache-vault', auth: auth.auth });
      assert.equal(cached.event, 'state');
      assert.deepEqual(Object.keys(JSON.parse(cached.data as string)).sort(), ['ciphertext', 'nonce']);
    } finally {
      raw.close();
    }
  });
});
