// What every push provider implements, and the HTTP answer helpers they share.
import type { RenderedPayloads } from '../render.ts';
import type { Delivery, Provider, PublishIntent } from '../types.ts';

/** One provider attempt's result, before the retry policy turns it into a stored outcome. */
export type AttemptResult =
  | { kind: 'ok' }
  /** 429, 5xx, network: try again (after the provider's Retry-After when it gave one). */
  | { kind: 'retry'; error: string; retryAfterMs?: number }
  /** The provider says the token is gone (404/410 Unregistered...): the device is marked and not retried. */
  | { kind: 'invalidToken'; error: string }
  /** Will not work if repeated (bad payload, rejected credentials). */
  | { kind: 'failed'; error: string };

export interface SendItem {
  delivery: Delivery;
  intent: PublishIntent;
  rendered: RenderedPayloads;
}

export interface ProviderSender {
  readonly provider: Provider;
  /** One result per item, in order; never rejects. */
  sendBatch(items: SendItem[]): Promise<AttemptResult[]>;
  close(): Promise<void>;
}

/** `Retry-After` in seconds or as an HTTP date, in ms from now; undefined when absent or unreadable. */
export function retryAfterMs(value: string | string[] | undefined, nowMs = Date.now()): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (!v) return undefined;
  if (/^\d+$/.test(v.trim())) return Number(v.trim()) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

/** The usual reading of a provider's HTTP status, for what the provider-specific code does not decide. */
export function classifyStatus(status: number, detail: string, retryAfter: number | undefined): AttemptResult {
  if (status >= 200 && status < 300) return { kind: 'ok' };
  if (status === 429) return { kind: 'retry', error: `429 throttled: ${detail}`, retryAfterMs: retryAfter };
  if (status >= 500) return { kind: 'retry', error: `${status}: ${detail}`, retryAfterMs: retryAfter };
  if (status === 404 || status === 410) return { kind: 'invalidToken', error: `${status}: ${detail}` };
  return { kind: 'failed', error: `${status}: ${detail}` };
}

/** Error text that is safe to store and show: short, and never a credential. */
export function describeError(err: unknown): string {
  const e = err as { code?: string; message?: string };
  return `network: ${e.code ?? ''} ${e.message ?? String(err)}`.slice(0, 300);
}

/** The time budget of one provider request (Sockudo: connect 5 s, request 10 s). */
export const REQUEST_TIMEOUT_MS = 10_000;
