// Clients for integration tests: the real pusher-js client, the real pusher server SDK, and a raw
// WebSocket client that records every frame for exact protocol assertions.
import Pusher from 'pusher';
import PusherJsModule from 'pusher-js';
import WebSocket from 'ws';
import { DEVELOPMENT_APP } from '../../src/config/schema.ts';

// pusher-js is CommonJS whose module.exports is the class; its typings describe an ES default export.
const PusherJs = PusherJsModule as unknown as typeof import('pusher-js').default;
export type PusherClient = import('pusher-js').default;
export interface AppCredentials {
  id: string;
  key: string;
  secret: string;
}

/** A pusher-js client exactly as the guide builds it; resolves once connected. */
export async function connectPusherJs(port: number, key: string = DEVELOPMENT_APP.key, options: Record<string, unknown> = {}): Promise<PusherClient> {
  const client = new PusherJs(key, {
    wsHost: '127.0.0.1',
    wsPort: port,
    forceTLS: false,
    cluster: 'local',
    enabledTransports: ['ws'],
    disableStats: true,
    ...options,
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('pusher-js did not connect')), 5000);
    client.connection.bind('connected', () => {
      clearTimeout(timer);
      resolve();
    });
  });
  return client;
}

/** Subscribes and resolves once pusher:subscription_succeeded arrives. */
export function subscribed(client: PusherClient, channel: string) {
  const ch = client.subscribe(channel);
  return new Promise<typeof ch>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no subscription_succeeded for ${channel}`)), 5000);
    ch.bind('pusher:subscription_succeeded', () => {
      clearTimeout(timer);
      resolve(ch);
    });
  });
}

export function serverSdk(port: number, app: AppCredentials = DEVELOPMENT_APP) {
  return new Pusher({ appId: app.id, key: app.key, secret: app.secret, host: '127.0.0.1', port: String(port), useTLS: false });
}

export interface Frame {
  event: string;
  channel?: string;
  data?: unknown;
  [k: string]: unknown;
}

export const V2_QUERY = 'protocol=2&client=js&version=2.2.0&flash=false';

/** A Protocol V2 client that follows the reference exactly (sockudo-js is not installable here). */
export function openV2(port: number, extraQuery = '', options: WebSocket.ClientOptions = {}): Promise<RawClient> {
  return RawClient.open(port, DEVELOPMENT_APP.key, V2_QUERY + extraQuery, options);
}

/** A raw WebSocket that keeps every text frame and its close code. */
export class RawClient {
  readonly frames: Frame[] = [];
  /** Every text frame as received, for byte-for-byte comparisons. */
  readonly texts: string[] = [];
  closeCode: number | null = null;
  private readonly ws: WebSocket;
  private readonly waiters = new Set<() => void>();

  private constructor(url: string, options: WebSocket.ClientOptions = {}) {
    this.ws = new WebSocket(url, options);
    this.ws.on('message', (data, isBinary) => {
      if (!isBinary) {
        this.texts.push(data.toString());
        this.frames.push(JSON.parse(this.texts[this.texts.length - 1]) as Frame);
      }
      this.wake();
    });
    this.ws.on('close', (code) => {
      this.closeCode = code;
      this.wake();
    });
    this.ws.on('error', () => this.wake());
  }

  static async open(
    port: number,
    key: string = DEVELOPMENT_APP.key,
    query = 'protocol=7&client=js&version=8.4.0&flash=false',
    options: WebSocket.ClientOptions = {},
  ): Promise<RawClient> {
    const c = new RawClient(`ws://127.0.0.1:${port}/app/${key}?${query}`, options);
    await c.next((f) => f.event.endsWith('connection_established') || f.event.endsWith(':error'));
    return c;
  }

  get socketId(): string {
    const f = this.frames.find((x) => x.event.endsWith('connection_established'));
    return (JSON.parse(f?.data as string) as { socket_id: string }).socket_id;
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  sendRaw(data: Buffer | string, binary = false): void {
    this.ws.send(data, { binary });
  }

  /** Resolves with the first frame (from `from` on) matching `match`. */
  async next(match: (f: Frame) => boolean, timeoutMs = 5000, from = 0): Promise<Frame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const f = this.frames.slice(from).find(match);
      if (f) return f;
      if (this.closeCode !== null) throw new Error(`socket closed (${this.closeCode}) before the expected frame`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no matching frame; got ${JSON.stringify(this.frames.slice(from))}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.add(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Sends a frame and waits for the reply matching `match` that arrives after it. */
  async request(frame: unknown, match: (f: Frame) => boolean): Promise<Frame> {
    const from = this.frames.length;
    this.send(frame);
    return this.next(match, 5000, from);
  }

  async closed(timeoutMs = 5000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    while (this.closeCode === null) {
      if (Date.now() > deadline) throw new Error('socket did not close');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 50);
        this.waiters.add(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return this.closeCode;
  }

  close(): void {
    this.ws.close();
  }

  /** Stops reading from the TCP socket, as a stalled client would; the server's buffer for it grows. */
  stopReading(): void {
    (this.ws as unknown as { _socket: { pause(): void } })._socket.pause();
  }

  resumeReading(): void {
    (this.ws as unknown as { _socket: { resume(): void } })._socket.resume();
  }

  terminate(): void {
    this.ws.terminate();
  }

  private wake(): void {
    const ws = [...this.waiters];
    this.waiters.clear();
    for (const w of ws) w();
  }
}

/** Signs channel subscriptions for the development app (no server needed for that). */
const DEVELOPMENT_SIGNER = new Pusher({ appId: DEVELOPMENT_APP.id, key: DEVELOPMENT_APP.key, secret: DEVELOPMENT_APP.secret, host: '127.0.0.1' });

/** A presence join of the development app as `userId`: the subscription_succeeded, or the pusher:error refusing it. */
export function joinPresence(c: RawClient, channel: string, userId: string): Promise<Frame> {
  const data = { user_id: userId };
  const { auth } = DEVELOPMENT_SIGNER.authorizeChannel(c.socketId, channel, data);
  return c.request({ event: 'pusher:subscribe', data: { channel, auth, channel_data: JSON.stringify(data) } }, (f) => f.event.endsWith('subscription_succeeded') || f.event === 'pusher:error');
}
