// One V2 channel message as a worker delivers it (the replay mirror keeps its fields as columns and builds
// these again for a replay). Messages the primary built a V2 frame for (client events) carry it; HTTP publishes
// carry only their V1 frame, and the V2 frame, which is the V1 frame's head closed with message_id, stream_id,
// serial, tags and extras, is derived on first use: a channel without V2 subscribers on this thread never pays
// for it unless someone resumes or rewinds it.
import type { V2Meta } from '../ipc/messages.ts';
import { v2FrameFromHead } from '../protocol/frames.ts';

export class V2Message implements V2Meta {
  readonly channel: string;
  readonly event: string;
  readonly streamId: string | undefined;
  readonly messageId: string | undefined;
  readonly serial: number | undefined;
  readonly ephemeral: boolean;
  readonly publishedAt: number;
  readonly tags: Record<string, string> | undefined;
  readonly extras: Record<string, unknown> | undefined;
  readonly userId: string | undefined;
  private built: string | undefined;

  /** The frame it came with is its V2 frame (else the V1 frame its V2 frame derives from). */
  readonly hasV2Source: boolean;

  private constructor(
    meta: V2Meta,
    /** The V2 frame, or the V1 frame it derives from (what the replay mirror keeps). */
    readonly source: string,
    built: string | undefined,
  ) {
    this.channel = meta.channel;
    this.event = meta.event;
    this.streamId = meta.streamId;
    this.messageId = meta.messageId;
    this.serial = meta.serial;
    this.ephemeral = meta.ephemeral;
    this.publishedAt = meta.publishedAt;
    this.tags = meta.tags;
    this.extras = meta.extras;
    this.userId = meta.userId;
    this.built = built;
    this.hasV2Source = built !== undefined;
  }

  /** A message whose V2 frame is already built. */
  static built(meta: V2Meta, v2Frame: string): V2Message {
    return new V2Message(meta, v2Frame, v2Frame);
  }

  /** A message known by its V1 frame (`{"event":…,"channel":…,"data":…}`); the V2 frame is built when asked for. */
  static fromV1(meta: V2Meta, v1Frame: string): V2Message {
    return new V2Message(meta, v1Frame, undefined);
  }

  get frame(): string {
    this.built ??= v2FrameFromHead(this.source.slice(0, -1), this);
    return this.built;
  }

  /** The event's data as published (a string for HTTP publishes, any JSON for client events), for filters. */
  data(): unknown {
    return (JSON.parse(this.source) as { data: unknown }).data;
  }
}
