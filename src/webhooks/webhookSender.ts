// Webhook delivery (§8): Pusher-format signed POSTs, batched and ordered per app+target, retried with
// backoff, with a bounded queue per target so a dead endpoint costs at most `maxQueue` events of memory.
import { setTimeout as sleep } from 'node:timers/promises';
import { sign } from '../auth/hmac.ts';
import type { Logger } from '../log.ts';

export type WebhookEvent =
  | { name: 'channel_occupied' | 'channel_vacated'; channel: string }
  | { name: 'member_added' | 'member_removed'; channel: string; user_id: string }
  /** A V2 presence_update: the member's new user_info, as Sockudo sends it. */
  | { name: 'member_updated'; channel: string; user_id: string; user_info: unknown }
  | { name: 'client_event'; channel: string; event: string; data: string; socket_id: string; user_id?: string }
  | { name: 'cache_miss'; channel: string }
  | { name: 'subscription_count'; channel: string; subscription_count: number };

export interface WebhookTarget {
  url: string;
  /** Event names this target receives; absent means all. */
  event_types?: string[];
  /** Only events of channels that match every rule given (a regular expression for the pattern). */
  filter?: { channel_prefix?: string; channel_suffix?: string; channel_pattern?: string };
  /** Sent with every request to the target, besides the signed headers. */
  headers?: Readonly<Record<string, string>>;
}

export interface WebhookApp {
  id: string;
  key: string;
  secret: string;
  webhooks: readonly WebhookTarget[];
}

export interface WebhookMetrics {
  sent(appId: string, events: number): void;
  failed(appId: string): void;
  dropped(appId: string, events: number): void;
}

export interface WebhookSenderOptions {
  apps: readonly WebhookApp[];
  log: Logger;
  metrics: WebhookMetrics;
  /** How long events of one app+target are collected before a request goes out. */
  batchMs?: number;
  /** Events per request; a full batch goes out without waiting for `batchMs`. */
  maxBatch?: number;
  /** Events queued per app+target; beyond it new events are dropped. */
  maxQueue?: number;
  /** Attempts per request, the first included (Sockudo: no limit but the time budget). */
  maxAttempts?: number;
  /** How long a request may keep being retried, from its first attempt (Sockudo's `max_elapsed_time_ms`). */
  maxElapsedMs?: number;
  /** The first retry's delay, doubling per retry up to `maxBackoffMs`. */
  baseBackoffMs?: number;
  maxBackoffMs?: number;
  /** Per attempt, response body included. */
  timeoutMs?: number;
}

// A Retry-After of an hour would stall the target's queue for an hour; past this we retry sooner.
const MAX_RETRY_AFTER_MS = 60_000;
const DROP_WARN_INTERVAL_MS = 1_000;

/**
 * Delay before retry number `retry` (0-based): base × 2^retry, at most `maxMs`, spread ±50% so targets that failed
 * together do not retry in lockstep.
 */
export function backoffDelay(retry: number, baseMs: number, random: () => number = Math.random, maxMs = Number.POSITIVE_INFINITY): number {
  return Math.round(Math.min(baseMs * 2 ** retry, maxMs) * (0.5 + random()));
}

/** Statuses worth another attempt, as Sockudo retries them (with transport errors); any other non-2xx is final. */
const RETRIED_STATUSES = new Set([408, 409, 425, 429]);

/** A numeric Retry-After in ms; HTTP-date and garbage yield undefined (the caller falls back to backoff). */
function retryAfterMs(header: string | null): number | undefined {
  if (header === null || !/^\s*\d+(\.\d+)?\s*$/.test(header)) return undefined;
  return Math.min(Number(header) * 1000, MAX_RETRY_AFTER_MS);
}

/** Origin and path only: query strings of webhook URLs often carry tokens, which must stay out of logs. */
function redact(url: string): string {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname}`;
  } catch {
    return '<invalid url>';
  }
}

function describeError(err: unknown): string {
  if (err instanceof Error) {
    const cause = err.cause instanceof Error ? `: ${err.cause.message}` : '';
    return `${err.name}: ${err.message}${cause}`;
  }
  return String(err);
}

type Outcome = { ok: true } | { ok: false; retry: boolean; delayMs?: number; reason: string };

/** One app+target: its pending events, its batch timer and its single drain loop. */
class TargetQueue {
  readonly events: WebhookEvent[] = [];
  /** When each queued event happened (ms): a batch's `time_ms` is its first event's, however late it is sent. */
  readonly happenedAt: number[] = [];
  readonly logUrl: string;
  private readonly types: ReadonlySet<string> | undefined;
  timer: ReturnType<typeof setTimeout> | undefined;
  /** Set while a drain loop runs; the loop is the only sender, which keeps requests ordered. */
  draining: Promise<void> | undefined;
  droppedSinceWarn = 0;
  lastDropWarnAt = -Infinity;

  private readonly channelRule: ((channel: string) => boolean) | undefined;

  constructor(
    readonly app: WebhookApp,
    readonly url: string,
    eventTypes: readonly string[] | undefined,
    filter: WebhookTarget['filter'],
    /** The target's own headers, sent with the signed ones. */
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    this.logUrl = redact(url);
    this.types = eventTypes ? new Set(eventTypes) : undefined;
    this.channelRule = channelRule(filter);
  }

  accepts(event: WebhookEvent): boolean {
    return (this.types === undefined || this.types.has(event.name)) && (this.channelRule === undefined || this.channelRule(event.channel));
  }
}

/** A target's channel filter as one test: every rule given must hold. */
function channelRule(filter: WebhookTarget['filter']): ((channel: string) => boolean) | undefined {
  if (!filter) return undefined;
  const { channel_prefix: prefix, channel_suffix: suffix, channel_pattern: pattern } = filter;
  if (prefix === undefined && suffix === undefined && pattern === undefined) return undefined;
  const re = pattern === undefined ? undefined : new RegExp(pattern);
  return (channel) => (prefix === undefined || channel.startsWith(prefix)) && (suffix === undefined || channel.endsWith(suffix)) && (re === undefined || re.test(channel));
}

export class WebhookSender {
  // Only apps with at least one target are here, so emit() for any other app is one map miss.
  private readonly byApp = new Map<string, TargetQueue[]>();
  private readonly log: Logger;
  private readonly metrics: WebhookMetrics;
  private readonly batchMs: number;
  private readonly maxBatch: number;
  private readonly maxQueue: number;
  private readonly maxAttempts: number;
  private readonly maxElapsedMs: number;
  private readonly baseBackoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly timeoutMs: number;
  private stopped = false;

  constructor(opts: WebhookSenderOptions) {
    this.log = opts.log;
    this.metrics = opts.metrics;
    this.batchMs = opts.batchMs ?? 50;
    // Sockudo's defaults: batches of 100; retries for 300 s from 1 s, doubling to 60 s; 10 s per request.
    this.maxBatch = Math.max(1, opts.maxBatch ?? 100);
    this.maxQueue = Math.max(1, opts.maxQueue ?? 10_000);
    this.maxAttempts = Math.max(1, opts.maxAttempts ?? Number.POSITIVE_INFINITY);
    this.maxElapsedMs = opts.maxElapsedMs ?? 300_000;
    this.baseBackoffMs = opts.baseBackoffMs ?? 1_000;
    this.maxBackoffMs = opts.maxBackoffMs ?? 60_000;
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    for (const app of opts.apps) {
      if (app.webhooks.length === 0) continue;
      this.byApp.set(
        app.id,
        app.webhooks.map((t) => new TargetQueue(app, t.url, t.event_types, t.filter, t.headers)),
      );
    }
  }

  /** Queues `event` for every target of the app that wants it. Never throws, never waits. */
  emit(appId: string, event: WebhookEvent): void {
    const targets = this.byApp.get(appId);
    if (!targets) return;
    try {
      for (const q of targets) {
        if (!q.accepts(event)) continue;
        if (this.stopped || q.events.length >= this.maxQueue) {
          this.drop(q);
          continue;
        }
        q.events.push(event);
        q.happenedAt.push(Date.now());
        if (q.draining) continue; // the running loop sends it after the current request
        if (q.events.length >= this.maxBatch) this.startDrain(q);
        else q.timer ??= setTimeout(() => this.startDrain(q), this.batchMs);
      }
    } catch (err) {
      // Only a throwing metrics callback or logger can get here; webhooks must not break the caller.
      this.log.error({ appId, err }, 'webhook emit failed');
    }
  }

  /** Sends everything queued now (without waiting for the batch window) and waits until every target is idle. */
  async flush(): Promise<void> {
    const pending: Promise<void>[] = [];
    for (const targets of this.byApp.values()) for (const q of targets) pending.push(this.startDrain(q));
    await Promise.all(pending);
  }

  /** Refuses further events (they count as dropped), delivers what is queued, and leaves no timers behind. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.flush();
    for (const targets of this.byApp.values()) {
      for (const q of targets) {
        clearTimeout(q.timer);
        q.timer = undefined;
      }
    }
  }

  private startDrain(q: TargetQueue): Promise<void> {
    if (q.timer !== undefined) {
      clearTimeout(q.timer);
      q.timer = undefined;
    }
    if (!q.draining && q.events.length > 0) q.draining = this.drain(q);
    return q.draining ?? Promise.resolve();
  }

  private async drain(q: TargetQueue): Promise<void> {
    // The first await comes before `finally`, so `draining` is always cleared after startDrain set it.
    try {
      do {
        try {
          const [happenedAt] = q.happenedAt.splice(0, this.maxBatch);
          await this.deliver(q, q.events.splice(0, this.maxBatch), happenedAt);
        } catch (err) {
          // deliver() handles every expected failure; only a throwing logger or metrics callback lands
          // here. The batch is lost, but the loop goes on so later events are not stranded.
          this.log.error({ appId: q.app.id, url: q.logUrl, err }, 'webhook delivery crashed');
        }
      } while (q.events.length > 0);
    } finally {
      q.draining = undefined;
    }
  }

  /** One batch: signed once, then attempted until it succeeds, fails for good, or runs out of attempts. */
  private async deliver(q: TargetQueue, events: WebhookEvent[], happenedAt: number): Promise<void> {
    const appId = q.app.id;
    // As Pusher and Sockudo: the time the events happened (the batch's first), not when a slow target let it go.
    const body = JSON.stringify({ time_ms: happenedAt, events });
    const headers = {
      ...q.headers,
      'Content-Type': 'application/json', // exactly this: the pusher SDK rejects anything else, charset included
      'X-Pusher-Key': q.app.key,
      'X-Pusher-Signature': sign(q.app.secret, body),
    };
    const started = Date.now();
    for (let attempt = 1; ; attempt++) {
      const outcome = await this.attempt(q.url, body, headers);
      if (outcome.ok) {
        this.metrics.sent(appId, events.length);
        return;
      }
      const delayMs = outcome.retry ? (outcome.delayMs ?? backoffDelay(attempt - 1, this.baseBackoffMs, Math.random, this.maxBackoffMs)) : 0;
      if (!outcome.retry || attempt >= this.maxAttempts || Date.now() + delayMs - started > this.maxElapsedMs) {
        this.log.warn({ appId, url: q.logUrl, attempts: attempt, events: events.length, reason: outcome.reason }, 'webhook delivery failed');
        this.metrics.failed(appId);
        return;
      }
      this.log.debug({ appId, url: q.logUrl, attempt, delayMs, reason: outcome.reason }, 'webhook attempt failed, retrying');
      await sleep(delayMs);
    }
  }

  private async attempt(url: string, body: string, headers: Record<string, string>): Promise<Outcome> {
    const signal = AbortSignal.timeout(this.timeoutMs);
    let res: Response;
    try {
      res = await fetch(url, { method: 'POST', headers, body, signal });
    } catch (err) {
      return { ok: false, retry: true, reason: describeError(err) };
    }
    // Read the body to the end so the connection can be reused; its content only matters for the log.
    const text = await res.text().catch((err: unknown) => `<body unread: ${describeError(err)}>`);
    if (res.ok) return { ok: true };
    const reason = `HTTP ${res.status}${text ? `: ${text.slice(0, 200)}` : ''}`;
    if (res.status >= 500 || RETRIED_STATUSES.has(res.status)) {
      return { ok: false, retry: true, delayMs: retryAfterMs(res.headers.get('retry-after')), reason };
    }
    return { ok: false, retry: false, reason };
  }

  private drop(q: TargetQueue): void {
    this.metrics.dropped(q.app.id, 1);
    q.droppedSinceWarn++;
    // A dead target under load would drop thousands of events a second; one line a second says enough.
    const now = Date.now();
    if (now - q.lastDropWarnAt < DROP_WARN_INTERVAL_MS) return;
    this.log.warn(
      { appId: q.app.id, url: q.logUrl, dropped: q.droppedSinceWarn, queued: q.events.length, stopped: this.stopped },
      this.stopped ? 'webhook sender stopped, events dropped' : 'webhook queue full, events dropped',
    );
    q.droppedSinceWarn = 0;
    q.lastDropWarnAt = now;
  }
}
