// A WebSocket client on a raw TCP socket: the upgrade, a walker over server frames that hands each text
// frame's bytes to the caller undecoded, answers to native pings, and masked text frames out. Shared by
// the fan-out subscribers (which only scan for a marker) and the churn loader (which reads few frames).
import { type Socket, connect } from 'node:net';
import { loopbackHost } from './loopback.ts';

const OP_TEXT = 0x1;
const OP_CLOSE = 0x8;
const OP_PING = 0x9;
/** An empty pong, masked with a zero key (clients must mask; the key's value is not checked by servers). */
const PONG_CONTROL = Buffer.from([0x8a, 0x80, 0, 0, 0, 0]);

/** A masked text frame from the client, with a zero mask key so the payload goes as is. */
export function clientText(text: string): Buffer {
  const payload = Buffer.from(text);
  const n = payload.length;
  const head = n < 126 ? Buffer.from([0x81, 0x80 | n, 0, 0, 0, 0]) : Buffer.from([0x81, 0x80 | 126, n >> 8, n & 0xff, 0, 0, 0, 0]);
  return Buffer.concat([head, payload]);
}

export interface RawSocketHandlers {
  /** One text frame from the server; its payload is `buf[start, end)` (do not keep `buf`). */
  text(buf: Buffer, start: number, end: number): void;
  /** The connection ended without `destroy()` being called (refused upgrade, close frame, error, EOF); once. */
  end(why: string): void;
}

export class RawSocket {
  private readonly socket: Socket;
  private upgraded = false;
  private ended = false;
  private carry: Buffer | null = null;

  constructor(url: string, private readonly on: RawSocketHandlers) {
    const u = new URL(url);
    this.socket = connect({ host: loopbackHost(u), port: Number(u.port || 80), noDelay: true });
    this.socket.on('connect', () => {
      this.socket.write(
        `GET ${u.pathname}${u.search} HTTP/1.1\r\nHost: ${u.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
      );
    });
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    this.socket.on('error', (err) => this.finish(err.message));
    this.socket.on('close', () => this.finish('connection closed'));
  }

  /** Sends bytes as they are (one or more frames built with `clientText`). */
  write(frames: Buffer): void {
    this.socket.write(frames);
  }

  send(text: string): void {
    this.socket.write(clientText(text));
  }

  /** Drops the connection without a closing handshake; `end` is not called. */
  destroy(): void {
    this.ended = true;
    this.socket.destroy();
  }

  private finish(why: string): void {
    if (this.ended) return;
    this.ended = true;
    this.socket.destroy();
    this.on.end(why);
  }

  private onData(chunk: Buffer): void {
    const buf: Buffer = this.carry ? Buffer.concat([this.carry, chunk]) : chunk;
    this.carry = null;
    let p = 0;
    if (!this.upgraded) {
      const headEnd = buf.indexOf('\r\n\r\n');
      if (headEnd < 0) return void (this.carry = buf);
      const status = buf.toString('latin1', 0, Math.min(headEnd, 200)).split('\r\n', 1)[0];
      if (!/^HTTP\/1\.1 101 /.test(status)) return this.finish(`upgrade refused: ${status}`);
      this.upgraded = true;
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
        this.on.text(buf, start, end);
        if (this.ended) return;
      } else if (op === OP_PING) this.socket.write(PONG_CONTROL);
      else if (op === OP_CLOSE) return this.finish(`closed by the server with ${len >= 2 ? buf.readUInt16BE(start) : 'no code'}`);
      p = end;
    }
    if (p < buf.length) this.carry = buf.subarray(p); // node never reuses a chunk once emitted, a view is safe
  }
}
