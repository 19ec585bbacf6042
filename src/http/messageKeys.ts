// Sockudo's second idempotency layer (its publish service, SOCKUDO-REFERENCE §5.2): a message's own id, the
// `message_id` its publisher gave it (else its `extras.idempotencyKey`), makes it reach each channel once within
// the idempotency window. A repeat with the same payload is left out of the channels that had it (the answer is
// the same as the first one's); the same key with another payload on a channel is a 400, as Sockudo answers it.
// The first layer (idempotentPublish.ts) keys whole requests on `idempotency_key` / X-Idempotency-Key.
import type { IdempotentCompletion } from '../adapter/envelope.ts';
import { HttpError } from '../errors.ts';
import type { PublishEvent } from './events.ts';
import { type IdempotentPublisher, fingerprint } from './idempotentPublish.ts';

interface Claim {
  scope: string;
  key: string;
  print: string;
}

/** The key a message carries for this layer, if its publisher gave one (read before an id is assigned to it). */
export function messageKeyOf(event: PublishEvent): string | undefined {
  return event.messageId ?? event.messageKey;
}

export class MessageKeyClaims {
  private readonly claims: Claim[] = [];

  constructor(
    private readonly idempotent: IdempotentPublisher,
    private readonly appId: string,
    private readonly ttlMs: number,
    /** A channel left out because it had the message (sockudo_idempotency_duplicates_total). */
    private readonly onDuplicate: () => void,
  ) {}

  /**
   * Claims each keyed event's channels; returns, in the events' order, each event with the channels that already had
   * it left out (null for one left with none). `keys[i]` is event i's key (messageKeyOf), undefined for none.
   */
  async take(events: readonly PublishEvent[], keys: readonly (string | undefined)[]): Promise<(PublishEvent | null)[]> {
    const fresh: (PublishEvent | null)[] = [];
    try {
      for (const [i, e] of events.entries()) {
        const key = keys[i];
        if (key === undefined) {
          fresh.push(e);
          continue;
        }
        const channels: string[] = [];
        for (const channel of e.channels) if (await this.claim(e, channel, key)) channels.push(channel);
        fresh.push(channels.length === e.channels.length ? e : channels.length > 0 ? { ...e, channels } : null);
      }
    } catch (err) {
      await this.release();
      throw err;
    }
    return fresh;
  }

  /**
   * The keys as completions that travel with the publish through Redis, so every host that reads it records them as
   * done, even if this host dies before complete() (as the request's own key, http/idempotentPublish.ts).
   */
  completions(): IdempotentCompletion[] {
    return this.claims.map((c) => ({ scope: c.scope, key: c.key, print: c.print, status: 200, body: '{}', ttlMs: this.ttlMs }));
  }

  /** The publish happened: the keys stand for the window. */
  async complete(): Promise<void> {
    for (const c of this.claims) await this.idempotent.completeItem(c.scope, c.key, c.print, this.ttlMs);
  }

  /** The publish failed: a corrected retry may use the keys. */
  async release(): Promise<void> {
    for (const c of this.claims.splice(0)) await this.idempotent.releaseItem(c.scope, c.key);
  }

  /** True when the channel is to get the message (the key is new there). */
  private async claim(e: PublishEvent, channel: string, key: string): Promise<boolean> {
    const scope = `message:${this.appId}:${channel}`;
    const print = fingerprint('message', { channel, name: e.name, data: e.data, socket_id: e.socketId, extras: e.extras, tags: e.tags });
    let state: 'claimed' | 'duplicate';
    try {
      state = await this.idempotent.claimItem(scope, key, print, this.ttlMs);
    } catch (err) {
      if (err instanceof HttpError && err.code === 'idempotency_conflict') {
        throw new HttpError('invalidInput', `idempotency key ${JSON.stringify(key)} was already used with a different payload on channel ${channel}`);
      }
      throw err;
    }
    if (state === 'duplicate') {
      this.onDuplicate();
      return false;
    }
    this.claims.push({ scope, key, print });
    return true;
  }
}
