// A subscriber on a raw TCP socket: the WebSocket upgrade, then a scanner that walks server frames and counts
// those carrying the marker without decoding them. Its user-space cost per frame is near zero; at 5,000
// sockets the loader's time is mostly kernel reads, so it measured only ~10 % cheaper than `ws` here, but
// every bit of CPU the loader saves on a 2-core machine goes to the server under test.
import { connect } from 'node:net';
import { type OpenSubscriber, SUBSCRIBE_TIMEOUT_MS, subscribeFrame } from './subscriberClient.ts';

const OP_TEXT = 0x1;
const OP_CLOSE = 0x8;
const OP_PING = 0x9;
/** An empty pong, masked with a zero key (clients must mask; the key's value is not checked by servers). */
const PONG_CONTROL = Buffer.from([0x8a, 0x80, 0, 0, 0, 0]);

/** A masked text frame from the client, with a zero mask key so the payload goes as is. */
function clientText(text: string): Buffer {
  const payload = Buffer.from(text);
  const n = payload.length;
  const head = n < 126 ? Buffer.from([0x81, 0x80 | n, 0, 0, 0, 0]) : Buffer.from([0x81, 0x80 | 126, n >> 8, n & 0xff, 0, 0, 0, 0]);
  return Buffer.concat([head, payload]);
}

export const openRawSubscriber: OpenSubscriber = (url, channel, marker, counts) =>
  new Promise((resolve, reject) => {
    const u = new URL(url);
    const socket = connect({ host: u.hostname, port: Number(u.port), noDelay: true });
    let upgraded = false;
    let subscribed = false;
    let carry: Buffer | null = null;

    const fail = (why: string) => {
      if (subscribed) return;
      clearTimeout(timer);
      socket.destroy();
      reject(new Error(why));
    };
    const timer = setTimeout(() => fail(`no subscription_succeeded within ${SUBSCRIBE_TIMEOUT_MS / 1000} s`), SUBSCRIBE_TIMEOUT_MS);

    /** Frames before the subscription is confirmed: decoded and handled one by one. */
    const control = (text: string) => {
      const m = JSON.parse(text) as { event?: string; data?: unknown };
      if (m.event === 'pusher:connection_established') socket.write(clientText(subscribeFrame(channel)));
      else if (m.event === 'pusher_internal:subscription_succeeded') {
        subscribed = true;
        clearTimeout(timer);
        resolve({ close: () => socket.destroy() });
      } else if (m.event === 'pusher:error') fail(`pusher:error ${JSON.stringify(m.data)}`);
      else if (m.event === 'pusher:ping') socket.write(clientText('{"event":"pusher:pong","data":{}}'));
    };

    socket.on('connect', () => {
      socket.write(
        `GET ${u.pathname}${u.search} HTTP/1.1\r\nHost: ${u.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
      );
    });
    socket.on('data', (chunk: Buffer) => {
      const buf: Buffer = carry ? Buffer.concat([carry, chunk]) : chunk;
      carry = null;
      let p = 0;
      if (!upgraded) {
        const headEnd = buf.indexOf('\r\n\r\n');
        if (headEnd < 0) return void (carry = buf);
        const status = buf.toString('latin1', 0, Math.min(headEnd, 200)).split('\r\n', 1)[0];
        if (!/^HTTP\/1\.1 101 /.test(status)) return fail(`upgrade refused: ${status}`);
        upgraded = true;
        p = headEnd + 4;
      }
      // Server frames are unmasked and, from uWS, never fragmented.
      while (buf.length - p >= 2) {
        const op = buf[p] & 0x0f;
        let len = buf[p + 1] & 0x7f;
        let start = p + 2;
        if (len === 126) {
          if (buf.length - p < 4) break;
          len = buf.readUInt16BE(p + 2);
          start = p + 4;
        } else if (len === 127) {
          if (buf.length - p < 10) break;
          len = Number(buf.readBigUInt64BE(p + 2));
          start = p + 10;
        }
        const end = start + len;
        if (end > buf.length) break;
        if (op === OP_TEXT) {
          if (subscribed) {
            const at = buf.indexOf(marker, start);
            if (at !== -1 && at < end) counts.delivered++;
            else control(buf.toString('utf8', start, end));
          } else control(buf.toString('utf8', start, end));
        } else if (op === OP_PING) socket.write(PONG_CONTROL);
        else if (op === OP_CLOSE) {
          fail(`closed by the server with ${len >= 2 ? buf.readUInt16BE(start) : 'no code'}`);
          socket.destroy();
          return;
        }
        p = end;
      }
      if (p < buf.length) carry = buf.subarray(p); // node never reuses a chunk once emitted, a view is safe
    });
    socket.on('error', (err) => fail(err.message));
    socket.on('close', () => {
      if (subscribed && !counts.closing) counts.lost++;
      fail('connection closed before subscribing');
    });
  });
