// Lets a worker answer an ordinary publish itself. A correctly signed POST /events or /batch_events that
// validates, on a single host, with no idempotency key, no `info` and no cache channel (and within its app's API
// rate limit, which the worker spent before: apiRateGate.ts) can only succeed on the primary: the worker answers
// 200 at once and hands the body over (ipc/messages.ts), instead of waiting for the primary's answer (one thread
// crossing instead of two, and the worker no longer waits for the primary between requests; measured in
// docs/benchmarks.md "Session 5").
// Anything else goes the ordinary way, so every refusal, log line and error code still comes from the primary.
// Order holds through the request stamps (ipc/requestOrder.ts); a bound on publishes the primary has not taken
// yet keeps a slow primary from piling up work: past it, requests wait for the primary's answer again.
// The admitted publishes wait here, in stamp order, for the primary's `publishes-taken` with their message ids
// and positions; the worker then builds and delivers their frames itself (ChannelDelivery.deliverOwnPublish).
import type { AppConfig, Config } from '../config/schema.ts';
import { type PublishEvent, type PublishRules, parseBatchBody, parseEventBody, publishRules } from '../http/events.ts';
import type { OwnPublishPositions } from '../ipc/messages.ts';
import { isCacheChannel } from '../protocol/channels.ts';
import { SERVER_TO_USER_PREFIX } from '../protocol/topics.ts';

/** Publishes answered here that the primary has not taken yet, at most. */
export const MAX_UNCONFIRMED_PUBLISHES = 256;

export interface AdmittedPublish {
  app: number;
  events: PublishEvent[];
  /** POST /batch_events (else /events). */
  batch: boolean;
  /** The 200 answer, exactly what the primary gives: `{"ok":true}` for /events, `{}` for /batch_events. */
  answer: string;
  /** What the primary needs to give the messages positions without parsing the body (`accepted-publish`). */
  positionChannels: string[];
  ephemeralEvents: number;
  /**
   * The primary has taken every earlier publish this worker answered: the worker is not ahead of it, which is
   * when delivering this one here at once pays (worker/localPublishOrder.ts). Under load the primary's
   * messages bring several publishes at a time, and uWS writes each socket's frames in one go.
   */
  primaryCaughtUp: boolean;
  // Set by the caller on the object this class holds until the primary answers:
  /** The request's order stamp (ipc/requestOrder.ts), which the primary's `publishes-taken` names. */
  seq: number;
  /** The V1 frames went out on this thread at admission (worker/localPublishOrder.ts). */
  deliveredV1: boolean;
  /** The message ids and positions this worker gave its messages (ChannelDelivery.assignPositions): its V2 frames went with the V1 ones. */
  local?: OwnPublishPositions;
}

export interface PublishRequest {
  method: string;
  path: string;
  contentType: string;
  /** The X-Idempotency-Key header, '' when absent. */
  idempotencyKey: string;
  body: string;
}

export class PublishAdmission {
  private readonly apps = new Map<string, { app: AppConfig; index: number }>();
  private readonly enabled: boolean;
  /** Idempotency keys count (idempotency.enabled); when not, they are ignored unchecked. */
  private readonly rules: PublishRules;
  /** Answered here, not yet taken by the primary, oldest first (the primary takes them in stamp order). */
  private readonly awaitingPrimary: AdmittedPublish[] = [];

  constructor(config: Config) {
    // With several hosts a publish goes through Redis and can fail there: the primary answers those.
    this.enabled = config.redis.url === '';
    this.rules = publishRules(config);
    config.apps.forEach((app, index) => {
      if (app.enabled) this.apps.set(app.id, { app, index });
    });
  }

  /** The publish to hand over when this worker may answer it; undefined when the primary must. */
  admit(req: PublishRequest, verifiedAppId: string): AdmittedPublish | undefined {
    if (!this.enabled || this.awaitingPrimary.length >= MAX_UNCONFIRMED_PUBLISHES) return undefined;
    if (req.method !== 'POST' || req.idempotencyKey !== '' || !/^application\/json\b/i.test(req.contentType)) return undefined;
    const entry = this.apps.get(verifiedAppId);
    if (!entry) return undefined;
    const batch = publishRoute(req.path, verifiedAppId);
    if (batch === undefined) return undefined;
    let events: PublishEvent[];
    try {
      const body = JSON.parse(req.body) as Record<string, unknown>;
      if (batch) {
        events = parseBatchBody(body, entry.app, this.rules);
        if ((body.batch as Record<string, unknown>[]).some((item) => item.info !== undefined && item.info !== null)) return undefined;
      } else {
        events = [parseEventBody(body, entry.app, this.rules)];
        if (body.info !== undefined && body.info !== null) return undefined;
      }
    } catch {
      return undefined; // the primary gives the coded answer
    }
    const positionChannels: string[] = [];
    let ephemeralEvents = 0;
    for (const e of events) {
      // A message_id asks for an acknowledgement answer, which the primary gives (as for `info`).
      // Keys and channel pushes (extras.push) are the primary's; cache channels must be cached before the 200.
      if (e.idempotencyKey !== undefined || e.messageId !== undefined || e.messageKey !== undefined || e.extras?.push !== undefined || e.channels.some(isCacheChannel)) {
        return undefined;
      }
      if (e.ephemeral) ephemeralEvents++;
      // '' marks an ephemeral message; one to a user's sockets keeps its channel, which decides its id (newMessageId)
      // and already takes no position.
      for (const channel of e.channels) positionChannels.push(e.ephemeral && !channel.startsWith(SERVER_TO_USER_PREFIX) ? '' : channel);
    }
    const admitted = {
      app: entry.index,
      events,
      batch,
      answer: batch ? '{}' : '{"ok":true}',
      positionChannels,
      ephemeralEvents,
      primaryCaughtUp: this.awaitingPrimary.length === 0,
      seq: 0,
      deliveredV1: false,
    };
    this.awaitingPrimary.push(admitted);
    return admitted;
  }

  /**
   * Whether every publish still waiting for the primary's answer, `admitted` aside, was numbered here: only then
   * has this worker seen every earlier position (worker/positionTracker.ts). One delivered here but numbered by
   * the primary (a channel unknown here) has its positions only in its answer, still on its way.
   */
  othersNumberedHere(admitted: AdmittedPublish): boolean {
    for (const a of this.awaitingPrimary) if (a !== admitted && a.local === undefined) return false;
    return true;
  }

  /**
   * The primary has taken the publish stamped `seq`: that one, or undefined if it is not held. The primary
   * answers in stamp order, so it is the oldest; older ones would be publishes it never answered (a bug), which
   * are dropped and returned in `skipped`.
   */
  taken(seq: number, skipped: AdmittedPublish[] = []): AdmittedPublish | undefined {
    // Distance along the wrapping Int32 stamp counter.
    while (this.awaitingPrimary.length > 0 && ((this.awaitingPrimary[0].seq - seq) | 0) < 0) skipped.push(this.awaitingPrimary.shift() as AdmittedPublish);
    return this.awaitingPrimary[0]?.seq === seq ? this.awaitingPrimary.shift() : undefined;
  }
}

/** False for /apps/{id}/events, true for /apps/{id}/batch_events, undefined for any other path. */
function publishRoute(path: string, appId: string): boolean | undefined {
  const prefix = `/apps/${appId}/`;
  if (!path.startsWith(prefix)) return undefined;
  const rest = path.endsWith('/') ? path.slice(prefix.length, -1) : path.slice(prefix.length);
  if (rest === 'events') return false;
  if (rest === 'batch_events') return true;
  return undefined;
}
