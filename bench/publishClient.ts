// Signed HTTP publishes over a fixed set of keep-alive connections, with a minimal HTTP/1.1 client on raw
// sockets: node:http costs the loader several times the CPU a uWS server spends on the same request, and
// the loader shares these 2 cores with the server, so a cheap client keeps the loader out of the figure.
import { randomUUID } from 'node:crypto';
import { type Socket, connect } from 'node:net';
import { loopbackHost } from './loopback.ts';
import { type AppCredentials, BENCH_APP, type PublishKind, SignedPublish } from './signing.ts';

export interface Answer {
  status: number;
  body: string;
}

/** One connection with at most one request in flight; reconnects when the server closed it. */
export class Connection {
  private socket: Socket | null = null;
  private buf: Buffer = Buffer.alloc(0);
  private settle: ((a: Answer | Error) => void) | null = null;

  constructor(
    private readonly host: string,
    private readonly port: number,
  ) {}

  request(bytes: string): Promise<Answer> {
    return new Promise((resolve, reject) => {
      this.settle = (a) => {
        this.settle = null;
        if (a instanceof Error) reject(a);
        else resolve(a);
      };
      this.buf = Buffer.alloc(0);
      (this.socket ?? this.open()).write(bytes);
    });
  }

  private open(): Socket {
    const s = connect({ host: this.host, port: this.port, noDelay: true });
    this.socket = s;
    s.on('data', (chunk: Buffer) => this.onData(s, chunk));
    s.on('error', (err) => this.drop(s, err));
    s.on('close', () => this.drop(s, new Error('connection closed before the answer')));
    return s;
  }

  private drop(s: Socket, err: Error): void {
    if (this.socket !== s) return;
    this.socket = null;
    s.destroy();
    this.settle?.(err);
  }

  private onData(s: Socket, chunk: Buffer): void {
    if (this.socket !== s) return;
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const headEnd = this.buf.indexOf('\r\n\r\n');
    if (headEnd < 0) return;
    const head = this.buf.toString('latin1', 0, headEnd);
    const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
    let body: string;
    if (length) {
      const end = headEnd + 4 + Number(length[1]);
      if (this.buf.length < end) return;
      body = this.buf.toString('utf8', headEnd + 4, end);
    } else if (/\r\ntransfer-encoding:\s*chunked/i.test(head)) {
      if (this.buf.lastIndexOf('0\r\n\r\n') !== this.buf.length - 5) return;
      body = this.buf.toString('utf8', headEnd + 4); // still chunk-framed; only read on errors
    } else {
      return void this.drop(s, new Error('answer without Content-Length or chunked body'));
    }
    const status = Number(head.slice(9, 12));
    if (/\r\nconnection:\s*close/i.test(head)) {
      // The server will close; the next request opens a new connection.
      this.socket = null;
      s.destroy();
    }
    this.buf = Buffer.alloc(0);
    this.settle?.({ status, body });
  }

  close(): void {
    this.socket?.destroy();
    this.socket = null;
  }
}

/** One body's signed request, rebuilt only when its signature changes (once per second). */
class CachedRequest {
  private path = '';
  private head = '';
  private tail = '';
  /** head + tail: the whole request when no header is added (the usual case: no string built per request). */
  private bytes = '';
  constructor(
    private readonly signed: SignedPublish,
    private readonly hostHeader: string,
  ) {}

  /** The request's bytes; `extraHeaders` ('' or lines ending in CRLF) go after the signed part's headers. */
  request(extraHeaders: string): string {
    const path = this.signed.path;
    if (path !== this.path) {
      const body = this.signed.body;
      this.path = path;
      this.head = `POST ${path} HTTP/1.1\r\nHost: ${this.hostHeader}\r\nContent-Type: application/json\r\n`;
      this.tail = `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
      this.bytes = this.head + this.tail;
    }
    return extraHeaders === '' ? this.bytes : this.head + extraHeaders + this.tail;
  }
}

export interface PublishClientOptions {
  kind?: PublishKind;
  app?: AppCredentials;
  /**
   * Every request carries its own X-Idempotency-Key (idempotent publishing, README "Idempotent publishing"): the
   * keys start with a random prefix, so no run repeats an earlier run's key within the server's window.
   */
  idempotencyKeys?: boolean;
}

export class PublishClient {
  ok = 0;
  failed = 0;
  inFlight = 0;
  firstError: string | null = null;
  private readonly idle: Connection[];
  private readonly all: Connection[];
  private readonly waiting: ((c: Connection) => void)[] = [];
  private readonly requests: CachedRequest[];
  private readonly keyPrefix: string | undefined;
  private keysUsed = 0;

  /**
   * `connections` bounds the requests in flight: one per connection, no pipelining. With several `bodies`
   * each request takes one at random (a pool of batches to random channels, each signed once per second).
   */
  constructor(origin: string, connections: number, bodies: string | readonly string[], options: PublishClientOptions = {}) {
    const url = new URL(origin);
    const host = loopbackHost(url);
    this.all = Array.from({ length: connections }, () => new Connection(host, Number(url.port || 80)));
    this.idle = [...this.all];
    const { kind = 'events', app = BENCH_APP } = options;
    this.requests = (typeof bodies === 'string' ? [bodies] : bodies).map((b) => new CachedRequest(new SignedPublish(app, b, kind), url.host));
    this.keyPrefix = options.idempotencyKeys ? randomUUID() : undefined;
  }

  private requestBytes(): string {
    const r = this.requests.length === 1 ? this.requests[0] : this.requests[Math.floor(Math.random() * this.requests.length)];
    return r.request(this.keyPrefix === undefined ? '' : `X-Idempotency-Key: ${this.keyPrefix}-${this.keysUsed++}\r\n`);
  }

  /** One publish; resolves true on HTTP 200. Never rejects. */
  async publish(): Promise<boolean> {
    this.inFlight++;
    const conn = this.idle.pop() ?? (await new Promise<Connection>((resolve) => this.waiting.push(resolve)));
    try {
      const answer = await conn.request(this.requestBytes());
      if (answer.status === 200) {
        this.ok++;
        return true;
      }
      this.fail(`HTTP ${answer.status}: ${answer.body.slice(0, 200)}`);
      return false;
    } catch (err) {
      this.fail((err as Error).message);
      return false;
    } finally {
      this.inFlight--;
      const next = this.waiting.shift();
      if (next) next(conn);
      else this.idle.push(conn);
    }
  }

  private fail(why: string): void {
    this.failed++;
    this.firstError ??= why;
  }

  close(): Promise<void> {
    for (const c of this.all) c.close();
    return Promise.resolve();
  }
}

/**
 * A JSON publish body for `channel` whose frame carries `marker` (the event name) and `padding` bytes of
 * data; `tags` (Protocol V2, for subscription filters) only when given.
 */
export function publishBody(channel: string, marker: string, padding: number, tags?: Readonly<Record<string, string>>): string {
  const data = JSON.stringify({ pad: 'x'.repeat(padding) });
  return JSON.stringify(tags === undefined ? { name: marker, channel, data } : { name: marker, channel, data, tags });
}

/** A batch_events body of one event (marker as its name, `padding` bytes of data) per channel given. */
export function batchBody(channels: readonly string[], marker: string, padding: number): string {
  const data = JSON.stringify({ pad: 'x'.repeat(padding) });
  return JSON.stringify({ batch: channels.map((channel) => ({ name: marker, channel, data })) });
}
