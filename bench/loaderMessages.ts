// The messages between the benchmark's parent process and its loader child processes (node:child_process IPC).
import type { AppCredentials } from './signing.ts';

/** `raw`: a minimal frame scanner on net sockets (default, cheapest); `ws`: the ws package. */
export type SubscriberClientKind = 'raw' | 'ws';

export type SubscriberCommand =
  | {
      type: 'connect';
      url: string;
      /** The same server with `?protocol=2`, for the V2 share of the subscribers. */
      v2Url: string;
      count: number;
      /** Fleet-wide index of this process's first subscriber (channel and protocol follow the index). */
      offset: number;
      /** '' (IDLE): connect only, subscribe to nothing (the connect scenario's idle connections). */
      channel: string;
      /** 0: everyone subscribes to `channel`; n: subscriber i subscribes to `${channel}-${i % n}`. */
      channels: number;
      /** Fraction (0..1) of the subscribers, spread evenly over the indexes, that speak Protocol V2. */
      v2Share: number;
      marker: string;
      /** The V2 subscribers subscribe with `filter` and count frames carrying `marker` instead of the one above. */
      v2Filter?: { filter: object; marker: string };
      /** Handshakes in flight at once in this process. */
      concurrency: number;
      client: SubscriberClientKind;
      /**
       * Several hosts: subscriber i connects to `hosts[floor(i / max(channels, 1)) % hosts.length]` instead of
       * `url`/`v2Url`, so with n channels every channel has the same number of subscribers on each host.
       */
      hosts?: { url: string; v2Url: string }[];
    }
  | { type: 'close' };

/**
 * `alive` is sent once the process has loaded (so connecting can be timed apart from start-up); `ready`
 * answers each `connect` (a process may get several, one per stage) with that command's counts.
 */
export type SubscriberReport =
  | { type: 'alive' }
  | { type: 'ready'; subscribed: number; v2Subscribed: number; failed: number; firstError: string | null }
  | { type: 'count'; delivered: number; lostSockets: number };

export type HttpLoadCommand =
  | { type: 'run'; origin: string; connections: number; body: string; app: AppCredentials; idempotencyKeys: boolean }
  | { type: 'snapshot'; id: number }
  | { type: 'stop' };

export type HttpLoadReport = { type: 'snapshot'; id: number; ok: number; failed: number; firstError: string | null };

/**
 * `private`: auth over socket_id:channel; `presence`: auth over socket_id:channel:channel_data, a channel per
 * socket; `presence-rooms`: the same, with `roomSize` sockets (users) to a channel.
 */
export type ChurnKind = 'private' | 'presence' | 'presence-rooms';

export type ChurnCommand =
  | { type: 'connect'; url: string; count: number; offset: number; kind: ChurnKind; roomSize: number; concurrency: number; app: AppCredentials }
  | { type: 'start' }
  | { type: 'snapshot'; id: number }
  | { type: 'stop' };

export type ChurnReport =
  | { type: 'ready'; connected: number; failed: number; firstError: string | null }
  | { type: 'snapshot'; id: number; pairs: number; memberEvents: number; errors: number; lostSockets: number; firstError: string | null };


/** The latency probes' process: a few subscribers that timestamp every marked frame they receive. */
export type ProbeCommand =
  | { type: 'open'; url: string; channel: string; count: number; marker: string }
  /** Drops every probe and forgets every sample. */
  | { type: 'drop' }
  /** The samples of the publishes numbered from..to-1 (`countOnly`: just how many arrived). */
  | { type: 'collect'; id: number; from: number; to: number; countOnly: boolean }
  | { type: 'close' };

export type ProbeReport =
  | { type: 'opened'; subscribed: number; failed: number; firstError: string | null }
  | { type: 'dropped' }
  /** `seqs[i]` arrived `latenciesUs[i]` µs after the send time it carried; `received` = seqs.length. */
  | { type: 'samples'; id: number; received: number; seqs: number[]; latenciesUs: number[]; lostSockets: number };
