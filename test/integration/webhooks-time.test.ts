// A webhook request's `time_ms` is when its events happened (the batch's first), as Pusher documents it and Sockudo
// stamps it (create_job_data; merged batches keep the earliest), not when a slow target let the batch go.
import assert from 'node:assert/strict';
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import Pusher from 'pusher';
import { RawClient } from '../helpers/clients.ts';
import { type TestServer, eventually, startTestServer } from '../helpers/server.ts';

const app = { id: 'rh29-time', key: 'rh29-time-key', secret: 'rh29-time-secret' };
const HOLD_MS = 1500;

interface Received {
  at: number;
  time_ms: number;
  events: { name: string; channel: string }[];
}

describe('webhook time_ms', () => {
  let server: TestServer;
  let hooks: Server;
  const received: Received[] = [];
  let invalid = 0;

  before(async () => {
    const verifier = new Pusher({ appId: app.id, key: app.key, secret: app.secret, host: '127.0.0.1' });
    // A real, slow target: the first request is answered only after HOLD_MS (a busy endpoint), the others at once.
    hooks = createServer((req: IncomingMessage, res: ServerResponse) => {
      let rawBody = '';
      req.on('data', (d: Buffer) => (rawBody += d.toString()));
      req.on('end', () => {
        const hook = verifier.webhook({ headers: req.headers as Record<string, string>, rawBody });
        if (!hook.isValid()) invalid++;
        const body = JSON.parse(rawBody) as { time_ms: number; events: Received['events'] };
        received.push({ at: Date.now(), time_ms: body.time_ms, events: body.events });
        const answer = () => res.writeHead(200).end();
        if (received.length === 1) setTimeout(answer, HOLD_MS);
        else answer();
      });
    });
    await new Promise<void>((resolve) => hooks.listen(0, '127.0.0.1', () => resolve()));
    const url = `http://127.0.0.1:${(hooks.address() as AddressInfo).port}/hook`;
    server = await startTestServer({ apps: [{ ...app, webhooks: [{ url, event_types: ['channel_occupied'] }] }] });
  });
  after(async () => {
    await server.shutdown();
    await new Promise<void>((resolve) => hooks.close(() => resolve()));
  });

  test('a batch that waited behind a slow request still carries the time its events happened (ref §8 l.718-721)', async () => {
    const a = await RawClient.open(server.port, app.key);
    await a.request({ event: 'pusher:subscribe', data: { channel: 'time-first' } }, (f) => f.event.endsWith('subscription_succeeded'));
    // The first request is now being held by the target.
    await eventually(() => received.length === 1, 'the first webhook request');
    const b = await RawClient.open(server.port, app.key);
    await b.request({ event: 'pusher:subscribe', data: { channel: 'time-second' } }, (f) => f.event.endsWith('subscription_succeeded'));
    const occupiedAt = Date.now(); // the channel_occupied for time-second exists by now (or within the 50 ms batch window)
    const second = await eventually(() => received.find((r) => r.events.some((e) => e.channel === 'time-second')), 'the second channel_occupied', 5000);
    assert.equal(invalid, 0, 'every request passed the pusher SDK check');
    assert.ok(second.at - occupiedAt > 800, `the request was held up behind the slow one (arrived ${second.at - occupiedAt} ms later)`);
    // Generous: the batch window is 50 ms. time_ms must not be the moment the queue finally got to send it.
    assert.ok(
      second.time_ms <= occupiedAt + 300,
      `time_ms ${second.time_ms} is ${second.time_ms - occupiedAt} ms after the channel was occupied (the request went out ${second.at - occupiedAt} ms after)`,
    );
    a.close();
    b.close();
  });
});
