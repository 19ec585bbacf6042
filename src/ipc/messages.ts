// THE union of every message between the primary thread and the uWS worker threads.
// Dispatch on `type` with an exhaustive switch so a new message breaks the build until it is handled.
import type { Config } from '../config/schema.ts';

/** What a worker is started with (structured-cloned into workerData). */
export interface WorkerInit {
  index: number;
  workerCount: number;
  config: Config;
  /** Port to listen on; the first worker gets the configured one (maybe 0), the rest the port it reported. */
  port: number;
  /** Int32 connection counters shared by all threads (see apps/connectionQuota.ts). */
  connectionCounts: SharedArrayBuffer;
  /** Float64 metric counters, one region per worker (see metrics/workerCounters.ts). */
  metricCounters: SharedArrayBuffer;
}

/** One frame to hand to uWS under a topic; `exclude` is a socket_id that must not receive it. */
export interface TopicFrame {
  /** Index of the app in config.apps (for metrics). */
  app: number;
  topic: string;
  frame: string;
  exclude?: string;
}

export interface HttpRequestMessage {
  type: 'http-request';
  requestId: number;
  method: string;
  path: string;
  query: string;
  contentType: string;
  body: string;
  remoteAddress: string;
}

export type WorkerToPrimary =
  | { type: 'ready'; index: number; port: number; workerPort?: number }
  | HttpRequestMessage
  | { type: 'drained'; index: number };

export type PrimaryToWorker =
  | { type: 'publish'; frames: TopicFrame[] }
  | { type: 'http-response'; requestId: number; status: number; contentType: string; body: string }
  /** Stop taking WebSocket upgrades, close sockets with 4200 over `windowMs`, report `drained`. */
  | { type: 'drain'; windowMs: number }
  /** Close the listen sockets and let the thread end. */
  | { type: 'stop' };

export function assertNever(m: never): never {
  throw new Error(`unhandled message ${JSON.stringify(m)}`);
}
