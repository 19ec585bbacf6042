// What hosts send each other through Redis: publishes, client events and user terminations, plus the
// rule that says which channel messages need a V2 position, applied identically by sender and receivers.
import type { PublishEvent } from '../http/events.ts';
import { SERVER_TO_USER_PREFIX } from '../protocol/topics.ts';

/** What a reader needs to record an idempotency key as done with the answer its publish gave. */
export interface IdempotentCompletion {
  scope: string;
  key: string;
  print: string;
  status: number;
  body: string;
  ttlMs: number;
}

/** A publish as it travels: its message ids are fixed by the origin so every host delivers the same ones. */
export type WireEvent = Omit<PublishEvent, 'idempotencyKey'> & { messageIds: string[] };

/** A presence member joined, left, or changed its user_info (V2 presence_update). */
export type MemberChange = 'added' | 'removed' | 'updated';

export type Envelope =
  | {
      kind: 'events';
      origin: string;
      app: string;
      events: WireEvent[];
      /** An idempotent publish: every host that reads it records the key as done (the origin may die first). */
      completes?: IdempotentCompletion;
      /** Its messages' own keys (http/messageKeys.ts), recorded as done the same way. */
      messageKeys?: IdempotentCompletion[];
    }
  | {
      kind: 'client-event';
      origin: string;
      /** The worker of the origin host that already delivered the V1 frame. */
      worker: number;
      app: string;
      channel: string;
      event: string;
      data: unknown;
      userId?: string;
      socketId: string;
      echo: boolean;
      v1Frame: string;
      messageId: string;
    }
  | { kind: 'terminate'; origin: string; app: string; userId: string; reconnect?: boolean }
  /** A subscription-count question; every host answers on the asker's reply channel. */
  | { kind: 'query'; origin: string; id: string; app: string; prefix: string; channels?: string[] }
  /** A presence member joined or left cluster-wide (decided by the host that made the change). */
  | { kind: 'presence'; origin: string; app: string; channel: string; change: MemberChange; userId: string; userInfo?: unknown; exclude?: string };

export interface Position {
  streamId: string;
  serial: number;
}

function positioned(channel: string, ephemeral: boolean): boolean {
  return !ephemeral && !channel.startsWith(SERVER_TO_USER_PREFIX);
}

/** The channels, in delivery order, whose messages get a stream position (recovery on). */
export function positionedChannels(env: Envelope): string[] {
  if (env.kind === 'events') return env.events.flatMap((e) => e.channels.filter((c) => positioned(c, e.ephemeral)));
  if (env.kind === 'client-event') return [env.channel];
  return [];
}
