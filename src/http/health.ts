// Health endpoints on the public port, answered by whichever worker gets the request:
// /live (the process runs), /ready (accepting new work), /up and /up/{appId} (Sockudo's shapes), and /usage
// (system memory, Sockudo's shape).
import { freemem, totalmem } from 'node:os';
import type { Config } from '../config/schema.ts';

export interface HealthAnswer {
  status: number;
  body: string;
  header?: string;
}

export function healthResponse(path: string, config: Config, draining: boolean, degraded = false): HealthAnswer {
  // Sockudo answers /live with an empty body.
  if (path === '/live') return { status: 200, body: '' };
  if (draining) return { status: 503, body: 'DRAINING', header: 'DRAINING' };
  // Degraded (Redis unreachable): this host still serves its own clients, so it stays ready.
  if (path === '/up' && degraded) return { status: 200, body: 'DEGRADED', header: 'DEGRADED' };
  if (path === '/ready' || path === '/up') return { status: 200, body: 'OK', header: 'OK' };
  let appId: string;
  try {
    appId = decodeURIComponent(path.slice('/up/'.length));
  } catch {
    return { status: 404, body: 'NOT_FOUND', header: 'NOT_FOUND' };
  }
  const app = config.apps.find((a) => a.id === appId);
  if (!app) return { status: 404, body: 'NOT_FOUND', header: 'NOT_FOUND' };
  if (!app.enabled) return { status: 503, body: 'ERROR', header: 'ERROR' };
  return { status: 200, body: 'OK', header: 'OK' };
}

/** GET /usage: the system's memory in bytes, `{"memory":{"free","used","total","percent"}}` as Sockudo answers. */
export function usageBody(): string {
  const total = totalmem();
  const free = freemem();
  const used = total - free;
  return JSON.stringify({ memory: { free, used, total, percent: total > 0 ? (used / total) * 100 : 0 } });
}
