// The V2 fields of a channel message (what a worker needs besides the frame), built in one place for both
// threads: the primary builds them for the frames it sends, and a worker that answered an HTTP publish itself
// builds them from the primary's message ids and positions (ipc/messages.ts OwnPublishPositions). Both must
// produce the same V2 frame byte for byte.
import { randomUUID } from 'node:crypto';
import type { V2Meta } from '../ipc/messages.ts';
import { SERVER_TO_USER_PREFIX } from '../protocol/topics.ts';

/** Serial of a message without a position (ephemeral, or recovery off) in OwnPublishPositions. */
export const NO_SERIAL = -1;

/** Message id of a channel message that has none (recovery off and none supplied), in columns and envelopes. */
export const NO_MESSAGE_ID = '';

/**
 * Whether a message takes a V2 position (stream id and serial) while connection recovery is on: not an ephemeral
 * one, nor one to a user's sockets. The primary and a worker that numbers a publish itself decide alike.
 */
export function takesPosition(channel: string, ephemeral: boolean): boolean {
  return !ephemeral && !channel.startsWith(SERVER_TO_USER_PREFIX);
}

/**
 * A new id for a message on `channel`. Sockudo gives channel broadcasts one only while connection recovery (or
 * history) is on; otherwise V2 frames go without, like V1's (NO_MESSAGE_ID). Messages to a user's sockets
 * (`#server-to-user-`) are frames to single sockets there, which always get one. The primary and a worker that
 * delivers a publish before the primary's answer decide alike.
 */
export function newMessageId(recovery: boolean, channel: string): string {
  return recovery || channel.startsWith(SERVER_TO_USER_PREFIX) ? randomUUID() : NO_MESSAGE_ID;
}

/** Absent fields are left out: every property, even an undefined one, costs the structured clone. */
export function v2Meta(
  channel: string,
  event: string,
  messageId: string,
  ephemeral: boolean,
  publishedAt: number,
  streamId: string | undefined,
  serial: number | undefined,
  tags: Record<string, string> | undefined,
  extras: Record<string, unknown> | undefined,
  userId?: string,
): V2Meta {
  const meta: V2Meta = { channel, event, ephemeral, publishedAt };
  if (messageId !== NO_MESSAGE_ID) meta.messageId = messageId;
  if (streamId !== undefined && serial !== undefined) {
    meta.streamId = streamId;
    meta.serial = serial;
  }
  if (tags) meta.tags = tags;
  if (extras) meta.extras = extras;
  if (userId !== undefined) meta.userId = userId;
  return meta;
}
