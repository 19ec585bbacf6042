// `extras.push` on an HTTP publish (SOCKUDO-REFERENCE §4.3, §6): besides the realtime message, each channel the
// event targets gets a push publish to the devices subscribed to it, with `extras.push` as its payload. Each event's
// payload is checked (and rendered) once, before anything is published (a bad one is a 400 naming the field); the
// pushes are queued after the realtime publish, one per channel that got the message, and a push that cannot be
// accepted then (over its rate) is logged, not answered.
import type { AppConfig } from '../config/schema.ts';
import { HttpError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { PushService } from '../push/pushService.ts';
import { type ParsedPublish, parsePublish } from '../push/requests.ts';
import type { PublishEvent } from './events.ts';

/** Each event's push (`extras.push`), checked, with no recipient yet; undefined for an event without one. */
export function channelPushes(events: readonly PublishEvent[], push: PushService | null): (ParsedPublish | undefined)[] {
  return events.map((e, i) => {
    const payload = e.extras?.push;
    if (payload === undefined) return undefined;
    if (!push) throw new HttpError('invalidInput', 'extras.push: push notifications are not enabled on this server');
    const where = events.length > 1 ? `batch[${i}].extras.push.` : 'extras.push.';
    // Parsed with the event's first channel as the recipient; sendChannelPushes sets each channel's.
    return parsePublish({ recipients: [{ type: 'channel', channel: e.channels[0] }], payload }, where);
  });
}

/**
 * Queues event i's push (`pushes[i]`) for each channel of `sent[i]`, the event as it was published (null: it went
 * nowhere, its message keys had reached every channel already).
 */
export function sendChannelPushes(app: AppConfig, sent: readonly (PublishEvent | null)[], pushes: readonly (ParsedPublish | undefined)[], push: PushService | null, log: Logger): void {
  if (!push) return;
  sent.forEach((e, i) => {
    const p = pushes[i];
    if (!e || !p) return;
    for (const channel of e.channels) {
      const forChannel: ParsedPublish = { ...p, intent: { ...p.intent, recipients: [{ type: 'channel', channel }] } };
      push.publish(app, forChannel).catch((err: Error) => log.warn({ app: app.id, err: err.message }, 'the channel push of an HTTP publish (extras.push) was not accepted'));
    }
  });
}
