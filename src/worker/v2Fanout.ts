// Protocol V2 fan-out on a worker: the plain V2 topic for unfiltered subscribers, one uWS topic per
// distinct filter of a channel (the filter is evaluated once per message, not once per subscriber), and
// wildcard subscriptions (`prefix*`). Also keeps the replay mirror current.
import { type CompiledFilter, type FilterView, wildcardMatches } from '../protocol/filters.ts';
import { topicFor } from '../protocol/topics.ts';
import type { ReplayMirror } from './replayMirror.ts';
import type { SocketState } from './socketState.ts';
import type { V2Message } from './v2Message.ts';

interface Group {
  topic: string;
  filter: CompiledFilter | undefined;
  count: number;
}

interface WildcardGroup {
  topic: string;
  filter: CompiledFilter | undefined;
  pattern: string;
  /** The group's sockets (a socket joins a group once), for a message some already got another way (deliver). */
  sockets: Set<SocketState>;
}

/** Publishes a frame on a topic, skipping `exclude`'s socket; returns how many sockets got it. */
export type TopicPublisher = (topic: string, frame: string, exclude: string | undefined) => number;

/**
 * Sends a channel's frame to one socket unless it got it already through one of `reached` (topics the message was
 * published on before); returns whether it sent.
 */
export type SendOnce = (s: SocketState, channel: string, frame: string, reached: readonly string[]) => boolean;

let nextGroupId = 0;

export class V2Fanout {
  /** `${appId}\n${channel}` → filter key → group */
  private readonly filtered = new Map<string, Map<string, Group>>();
  /** appId → `${pattern}\n${filter key}` → group */
  private readonly wildcards = new Map<string, Map<string, WildcardGroup>>();

  constructor(private readonly mirror: ReplayMirror) {}

  /** The topic a V2 socket subscribes to for `channel` with `filter`. */
  join(appId: string, channel: string, filter: CompiledFilter | undefined): string {
    if (!filter) return topicFor(2, appId, channel);
    const key = `${appId}\n${channel}`;
    let groups = this.filtered.get(key);
    if (!groups) this.filtered.set(key, (groups = new Map()));
    let g = groups.get(filter.key);
    if (!g) groups.set(filter.key, (g = { topic: `f${nextGroupId++}\n${appId}\n${channel}`, filter, count: 0 }));
    g.count++;
    return g.topic;
  }

  joinWildcard(appId: string, pattern: string, filter: CompiledFilter | undefined, socket: SocketState): string {
    let groups = this.wildcards.get(appId);
    if (!groups) this.wildcards.set(appId, (groups = new Map()));
    const key = `${pattern}\n${filter?.key ?? ''}`;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { topic: `w${nextGroupId++}\n${appId}\n${pattern}`, filter, pattern, sockets: new Set() }));
    g.sockets.add(socket);
    return g.topic;
  }

  /** Undoes a join (the socket has left the topic). */
  leave(appId: string, channel: string, filter: CompiledFilter | undefined, wildcard: boolean, socket: SocketState): void {
    if (wildcard) {
      const groups = this.wildcards.get(appId);
      const key = `${channel}\n${filter?.key ?? ''}`;
      const g = groups?.get(key);
      g?.sockets.delete(socket);
      if (g?.sockets.size === 0) groups?.delete(key);
      if (groups?.size === 0) this.wildcards.delete(appId);
      return;
    }
    if (!filter) return;
    const key = `${appId}\n${channel}`;
    const groups = this.filtered.get(key);
    const g = groups?.get(filter.key);
    if (g && --g.count === 0) groups?.delete(filter.key);
    if (groups?.size === 0) this.filtered.delete(key);
  }

  /** Whether the app has wildcard subscriptions here (any of them may match a channel). */
  hasWildcards(appId: string): boolean {
    return this.wildcards.has(appId);
  }

  /** Sockets subscribed to the channel through one of its filters here (wildcards not included). */
  filteredSubscribers(appId: string, channel: string): number {
    if (this.filtered.size === 0) return 0;
    let n = 0;
    for (const g of this.filtered.get(`${appId}\n${channel}`)?.values() ?? []) n += g.count;
    return n;
  }

  /**
   * A V2 frame that is not a channel message (member_added / member_removed) to the channel's filtered
   * subscriptions: filters choose among messages, and a member list kept from a filtered subscription must
   * still see every member come and go. `v2Topic` is the channel's topicFor(2, …). Returns the recipients.
   */
  publishToFiltered(v2Topic: string, frame: string, exclude: string | undefined, publish: TopicPublisher): number {
    if (this.filtered.size === 0) return 0; // most hosts: no key to build
    const groups = this.filtered.get(v2Topic.slice(2)); // `${appId}\n${channel}`
    let recipients = 0;
    for (const g of groups?.values() ?? []) recipients += publish(g.topic, frame, exclude);
    return recipients;
  }

  /** Keeps a message for resume and rewind (ephemeral ones are never replayed). */
  record(appId: string, message: V2Message): void {
    if (!message.ephemeral) this.mirror.record(appId, message);
  }

  /** recordV1 of the replay mirror: an HTTP publish's message, kept without an object for it. */
  recordV1(appId: string, channel: string, event: string, v1Frame: string, messageId: string, streamId: string, serial: number, publishedAt: number, tags: Record<string, string> | undefined, extras: Record<string, unknown> | undefined): void {
    this.mirror.recordV1(appId, channel, event, v1Frame, messageId, streamId, serial, publishedAt, tags, extras);
  }

  /**
   * Delivers one V2 channel message to every matching subscription on this worker and records it for replay.
   * `reaches(topic)` says whether a topic has anyone to receive a frame; the message's frame is only asked for
   * (and, for one derived from a V1 frame, built) when something does. A socket whose subscriptions match it more
   * than once (the channel and a wildcard, or two wildcards) gets it once, as in Sockudo: a matching wildcard
   * group goes through uWS only while nothing else has had the message; after that, socket by socket (sendOnce).
   */
  deliver(
    appId: string,
    topic: string,
    message: V2Message,
    exclude: string | undefined,
    publish: TopicPublisher,
    reaches: (topic: string) => boolean,
    suppressed: (sockets: number) => void = () => {},
    sendOnce: SendOnce = () => false,
  ): number {
    this.record(appId, message);
    let recipients = reaches(topic) ? publish(topic, message.frame, exclude) : 0;
    // Most hosts have no filtered subscriptions: then no key is built (every message passes here).
    const groups = this.filtered.size === 0 ? undefined : this.filtered.get(`${appId}\n${message.channel}`);
    const wildcards = this.wildcards.get(appId);
    if (!groups && !wildcards) return recipients;
    const reached: string[] = recipients > 0 ? [topic] : [];
    const view = filterView(message);
    for (const g of groups?.values() ?? []) {
      if (!g.filter?.matches(view)) {
        suppressed(g.count);
        continue;
      }
      const n = publish(g.topic, message.frame, exclude);
      recipients += n;
      if (n > 0) reached.push(g.topic);
    }
    for (const g of wildcards?.values() ?? []) {
      if (!wildcardMatches(g.pattern, message.channel) || (g.filter && !g.filter.matches(view))) continue;
      if (reached.length === 0) {
        const n = publish(g.topic, message.frame, exclude);
        recipients += n;
        if (n > 0) reached.push(g.topic);
        continue;
      }
      let n = 0;
      for (const s of g.sockets) if (s.socketId !== exclude && sendOnce(s, message.channel, message.frame, reached)) n++;
      recipients += n;
      reached.push(g.topic);
    }
    return recipients;
  }
}

/** What a filter sees; data strings holding JSON are parsed (once, and only if a filter reads the data). */
export function filterView(message: V2Message): FilterView {
  let data: { value: unknown } | undefined;
  return {
    event: message.event,
    channel: message.channel,
    get data() {
      data ??= { value: parsedData(message.data()) };
      return data.value;
    },
    tags: message.tags,
    headers: publicHeaders(message.extras?.headers),
    userId: message.userId,
    messageId: message.messageId,
    streamId: message.streamId,
    serial: message.serial,
  };
}

/** extras.headers as filters see them: without the internal `sockudo_*` keys (as Sockudo's projection). */
function publicHeaders(headers: unknown): Record<string, unknown> | undefined {
  if (typeof headers !== 'object' || headers === null) return undefined;
  const all = headers as Record<string, unknown>;
  const keys = Object.keys(all);
  if (!keys.some((k) => k.startsWith('sockudo_'))) return all;
  const visible: Record<string, unknown> = {};
  for (const k of keys) if (!k.startsWith('sockudo_')) visible[k] = all[k];
  return visible;
}

function parsedData(data: unknown): unknown {
  if (typeof data === 'string' && (data.startsWith('{') || data.startsWith('['))) {
    try {
      return JSON.parse(data);
    } catch {
      // not JSON after all: filters see the string
    }
  }
  return data;
}
