// Signed HTTP publishes over a pool of keep-alive connections (node:http Agent), counting answers by outcome.
import { Agent, request } from 'node:http';
import { type AppCredentials, BENCH_APP, SignedPublish } from './signing.ts';

export class PublishClient {
  ok = 0;
  failed = 0;
  inFlight = 0;
  firstError: string | null = null;
  private readonly agent: Agent;
  private readonly signed: SignedPublish;
  private readonly headers: Record<string, string>;
  private readonly host: string;
  private readonly port: number;

  /** `connections` bounds the sockets: a request beyond it waits in the agent's queue. */
  constructor(origin: string, connections: number, body: string, app: AppCredentials = BENCH_APP) {
    const url = new URL(origin);
    this.host = url.hostname;
    this.port = Number(url.port);
    // A server that answers `Connection: close` (soketi does) costs a new connection per request; the agent
    // follows the header, so that cost is measured as part of the server's behaviour.
    this.agent = new Agent({ keepAlive: true, maxSockets: connections, maxFreeSockets: connections });
    this.signed = new SignedPublish(app, body);
    this.headers = { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) };
  }

  /** One publish; resolves true on HTTP 200. Never rejects. */
  publish(): Promise<boolean> {
    this.inFlight++;
    return new Promise((resolve) => {
      let settled = false;
      const done = (ok: boolean, why?: string) => {
        if (settled) return;
        settled = true;
        this.inFlight--;
        if (ok) this.ok++;
        else {
          this.failed++;
          this.firstError ??= why ?? 'unknown';
        }
        resolve(ok);
      };
      const req = request(
        { host: this.host, port: this.port, path: this.signed.path, method: 'POST', agent: this.agent, headers: this.headers },
        (res) => {
          res.on('error', (err) => done(false, err.message));
          if (res.statusCode === 200) {
            res.on('end', () => done(true));
            res.resume();
            return;
          }
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (text += c));
          res.on('end', () => done(false, `HTTP ${res.statusCode}: ${text.slice(0, 200)}`));
        },
      );
      req.on('error', (err) => done(false, err.message));
      req.end(this.signed.body);
    });
  }

  close(): Promise<void> {
    this.agent.destroy();
    return Promise.resolve();
  }
}

/** A JSON publish body for `channel` whose frame carries `marker` (the event name) and `padding` bytes of data. */
export function publishBody(channel: string, marker: string, padding: number): string {
  return JSON.stringify({ name: marker, channel, data: JSON.stringify({ pad: 'x'.repeat(padding) }) });
}
