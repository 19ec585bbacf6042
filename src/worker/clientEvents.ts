// Client events (`client-*`) on a worker: checked here, delivered at once to the other subscribers on this
// thread, then relayed by the primary to the other workers. The V1 sender never gets its own event back.
import type { AppConfig } from '../config/schema.ts';
import type { TopicFrame } from '../ipc/messages.ts';
import { allowsClientEvents, isPresenceChannel } from '../protocol/channels.ts';
import { clientEvent } from '../protocol/frames.ts';
import { topicFor } from '../protocol/topics.ts';
import type { SocketState } from './socketState.ts';
import type { WsServer } from './wsServer.ts';

export function handleClientEvent(core: WsServer, s: SocketState, event: string, channel: unknown, data: unknown): void {
  const app = s.app as AppConfig;
  if (!app.features.enable_client_messages) return core.sendError(s, 'clientEventsDisabled');
  if (typeof channel !== 'string' || !allowsClientEvents(channel)) return core.sendError(s, 'clientEventWrongChannel');
  if (event.length > app.limits.max_event_name_length) return core.sendError(s, 'clientEventRejected', 'Client event rejected: event name too long');
  if (!s.channels.has(channel)) return core.sendError(s, 'clientEventNotSubscribed');

  const now = Date.now();
  if (now - s.clientEventWindow >= 1000) {
    s.clientEventWindow = now;
    s.clientEventCount = 0;
  }
  if (++s.clientEventCount > app.limits.max_client_events_per_second) return core.sendError(s, 'clientEventRateLimited');

  // Pusher adds the sender's user_id to client events on presence channels.
  const frame = clientEvent(event, channel, data, isPresenceChannel(channel) ? s.presence.get(channel) : undefined);
  if (frame.length > app.limits.max_event_payload_in_kb * 1024) return core.sendError(s, 'clientEventTooLarge');

  const frames: TopicFrame[] = [1, 2].map((p) => ({ app: s.appIndex, topic: topicFor(p as 1 | 2, app.id, channel), frame, exclude: s.socketId }));
  core.publish(frames);
  core.deps.toPrimary({ type: 'client-event', worker: core.deps.workerIndex, frames });
}
