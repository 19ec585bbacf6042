// A worker delivers a publish it admitted to its own V1 sockets without waiting for the primary
// (worker/localPublishOrder.ts). The server runs in this process, so this thread is the primary: the test
// blocks it right after sending the publish, and a subscriber in a child process says when the frame came.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { connect } from 'node:net';
import { createInterface } from 'node:readline';
import { after, before, describe, test } from 'node:test';
import { DEVELOPMENT_APP } from '../../src/config/schema.ts';
import { type TestServer, startTestServer } from '../helpers/server.ts';
import { signedUrl } from '../helpers/signing.ts';

/** A V1 subscriber of `channel` that prints `subscribed`, then `<Date.now()> <event>` for each event. */
const SUBSCRIBER = `
const WebSocket = require('ws');
const [port, key, channel] = process.argv.slice(1);
const ws = new WebSocket('ws://127.0.0.1:' + port + '/app/' + key + '?protocol=7');
ws.on('open', () => ws.send(JSON.stringify({ event: 'pusher:subscribe', data: { channel } })));
ws.on('message', (m) => {
  const at = Date.now();
  const f = JSON.parse(String(m));
  if (f.event === 'pusher_internal:subscription_succeeded') console.log('subscribed');
  else if (f.channel === channel) console.log(at + ' ' + f.event);
});
`;

describe('a publish on the worker that admitted it', () => {
  let server: TestServer;
  let child: ChildProcess;
  let lines: AsyncIterator<string>;

  before(async () => {
    server = await startTestServer({ workers: 1 });
    child = spawn(process.execPath, ['-e', SUBSCRIBER, String(server.port), DEVELOPMENT_APP.key, 'local'], { stdio: ['ignore', 'pipe', 'inherit'] });
    lines = createInterface({ input: child.stdout as NodeJS.ReadableStream })[Symbol.asyncIterator]();
    assert.equal((await lines.next()).value, 'subscribed');
  });
  after(async () => {
    child.kill();
    await server.shutdown();
  });

  test('reaches its V1 subscribers while the primary is busy', async () => {
    const body = JSON.stringify({ name: 'while-blocked', channel: 'local', data: '{}' });
    const url = new URL(signedUrl(`http://127.0.0.1:${server.port}`, { path: `/apps/${DEVELOPMENT_APP.id}/events`, body, key: DEVELOPMENT_APP.key, secret: DEVELOPMENT_APP.secret }));
    const socket = connect(server.port, '127.0.0.1');
    await once(socket, 'connect');
    const request = `POST ${url.pathname}${url.search} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
    await new Promise<void>((resolve, reject) => socket.write(request, (err) => (err ? reject(err) : resolve())));
    // This thread is the primary: nothing it would do for the publish can happen before this loop ends.
    // 1.5 s: long enough for the worker and the subscriber process to run on a loaded 2-core machine.
    const blockedUntil = Date.now() + 1500;
    while (Date.now() < blockedUntil) {
      // busy: the primary is stalled
    }
    const [at, event] = String((await lines.next()).value).split(' ');
    assert.equal(event, 'while-blocked');
    assert.ok(Number(at) < blockedUntil, `delivered ${Number(at) - blockedUntil} ms after the primary could act`);
    const [answer] = (await once(socket, 'data')) as [Buffer];
    assert.match(answer.toString(), /^HTTP\/1\.1 200 OK/);
    socket.destroy();
  });

  test('is delivered once, also after the primary has sent the V2 side', async () => {
    const body = JSON.stringify({ name: 'once', channel: 'local', data: '{}' });
    const url = signedUrl(`http://127.0.0.1:${server.port}`, { path: `/apps/${DEVELOPMENT_APP.id}/events`, body, key: DEVELOPMENT_APP.key, secret: DEVELOPMENT_APP.secret });
    assert.equal((await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body })).status, 200);
    const marker = JSON.stringify({ name: 'marker', channel: 'local', data: '{}' });
    const markerUrl = signedUrl(`http://127.0.0.1:${server.port}`, { path: `/apps/${DEVELOPMENT_APP.id}/events`, body: marker, key: DEVELOPMENT_APP.key, secret: DEVELOPMENT_APP.secret });
    assert.equal((await fetch(markerUrl, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: marker })).status, 200);
    const events: string[] = [];
    for (;;) {
      const event = String((await lines.next()).value).split(' ')[1];
      events.push(event);
      if (event === 'marker') break;
    }
    assert.deepEqual(events, ['once', 'marker']);
  });
});
