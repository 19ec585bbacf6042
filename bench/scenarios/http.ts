// HTTP publish: signed POST /apps/{id}/events to a channel nobody subscribes to, many keep-alive requests in
// flight from several loader processes. Reports accepted publishes per second and server CPU per publish.
// With idempotency keys every request carries a fresh X-Idempotency-Key (each one a new key, so each publishes).
import { HttpLoaders } from '../httpLoaders.ts';
import { publishBody } from '../publishClient.ts';
import { type RunningTarget, sleep } from '../targets.ts';
import { MeasureWindow, type WindowCpu } from '../window.ts';

export interface HttpOptions {
  loaderProcesses: number;
  /** Requests in flight over all loader processes (one per keep-alive connection). */
  connections: number;
  warmupSeconds: number;
  durationSeconds: number;
  padding: number;
  /** Every publish carries its own X-Idempotency-Key: what idempotent publishing costs. */
  idempotencyKeys: boolean;
}

export interface HttpResult extends WindowCpu {
  scenario: 'http';
  connections: number;
  idempotencyKeys: boolean;
  publishes: number;
  publishesPerSec: number;
  failures: number;
  serverCpuUsPerPublish: number;
  firstError: string | null;
}

export async function runHttp(target: RunningTarget, o: HttpOptions): Promise<HttpResult> {
  const body = publishBody('bench-empty', 'bench-http', o.padding);
  const perProcess = Math.max(1, Math.round(o.connections / o.loaderProcesses));
  const loaders = await HttpLoaders.start(target.endpoint.httpOrigin, o.loaderProcesses, perProcess, body, target.endpoint.app, o.idempotencyKeys);
  try {
    await sleep(o.warmupSeconds * 1000);
    const before = await loaders.snapshot();
    const window = new MeasureWindow(target.pid, loaders.pids);
    await sleep(o.durationSeconds * 1000);
    const after = await loaders.snapshot();
    const cpu = window.end();
    const publishes = after.ok - before.ok;
    return {
      scenario: 'http',
      connections: perProcess * o.loaderProcesses,
      idempotencyKeys: o.idempotencyKeys,
      publishes,
      publishesPerSec: publishes / cpu.seconds,
      failures: after.failed - before.failed,
      serverCpuUsPerPublish: publishes > 0 ? (cpu.serverCpuSeconds * 1e6) / publishes : Number.NaN,
      firstError: after.firstError,
      ...cpu,
    };
  } finally {
    await loaders.stop();
  }
}
