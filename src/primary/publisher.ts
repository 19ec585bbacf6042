// Publish ordering and fan-out: each event is serialized once per protocol version, here on the primary,
// and handed to every worker in one message per request, so per-channel order is the order of acceptance.
import type { TopicFrame } from '../ipc/messages.ts';
import type { PublishEvent } from '../http/events.ts';
import { channelEvent } from '../protocol/frames.ts';
import { topicFor } from '../protocol/topics.ts';

export interface WorkerLink {
  publish(frames: TopicFrame[]): void;
}

export class Publisher {
  constructor(private readonly workers: () => readonly WorkerLink[]) {}

  /**
   * Every worker gets the frames: a native uWS publish on a topic nobody on that thread holds costs almost
   * nothing, and sending to all avoids racing a subscribe that is still on its way to the primary.
   */
  publish(appIndex: number, appId: string, events: readonly PublishEvent[]): void {
    const frames: TopicFrame[] = [];
    for (const e of events) {
      for (const channel of e.channels) {
        const v1 = channelEvent(e.name, channel, e.data);
        frames.push({ app: appIndex, topic: topicFor(1, appId, channel), frame: v1, exclude: e.socketId });
        // Protocol V2 delivers the same frame until V2-only fields (message_id, serial) are added.
        frames.push({ app: appIndex, topic: topicFor(2, appId, channel), frame: v1, exclude: e.socketId });
      }
    }
    for (const w of this.workers()) w.publish(frames);
  }
}
