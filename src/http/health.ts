// Health endpoints on the public port, answered by whichever worker gets the request:
// /live (the process runs), /ready (accepting new work), /up and /up/{appId} (Sockudo's shapes), and /usage
// (system memory, Sockudo's shape).
import { freemem, totalmem } from 'node:os';
import type { Config } from '../config/schema.ts';

export interface HealthAnswer {
  status: number;
  body: string;
  header?: string;
  /** For `/up/{appId}` of a configured app: its index (the HTTP metrics count the call under it). */
  app?: number;
}

export function healthResponse(path: string, config: Config, draining: boolean, degraded = false): HealthAnswer {
  // Sockudo answers /live with an empty body.
  if (path === '/live') return { status: 200, body: '' };
  const app = path.startsWith('/up/') ? appIndexOf(path.slice('/up/'.length), config) : -1;
  const answer = (status: number, body: string): HealthAnswer => (app < 0 ? { status, body, header: body } : { status, body, header: body, app });
  if (draining) return answer(503, 'DRAINING');
  // Degraded (Redis unreachable): this host still serves its own clients, so it stays ready.
  if (path === '/up' && degraded) return answer(200, 'DEGRADED');
  if (path === '/ready' || path === '/up') return answer(200, 'OK');
  if (app < 0) return answer(404, 'NOT_FOUND');
  return config.apps[app].enabled ? answer(200, 'OK') : answer(503, 'ERROR');
}

/** The index of the app a `/up/{appId}` path names (percent-decoded), or -1. */
function appIndexOf(encoded: string, config: Config): number {
  try {
    const appId = decodeURIComponent(encoded);
    return config.apps.findIndex((a) => a.id === appId);
  } catch {
    return -1;
  }
}

/** GET /usage: the system's memory in bytes, `{"memory":{"free","used","total","percent"}}` as Sockudo answers. */
export function usageBody(): string {
  const total = totalmem();
  const free = freemem();
  const used = total - free;
  return JSON.stringify({ memory: { free, used, total, percent: total > 0 ? (used / total) * 100 : 0 } });
}
