// `extras.push` on an HTTP publish (SOCKUDO-REFERENCE §4.3, §6): besides the realtime message, each channel the
// event targets gets a push publish to the devices subscribed to it, with `extras.push` as its payload. The payload is
// checked before anything is published (a bad one is a 400 naming the field); the pushes are queued after the
// realtime publish, and a push that cannot be accepted then (push disabled, over its rate) is logged, not answered.
import type { AppConfig } from '../config/schema.ts';
import { HttpError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { PushService } from '../push/pushService.ts';
import { type ParsedPublish, parsePublish } from '../push/requests.ts';
import type { PublishEvent } from './events.ts';

/** The channel pushes the events ask for, checked; empty when none does. */
export function channelPushes(events: readonly PublishEvent[], push: PushService | null): ParsedPublish[] {
  const pushes: ParsedPublish[] = [];
  for (const [i, e] of events.entries()) {
    const payload = e.extras?.push;
    if (payload === undefined) continue;
    if (!push) throw new HttpError('invalidInput', 'extras.push: push notifications are not enabled on this server');
    const where = events.length > 1 ? `batch[${i}].extras.push.` : 'extras.push.';
    for (const channel of e.channels) pushes.push(parsePublish({ recipients: [{ type: 'channel', channel }], payload }, where));
  }
  return pushes;
}

/** Queues the pushes (after the realtime publish went out). */
export function sendChannelPushes(app: AppConfig, pushes: readonly ParsedPublish[], push: PushService | null, log: Logger): void {
  if (!push) return;
  for (const p of pushes) {
    push.publish(app, p).catch((err: Error) => log.warn({ app: app.id, err: err.message }, 'the channel push of an HTTP publish (extras.push) was not accepted'));
  }
}
