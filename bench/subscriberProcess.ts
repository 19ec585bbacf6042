// One loader child process: holds a share of the WebSocket subscribers of one channel and counts the
// frames that carry the benchmark's marker, reporting the running total to the parent every 10 ms.
import WebSocket from 'ws';
import type { SubscriberCommand, SubscriberReport } from './loaderMessages.ts';

const send = (m: SubscriberReport) => process.send?.(m);
const PONG = JSON.stringify({ event: 'pusher:pong', data: {} });

let delivered = 0;
let lostSockets = 0;
let closing = false;
const sockets: WebSocket[] = [];

/** Opens one subscriber; resolves true once the server confirmed the subscription. */
function subscribe(url: string, channel: string, marker: Buffer): Promise<string | null> {
  return new Promise((resolve) => {
    let subscribed = false;
    const ws = new WebSocket(url, { perMessageDeflate: false, skipUTF8Validation: true, handshakeTimeout: 15_000 });
    const fail = (why: string) => {
      if (subscribed) return;
      clearTimeout(timer);
      ws.terminate();
      resolve(why);
    };
    const timer = setTimeout(() => fail('no subscription_succeeded within 20 s'), 20_000);
    ws.on('message', (data: Buffer) => {
      if (subscribed) {
        // The hot path: one native byte search per frame, no JSON parsing.
        if (data.indexOf(marker) !== -1) delivered++;
        else if (data.includes('pusher:ping')) ws.send(PONG);
        return;
      }
      const m = JSON.parse(data.toString('utf8')) as { event?: string; data?: unknown };
      if (m.event === 'pusher:connection_established') {
        ws.send(JSON.stringify({ event: 'pusher:subscribe', data: { channel } }));
      } else if (m.event === 'pusher_internal:subscription_succeeded') {
        subscribed = true;
        clearTimeout(timer);
        sockets.push(ws);
        resolve(null);
      } else if (m.event === 'pusher:error') {
        fail(`pusher:error ${JSON.stringify(m.data)}`);
      }
    });
    ws.on('error', (err) => fail(err.message));
    ws.on('close', (code) => {
      if (subscribed && !closing) lostSockets++;
      fail(`closed with ${code} before subscribing`);
    });
  });
}

async function connect(c: Extract<SubscriberCommand, { type: 'connect' }>): Promise<void> {
  const marker = Buffer.from(c.marker);
  let next = 0;
  let failed = 0;
  let firstError: string | null = null;
  // A bounded number of handshakes in flight: the server's accept queue, not the loader, sets the pace.
  const lane = async () => {
    while (next < c.count) {
      next++;
      const err = await subscribe(c.url, c.channel, marker);
      if (err) {
        failed++;
        firstError ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(c.concurrency, c.count) }, lane));
  send({ type: 'ready', subscribed: sockets.length, failed, firstError });
  let reported = -1;
  setInterval(() => {
    if (delivered === reported) return;
    reported = delivered;
    send({ type: 'count', delivered, lostSockets });
  }, 10);
}

/** Drops every socket at once (no closing handshakes to wait for) and exits; the parent awaits the exit. */
function close(): void {
  closing = true;
  for (const ws of sockets) ws.terminate();
  process.exit(0);
}

process.on('message', (c: SubscriberCommand) => {
  switch (c.type) {
    case 'connect':
      return void connect(c);
    case 'close':
      return close();
  }
});
process.on('disconnect', () => process.exit(0)); // the parent went away: never linger holding sockets
