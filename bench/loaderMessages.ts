// The messages between the benchmark's parent process and its loader child processes (node:child_process IPC).

/** `raw`: a minimal frame scanner on net sockets (default, cheapest); `ws`: the ws package. */
export type SubscriberClientKind = 'raw' | 'ws';

export type SubscriberCommand =
  | { type: 'connect'; url: string; count: number; channel: string; marker: string; concurrency: number; client: SubscriberClientKind }
  | { type: 'close' };

export type SubscriberReport =
  | { type: 'ready'; subscribed: number; failed: number; firstError: string | null }
  | { type: 'count'; delivered: number; lostSockets: number };

export type HttpLoadCommand =
  | { type: 'run'; origin: string; connections: number; body: string }
  | { type: 'snapshot'; id: number }
  | { type: 'stop' };

export type HttpLoadReport = { type: 'snapshot'; id: number; ok: number; failed: number; firstError: string | null };
