// Webhook delivery (§8) against real local HTTP servers: the Pusher wire format (checked by the official
// pusher SDK), batching, event_types filtering, per-target ordering, retries, permanent failures, the
// queue bound, and that nothing ever rejects unhandled.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { type IncomingHttpHeaders, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, afterEach, before, describe, test } from 'node:test';
import pino from 'pino';
import Pusher from 'pusher';
import { type WebhookApp, type WebhookEvent, type WebhookMetrics, type WebhookSenderOptions, WebhookSender, backoffDelay } from '../../src/webhooks/webhookSender.ts';

const APP: WebhookApp = { id: 'app-1', key: 'app-key', secret: 'app-secret', webhooks: [] };

interface Received {
  headers: IncomingHttpHeaders;
  rawBody: string;
  events: WebhookEvent[];
}

/** What the fake endpoint does with one request: answer it, cut the connection, or never answer. */
type Reply = { status: number; headers?: Record<string, string>; body?: string } | 'destroy' | 'hang';

interface Endpoint {
  url: string;
  received: Received[];
  /** Requests being handled right now, and the most there ever were at once. */
  maxConcurrent: number;
  close(): Promise<void>;
}

const servers: Endpoint[] = [];

/** A local webhook endpoint on a free port; `reply` gets the 0-based request index. */
async function endpoint(reply: (index: number, req: Received) => Reply | Promise<Reply> = () => ({ status: 200 })): Promise<Endpoint> {
  const received: Received[] = [];
  let concurrent = 0;
  const ep: Endpoint = { url: '', received, maxConcurrent: 0, close: async () => {} };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const rawBody = Buffer.concat(chunks).toString('utf8');
      const r: Received = { headers: req.headers, rawBody, events: (JSON.parse(rawBody) as { events: WebhookEvent[] }).events };
      const index = received.push(r) - 1;
      ep.maxConcurrent = Math.max(ep.maxConcurrent, ++concurrent);
      void Promise.resolve(reply(index, r)).then((out) => {
        if (out === 'hang') return;
        concurrent--;
        if (out === 'destroy') return void req.socket.destroy();
        res.writeHead(out.status, out.headers).end(out.body ?? '');
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  ep.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook?token=s3cret`;
  ep.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  servers.push(ep);
  return ep;
}

/** A port nothing listens on: bound, then closed. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function countingMetrics(): WebhookMetrics & { sent_: number; failed_: number; dropped_: number; requests: number[] } {
  const m = { sent_: 0, failed_: 0, dropped_: 0, requests: [] as number[] };
  return Object.assign(m, {
    sent: (_appId: string, n: number) => {
      m.sent_ += n;
      m.requests.push(n);
    },
    failed: () => void m.failed_++,
    dropped: (_appId: string, n: number) => void (m.dropped_ += n),
  });
}

interface LogLine {
  level: number;
  msg: string;
  [k: string]: unknown;
}

/** A real pino logger writing parsed lines to an array (30 info, 40 warn). */
function capturedLog(): { log: pino.Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const log = pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s) as LogLine) });
  return { log, lines };
}

const senders: WebhookSender[] = [];

function sender(webhooks: WebhookApp['webhooks'], opts: Partial<WebhookSenderOptions> = {}) {
  const metrics = countingMetrics();
  const { log, lines } = capturedLog();
  const s = new WebhookSender({ apps: [{ ...APP, webhooks }], log, metrics, baseBackoffMs: 5, ...opts });
  senders.push(s);
  return { s, metrics, lines };
}

async function until(what: string, cond: () => boolean, ms = 2000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

const occupied = (channel: string): WebhookEvent => ({ name: 'channel_occupied', channel });

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => void unhandled.push(reason);
before(() => process.on('unhandledRejection', onUnhandled));
afterEach(async () => {
  await Promise.all(senders.splice(0).map((s) => s.stop()));
  await Promise.all(servers.splice(0).map((ep) => ep.close()));
});
after(() => {
  process.off('unhandledRejection', onUnhandled);
  assert.deepEqual(unhandled, [], 'no unhandled rejections');
});

describe('WebhookSender: wire format', () => {
  test('one signed POST in Pusher format, which the pusher SDK accepts', async () => {
    const ep = await endpoint();
    const { s, metrics } = sender([{ url: ep.url }]);
    const events: WebhookEvent[] = [
      occupied('orders'),
      { name: 'member_added', channel: 'presence-room', user_id: 'u1' },
      { name: 'client_event', channel: 'private-chat', event: 'client-typing', data: '{"who":"ü"}', socket_id: '123.456' },
      { name: 'subscription_count', channel: 'orders', subscription_count: 2 },
    ];
    const before = Date.now();
    for (const e of events) s.emit(APP.id, e);
    await s.flush();

    assert.equal(ep.received.length, 1);
    const { headers, rawBody } = ep.received[0]!;
    assert.equal(headers['content-type'], 'application/json');
    assert.equal(headers['x-pusher-key'], APP.key);
    assert.equal(headers['x-pusher-signature'], createHmac('sha256', APP.secret).update(rawBody).digest('hex'));
    const body = JSON.parse(rawBody) as { time_ms: number; events: unknown[] };
    assert.deepEqual(Object.keys(body), ['time_ms', 'events']);
    assert.ok(body.time_ms >= before && body.time_ms <= Date.now(), `time_ms ${body.time_ms} is now`);
    assert.deepEqual(body.events, events);
    assert.deepEqual(metrics.requests, [4]);

    const pusher = new Pusher({ appId: APP.id, key: APP.key, secret: APP.secret, host: '127.0.0.1' });
    const hook = pusher.webhook({ headers, rawBody });
    assert.equal(hook.isValid(), true);
    assert.deepEqual(hook.getEvents(), events);
    assert.equal(hook.getTime().getTime(), body.time_ms);

    const wrongSecret = new Pusher({ appId: APP.id, key: APP.key, secret: 'not-the-secret', host: '127.0.0.1' });
    assert.equal(wrongSecret.webhook({ headers, rawBody }).isValid(), false);
    const wrongKey = new Pusher({ appId: APP.id, key: 'other-key', secret: APP.secret, host: '127.0.0.1' });
    assert.equal(wrongKey.webhook({ headers, rawBody }).isValid(), false);
    assert.equal(pusher.webhook({ headers, rawBody: rawBody.replace('orders', 'orderz') }).isValid(), false, 'a changed body fails');
  });

  test('an app without webhooks, or an unknown app: nothing queued, nothing sent', async () => {
    const ep = await endpoint();
    const metrics = countingMetrics();
    const s = new WebhookSender({ apps: [{ ...APP, id: 'quiet' }, { ...APP, webhooks: [{ url: ep.url }] }], log: capturedLog().log, metrics });
    senders.push(s);
    s.emit('quiet', occupied('a'));
    s.emit('nobody', occupied('a'));
    await s.flush();
    assert.equal(ep.received.length, 0);
    assert.deepEqual(metrics.requests, []);
  });
});

describe('WebhookSender: batching and routing', () => {
  test('events emitted within the window go out together, in order, when the timer fires', async () => {
    const ep = await endpoint();
    const { s } = sender([{ url: ep.url }], { batchMs: 30 });
    const events = [occupied('a'), occupied('b'), occupied('c')];
    for (const e of events) s.emit(APP.id, e);
    assert.equal(ep.received.length, 0, 'nothing is sent synchronously');
    await until('the batch', () => ep.received.length > 0);
    await s.flush();
    assert.equal(ep.received.length, 1);
    assert.deepEqual(ep.received[0]!.events, events);
  });

  test('more than maxBatch events: several requests of at most maxBatch, order kept', async () => {
    const ep = await endpoint();
    const { s, metrics } = sender([{ url: ep.url }], { batchMs: 60_000, maxBatch: 2 });
    const events = ['a', 'b', 'c', 'd', 'e'].map(occupied);
    for (const e of events) s.emit(APP.id, e);
    // A full batch does not wait for the (here very long) window.
    await until('the first full batch', () => ep.received.length > 0);
    await s.flush();
    assert.deepEqual(
      ep.received.map((r) => r.events.length),
      [2, 2, 1],
    );
    assert.deepEqual(
      ep.received.flatMap((r) => r.events),
      events,
    );
    assert.equal(metrics.sent_, 5);
  });

  test('event_types: a target gets only the names it lists; without the list, everything', async () => {
    const members = await endpoint();
    const all = await endpoint();
    const { s } = sender([{ url: members.url, event_types: ['member_added', 'member_removed'] }, { url: all.url }]);
    const added: WebhookEvent = { name: 'member_added', channel: 'presence-x', user_id: '1' };
    const removed: WebhookEvent = { name: 'member_removed', channel: 'presence-x', user_id: '1' };
    const events = [occupied('presence-x'), added, removed, { name: 'channel_vacated', channel: 'presence-x' } as const];
    for (const e of events) s.emit(APP.id, e);
    await s.flush();
    assert.deepEqual(
      members.received.flatMap((r) => r.events),
      [added, removed],
    );
    assert.deepEqual(
      all.received.flatMap((r) => r.events),
      events,
    );
  });

  test('one request in flight per target, while targets proceed concurrently', async () => {
    let bArrived!: () => void;
    const bSeen = new Promise<void>((r) => (bArrived = r));
    // A holds its first answer until B has received a request: only concurrent sending gets past this.
    const a = await endpoint(async (i) => {
      if (i === 0) await bSeen;
      await new Promise((r) => setTimeout(r, 5));
      return { status: 200 };
    });
    const b = await endpoint(async () => {
      bArrived();
      await new Promise((r) => setTimeout(r, 5));
      return { status: 200 };
    });
    const { s } = sender([{ url: a.url }, { url: b.url }], { maxBatch: 1 });
    const events = ['1', '2', '3', '4'].map(occupied);
    for (const e of events) s.emit(APP.id, e);
    await s.flush();
    for (const ep of [a, b]) {
      assert.equal(ep.maxConcurrent, 1);
      assert.deepEqual(
        ep.received.flatMap((r) => r.events),
        events,
      );
    }
  });
});

describe('WebhookSender: retries and failures', () => {
  test('500 is retried with the same signed body until it succeeds', async () => {
    const ep = await endpoint((i) => (i < 2 ? { status: 500, body: 'busy' } : { status: 200 }));
    const { s, metrics, lines } = sender([{ url: ep.url }]);
    s.emit(APP.id, occupied('a'));
    await s.flush();
    assert.equal(ep.received.length, 3);
    assert.equal(new Set(ep.received.map((r) => r.rawBody)).size, 1, 'a retry resends the same body');
    assert.equal(new Set(ep.received.map((r) => r.headers['x-pusher-signature'])).size, 1);
    assert.deepEqual(metrics.requests, [1]);
    assert.equal(metrics.failed_, 0);
    const retries = lines.filter((l) => l.msg === 'webhook attempt failed, retrying');
    assert.equal(retries.length, 2);
    assert.equal(retries[0]!.reason, 'HTTP 500: busy');
    assert.equal(retries[0]!.url, ep.url.split('?')[0], 'the query string (often a token) is not logged');
  });

  test('429 is retried after Retry-After seconds instead of the backoff', { timeout: 3000 }, async () => {
    const ep = await endpoint((i) => (i === 0 ? { status: 429, headers: { 'Retry-After': '0' } } : { status: 200 }));
    // With this base the backoff alone would take 30 s or more: only Retry-After makes the test pass in time.
    const { s, metrics } = sender([{ url: ep.url }], { baseBackoffMs: 60_000 });
    s.emit(APP.id, occupied('a'));
    await s.flush();
    assert.equal(ep.received.length, 2);
    assert.deepEqual(metrics.requests, [1]);
  });

  test('400 is not retried: failed once, logged, and the next batch still goes out', async () => {
    const ep = await endpoint((i) => (i === 0 ? { status: 400, body: 'bad' } : { status: 200 }));
    const { s, metrics, lines } = sender([{ url: ep.url }]);
    s.emit(APP.id, occupied('a'));
    await s.flush();
    assert.equal(ep.received.length, 1);
    assert.equal(metrics.failed_, 1);
    assert.equal(metrics.sent_, 0);
    const warn = lines.find((l) => l.msg === 'webhook delivery failed');
    assert.equal(warn?.level, 40);
    assert.equal(warn?.reason, 'HTTP 400: bad');
    assert.equal(warn?.attempts, 1);
    s.emit(APP.id, occupied('b'));
    await s.flush();
    assert.equal(ep.received.length, 2);
    assert.deepEqual(metrics.requests, [1]);
  });

  test('a connection cut before the answer is retried up to maxAttempts, then failed', async () => {
    const ep = await endpoint(() => 'destroy');
    const { s, metrics } = sender([{ url: ep.url }], { maxAttempts: 3 });
    s.emit(APP.id, occupied('a'));
    await s.flush();
    assert.equal(ep.received.length, 3);
    assert.equal(metrics.failed_, 1);
    assert.equal(metrics.sent_, 0);
  });

  test('a closed port is retried up to maxAttempts, then failed', async () => {
    const port = await closedPort();
    const { s, metrics, lines } = sender([{ url: `http://127.0.0.1:${port}/hook` }], { maxAttempts: 4 });
    s.emit(APP.id, occupied('a'));
    await s.flush();
    assert.equal(lines.filter((l) => l.msg === 'webhook attempt failed, retrying').length, 3);
    const warn = lines.find((l) => l.msg === 'webhook delivery failed');
    assert.equal(warn?.attempts, 4);
    assert.match(String(warn?.reason), /ECONNREFUSED/);
    assert.equal(metrics.failed_, 1);
  });

  test('an endpoint that never answers times out and is retried', async () => {
    const ep = await endpoint(() => 'hang');
    const { s, metrics, lines } = sender([{ url: ep.url }], { maxAttempts: 2, timeoutMs: 100 });
    s.emit(APP.id, occupied('a'));
    await s.flush();
    assert.equal(ep.received.length, 2);
    assert.equal(metrics.failed_, 1);
    assert.match(String(lines.find((l) => l.msg === 'webhook delivery failed')?.reason), /TimeoutError/);
  });

  test('backoff doubles per retry, spread ±50%', () => {
    assert.deepEqual(
      [0, 1, 2, 3].map((r) => backoffDelay(r, 200, () => 0.5)),
      [200, 400, 800, 1600],
    );
    assert.equal(backoffDelay(2, 200, () => 0), 400);
    assert.equal(backoffDelay(2, 200, () => 0.999999), 1200);
  });
});

describe('WebhookSender: queue bound and stop', () => {
  test('a full queue drops new events, counts them and warns at most once a second', async () => {
    const ep = await endpoint();
    const { s, metrics, lines } = sender([{ url: ep.url }], { batchMs: 60_000, maxQueue: 3 });
    const events = ['1', '2', '3', '4', '5', '6'].map(occupied);
    for (const e of events) s.emit(APP.id, e);
    assert.equal(metrics.dropped_, 3);
    const warns = lines.filter((l) => l.msg === 'webhook queue full, events dropped');
    assert.equal(warns.length, 1);
    assert.equal(warns[0]!.level, 40);
    await s.flush();
    assert.deepEqual(
      ep.received.flatMap((r) => r.events),
      events.slice(0, 3),
      'the oldest events are kept',
    );
  });

  test('stop() delivers what is queued, leaves no timer, and refuses later events', async () => {
    const ep = await endpoint();
    const { s, metrics } = sender([{ url: ep.url }], { batchMs: 60_000 });
    s.emit(APP.id, occupied('a'));
    // Were the 60 s batch timer left behind, this file would take a minute to exit.
    await s.stop();
    assert.equal(ep.received.length, 1);
    s.emit(APP.id, occupied('b'));
    assert.equal(metrics.dropped_, 1);
    await s.flush();
    assert.equal(ep.received.length, 1);
  });

  test('emit never throws, even when a metrics callback does', async () => {
    const { log, lines } = capturedLog();
    const s = new WebhookSender({
      apps: [{ ...APP, webhooks: [{ url: `http://127.0.0.1:${await closedPort()}/` }] }],
      log,
      metrics: { sent() {}, failed() {}, dropped: () => assert.fail('metrics broke') },
      batchMs: 60_000,
      maxQueue: 1,
      maxAttempts: 1,
    });
    senders.push(s);
    s.emit(APP.id, occupied('a'));
    assert.doesNotThrow(() => s.emit(APP.id, occupied('b')));
    assert.equal(lines.filter((l) => l.msg === 'webhook emit failed').length, 1);
  });
});
