// The piscina pool that runs push crypto off the primary thread, with one typed method per task.
import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import type { EncryptedPush, JwtTask, VapidKeys, WebPushItem } from './cryptoTasks.ts';

const TASK_FILE = new URL('../../workers/push-crypto.mjs', import.meta.url).href;
/** Items per pool task: big enough to amortise the message round trip, small enough to spread over threads. */
const WEBPUSH_CHUNK = 64;

export class CryptoPool {
  private readonly pool: Piscina;

  constructor(threads: number) {
    const n = threads > 0 ? threads : Math.min(4, availableParallelism());
    this.pool = new Piscina({ filename: TASK_FILE, minThreads: 0, maxThreads: n, idleTimeout: 30_000 });
  }

  async encryptWebPush(items: WebPushItem[], vapid: VapidKeys): Promise<(EncryptedPush | { error: string })[]> {
    const chunks: Promise<(EncryptedPush | { error: string })[]>[] = [];
    for (let i = 0; i < items.length; i += WEBPUSH_CHUNK) {
      chunks.push(this.pool.run({ items: items.slice(i, i + WEBPUSH_CHUNK), vapid }, { name: 'encryptWebPush' }));
    }
    return (await Promise.all(chunks)).flat();
  }

  signJwt(task: JwtTask): Promise<string> {
    return this.pool.run(task, { name: 'signJwt' });
  }

  async close(): Promise<void> {
    await this.pool.close({ force: true });
  }
}
