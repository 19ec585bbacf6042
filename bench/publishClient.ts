// Signed HTTP publishes over a pool of keep-alive connections (undici), counting answers by outcome.
import { Pool } from 'undici';
import { type AppCredentials, BENCH_APP, SignedPublish } from './signing.ts';

const HEADERS = { 'content-type': 'application/json' };

export class PublishClient {
  ok = 0;
  failed = 0;
  inFlight = 0;
  firstError: string | null = null;
  private readonly pool: Pool;
  private readonly signed: SignedPublish;

  /** `connections` bounds the requests in flight: one at a time per connection, no pipelining. */
  constructor(origin: string, connections: number, body: string, app: AppCredentials = BENCH_APP) {
    // A server that answers `Connection: close` (soketi does) costs a new connection per request; undici
    // follows the header, so that cost is measured as part of the server's behaviour.
    this.pool = new Pool(origin, { connections, pipelining: 1, keepAliveTimeout: 30_000 });
    this.signed = new SignedPublish(app, body);
  }

  /** One publish; resolves true on HTTP 200. Never rejects. */
  async publish(): Promise<boolean> {
    this.inFlight++;
    try {
      const res = await this.pool.request({ path: this.signed.path, method: 'POST', headers: HEADERS, body: this.signed.body });
      if (res.statusCode === 200) {
        await res.body.dump();
        this.ok++;
        return true;
      }
      const text = await res.body.text();
      this.fail(`HTTP ${res.statusCode}: ${text.slice(0, 200)}`);
      return false;
    } catch (err) {
      this.fail((err as Error).message);
      return false;
    } finally {
      this.inFlight--;
    }
  }

  private fail(why: string): void {
    this.failed++;
    this.firstError ??= why;
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}

/** A JSON publish body for `channel` whose frame carries `marker` (the event name) and `padding` bytes of data. */
export function publishBody(channel: string, marker: string, padding: number): string {
  return JSON.stringify({ name: marker, channel, data: JSON.stringify({ pad: 'x'.repeat(padding) }) });
}
