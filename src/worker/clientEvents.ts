// Client events (`client-*`) on a worker: checked here, delivered at once to the other subscribers on this
// thread, then relayed by the primary to the other workers. The V1 sender never gets its own event back.
import type { AppConfig } from '../config/schema.ts';
import { FIELD } from '../metrics/workerCounters.ts';
import { allowsClientEvents, isPresenceChannel } from '../protocol/channels.ts';
import type { TopicFrame } from '../ipc/messages.ts';
import { clientEvent, v2ChannelEvent } from '../protocol/frames.ts';
import { topicFor } from '../protocol/topics.ts';
import { NO_MESSAGE_ID, v2Meta } from '../v2/meta.ts';
import type { SocketState } from './socketState.ts';
import type { WsServer } from './wsServer.ts';

export function handleClientEvent(core: WsServer, s: SocketState, event: string, channel: unknown, data: unknown, extras: unknown): void {
  const app = s.app as AppConfig;
  // The rate limit counts every client-* frame, before any other check (SOCKUDO-REFERENCE §2.6).
  // max_client_events_per_second counts over a window of decay_seconds, as Sockudo's limiter does.
  const now = Date.now();
  if (now - s.clientEventWindow >= app.limits.decay_seconds * 1000) {
    s.clientEventWindow = now;
    s.clientEventCount = 0;
  }
  core.deps.counters.add(s.appIndex, FIELD.clientEventRateChecks);
  // 0 means no limiter (Sockudo's meaning of the same setting).
  const perWindow = app.limits.max_client_events_per_second;
  if (++s.clientEventCount > perWindow && perWindow > 0) {
    core.deps.counters.add(s.appIndex, FIELD.clientEventRateLimited);
    if (app.limits.terminate_on_limit) return core.closeWith(s, 'clientEventRateLimitTerminate');
    return core.sendError(s, 'clientEventRateLimited');
  }

  // Then Sockudo's checks, in its order: the feature, the event name, the channel type, the size of the data, and
  // last whether the sender is subscribed.
  if (!app.features.enable_client_messages) return core.sendError(s, 'clientEventsDisabled');
  if (event.length > app.limits.max_event_name_length) return core.sendError(s, 'clientEventRejected', 'Client event rejected: event name too long');
  if (typeof channel !== 'string' || !allowsClientEvents(channel)) return core.sendError(s, 'clientEventWrongChannel');
  // Serialized once: measured here (the data alone, as Sockudo measures it; a string as it is), then framed.
  const dataJson = JSON.stringify(data) as string | undefined;
  const dataBytes = typeof data === 'string' ? Buffer.byteLength(data) : Buffer.byteLength(dataJson ?? '');
  if (dataBytes > app.limits.max_event_payload_in_kb * 1024) return core.sendError(s, 'clientEventTooLarge');
  if (!s.channels.has(channel)) return core.sendError(s, 'clientEventNotSubscribed', `Socket ${s.socketId} is not subscribed to channel ${channel}`);

  // Pusher adds the sender's user_id to client events on presence channels (Sockudo does not; pusher-js reads it).
  const userId = isPresenceChannel(channel) ? s.presence.get(channel) : undefined;
  const frame = clientEvent(event, channel, dataJson, userId);

  // V1 subscribers on this thread get it now; the primary assigns the V2 serial and relays the rest. With recovery
  // off a V2 frame has no id or position to wait for: this thread's V2 subscribers get it now too, so it keeps its
  // place before a publish admitted here next (whose V2 frames then leave at once as well).
  // extras.echo overrides the connection's echo_messages either way (SOCKUDO-REFERENCE §3.8).
  // With echo control off (config.echo_control.enabled), extras.echo is ignored and s.echo is true.
  const echo = s.protocol === 2 && ((core.deps.config.echo_control.enabled ? extrasEcho(extras) : undefined) ?? s.echo);
  if (s.protocol === 2 && !echo) core.deps.counters.add(s.appIndex, FIELD.echoSuppressed);
  const frames: TopicFrame[] = [{ app: s.appIndex, topic: topicFor(1, app.id, channel), frame, exclude: s.socketId }];
  if (!core.deps.config.connection_recovery.enabled) {
    const meta = v2Meta(channel, event, NO_MESSAGE_ID, false, Date.now(), undefined, undefined, undefined, undefined, userId);
    frames.push({ app: s.appIndex, topic: topicFor(2, app.id, channel), frame: v2ChannelEvent(event, channel, data, meta), exclude: echo ? undefined : s.socketId, v2: meta });
  }
  core.delivery.publish(frames);
  core.deps.toPrimary({ type: 'client-event', worker: core.deps.workerIndex, app: s.appIndex, channel, event, data, v1Frame: frame, userId, socketId: s.socketId, echo });
}

function extrasEcho(extras: unknown): boolean | undefined {
  return typeof extras === 'object' && extras !== null && typeof (extras as { echo?: unknown }).echo === 'boolean' ? (extras as { echo: boolean }).echo : undefined;
}
