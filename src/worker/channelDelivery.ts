// Channel frames into uWS on one worker: one native publish per topic, no per-subscriber JavaScript. Frames
// come two ways (docs/architecture.md, "The path of a publish"): from the primary's `frames` messages (columns,
// ipc/frameColumns.ts), built once there for every other worker, and, for an HTTP publish this worker answered
// itself, built here from the events it parsed, with the message ids and V2 positions it gave them itself
// (worker/positionTracker.ts: then V1 and V2 frames leave together) or those of the primary's `publishes-taken`
// (the V1 frames possibly at once, worker/localPublishOrder.ts, or after a short hold, worker/fanoutHold.ts,
// whose V2 frames then wait for the primary's answer in the hold and leave with the rest;
// while publishes stream, the primary's hand-overs with a large audience here are held the same way:
// every other delivery here first lets the held ones out, so each topic keeps its order; the V2 side of a publish
// not held waits only for held ones that have their answers, which come first). V2 frames are derived
// from V1 frames only where a V2 subscriber, filter group or held subscription wants them; every V2 message goes
// into the replay mirror. Counts what it sends for the metrics.
import { randomUUID } from 'node:crypto';
import type { Config } from '../config/schema.ts';
import type { PublishEvent } from '../http/events.ts';
import { FRAME_V1, FRAME_V1_ALSO_V2, FRAME_V2, metaAt } from '../ipc/frameColumns.ts';
import type { FrameColumns, OwnPublishPositions, PublishesTaken, TopicFrame, V2Meta } from '../ipc/messages.ts';
import { appendTaken, emptyPublishesTaken } from '../ipc/publishesTaken.ts';
import { FIELD, type WorkerCounters, channelTypeIndex } from '../metrics/workerCounters.ts';
import { allowsClientEvents } from '../protocol/channels.ts';
import { publishedV1Frame } from '../protocol/frames.ts';
import { isV2ChannelTopic, publishTopic } from '../protocol/topics.ts';
import type { TemplatedApp } from '../transport/uws.ts';
import { NO_MESSAGE_ID, NO_SERIAL, newMessageId, takesPosition, v2Meta } from '../v2/meta.ts';
import type { CacheMirror } from './cacheMirror.ts';
import { FanoutHold, LARGE_FANOUT } from './fanoutHold.ts';
import type { LiveHolds } from './liveHold.ts';
import type { LocalChannels } from './localChannels.ts';
import { PositionTracker } from './positionTracker.ts';
import type { SocketState } from './socketState.ts';
import type { V2Fanout } from './v2Fanout.ts';
import { V2Message } from './v2Message.ts';

export interface ChannelDeliveryDeps {
  config: Config;
  counters: WorkerCounters;
  /** This worker's open sockets by socket_id: a publish's `socket_id` is excluded through its own socket. */
  sockets: ReadonlyMap<string, SocketState>;
  holds: LiveHolds;
  cache: CacheMirror;
  fanout: V2Fanout;
  /** This worker's subscriber count per channel: which channels have a large audience here. */
  channels: LocalChannels;
}

/**
 * What is held for a moment (fanoutHold.ts), in the order it came: an admitted publish, a hand-over of the
 * primary's, or a publish of this worker's that went through the primary and came back behind held ones.
 */
type Held = HeldPublish | HeldHandOver | HeldTaken;

/** An admitted publish held for a moment. */
interface HeldPublish {
  kind: 'admitted';
  /** Its order stamp (ipc/requestOrder.ts), which the primary's answer names. */
  seq: number;
  app: number;
  events: readonly PublishEvent[];
  /** performance.now() when it was held. */
  at: number;
  /** One of its channels has a V2 audience here: the hold waits for the primary's answer, so the V2 frames leave with the V1 ones. */
  awaitsPositions: boolean;
  /** The message ids and positions this worker gave it (assignPositions): nothing to wait for. */
  local: PublishesTaken | undefined;
  /** The primary's answer (publish `i` of `taken`, its messages from `first`), once it came. */
  taken?: { m: PublishesTaken; i: number; first: number };
}

/** A publish this worker admitted and the primary took (publish `i` of `m`), all of whose frames are still to go. */
interface HeldTaken {
  kind: 'taken';
  app: number;
  events: readonly PublishEvent[];
  m: PublishesTaken;
  i: number;
  first: number;
}

/** A hand-over of the primary's `frames` message (frames `first` to `first + count - 1`) with a large audience here. */
interface HeldHandOver {
  kind: 'frames';
  m: FrameColumns;
  first: number;
  count: number;
  handedOverAt: number;
}

export class ChannelDelivery {
  /** Set when the worker's uWS App exists (WsServer.attach). */
  app!: TemplatedApp;
  /**
   * Per app: open V2 sockets on this thread (WsServer counts them on open and close). With none, a V2 message has
   * nobody here to reach (no topic, filter group, hold or signed-in user), so only the replay mirror takes it and
   * no topic is looked up.
   */
  readonly v2Sockets: number[];
  private readonly appIds: string[];
  /**
   * Connection recovery is on: V2 frames carry the message id and position the primary gives. Off, they carry
   * neither (as Sockudo's), so a publish admitted here sends its V2 frames with its V1 frames, without waiting.
   */
  private readonly recovery: boolean;
  /** With recovery on and one host: the newest position of each channel seen here, to number admitted publishes (positionTracker.ts). */
  private readonly positions: PositionTracker | undefined;
  /** Per app: counts subscriptions a V2 filter kept a message from. */
  private readonly filterSuppressed: ((sockets: number) => void)[];
  private readonly fanoutHold: FanoutHold<Held>;

  constructor(private readonly deps: ChannelDeliveryDeps) {
    this.appIds = deps.config.apps.map((a) => a.id);
    this.recovery = deps.config.connection_recovery.enabled;
    this.positions = this.recovery && deps.config.redis.url === '' ? new PositionTracker((deps.config.connection_recovery.buffer_ttl_seconds * 1000) / 2) : undefined;
    this.v2Sockets = deps.config.apps.map(() => 0);
    this.filterSuppressed = deps.config.apps.map((_, app) => (n: number) => deps.counters.add(app, FIELD.filterSuppressed, n));
    this.fanoutHold = new FanoutHold(
      deps.config.fanout_hold_ms,
      (held) => {
        // One publish that throws must not cost the others held with it their delivery.
        let failure: unknown;
        for (const p of held) {
          try {
            if (p.kind === 'frames') this.deliverHandOver(p.m, p.first, p.count, p.handedOverAt);
            else if (p.kind === 'taken') this.deliverPublish(p.app, p.events, true, p.m, p.i, p.first, undefined);
            else this.deliverHeld(p);
          } catch (err) {
            failure ??= err;
          }
        }
        if (failure !== undefined) throw failure;
      },
      (p) => p.kind !== 'admitted' || !p.awaitsPositions || p.taken !== undefined,
    );
  }

  /** Hands ready frames to uWS (a client event's V1 frame for this worker's other sockets): one native publish per topic. */
  publish(frames: readonly TopicFrame[]): void {
    this.fanoutHold.flush();
    let delivered = false;
    for (const f of frames) {
      const kind = f.v2 ? FRAME_V2 : f.alsoV2 ? FRAME_V1_ALSO_V2 : FRAME_V1;
      if (this.deliverFrame(f.app, f.topic, f.frame, f.exclude, f.cacheTtlMs ?? 0, kind, f.v2 ?? f.alsoV2) > 0) delivered = true;
    }
    // A client event: it marks the thread as streaming, but sockudo_broadcast_latency_ms is for HTTP publishes (Sockudo).
    if (delivered) this.lastBroadcastAt = performance.now();
  }

  /**
   * One hand-over of the primary's `frames` message: frames `first` to `first + count - 1`, no per-subscriber
   * JavaScript. `streaming()`: whether publishes are streaming through this thread (asked only for a hand-over
   * with a large audience here); then it is held like an admitted publish (fanoutHold.ts), so the publishes other
   * workers admitted batch here too.
   */
  publishColumns(m: FrameColumns, first: number, count: number, handedOverAt: number, streaming?: () => boolean): void {
    if (this.positions) this.learnHandOver(this.positions, m, first, count);
    // Not behind a held publish still waiting for its answer: the primary handled this hand-over before that
    // publish (its answer would have come first otherwise), so its V2 frames must go before that publish's.
    if (streaming && this.fanoutHold.enabled && !this.awaitingAnswer() && this.largeAudienceIn(m, first, count) && streaming()) {
      this.deps.counters.add(m.apps[first], FIELD.publishesHeld);
      this.fanoutHold.hold({ kind: 'frames', m, first, count, handedOverAt });
      return;
    }
    this.fanoutHold.flush();
    this.deliverHandOver(m, first, count, handedOverAt);
  }

  /** The positions of a hand-over, as it arrives (held or not): later publishes admitted here continue from them. */
  private learnHandOver(positions: PositionTracker, m: FrameColumns, first: number, count: number): void {
    const now = Date.now();
    for (let k = first; k < first + count; k++) {
      if (m.serials[k] !== NO_SERIAL) positions.learn(this.appIds[m.apps[k]], m.channels[k], m.streamIds[k], m.serials[k], now);
    }
  }

  /**
   * Message ids and positions for a publish this worker admitted and may deliver now (LocalPublishOrder.claim
   * said so), so that its V2 frames need not wait for the primary's answer; the primary adopts them. Undefined
   * when one of its channels cannot be numbered here (positionTracker.ts): the primary numbers it as before.
   */
  assignPositions(app: number, events: readonly PublishEvent[]): OwnPublishPositions | undefined {
    const positions = this.positions;
    if (!positions) return undefined;
    const appId = this.appIds[app];
    const now = Date.now();
    for (const e of events) {
      for (const channel of e.channels) {
        if (takesPosition(channel, e.ephemeral) && (allowsClientEvents(channel) || !positions.knows(appId, channel, now))) return undefined;
      }
    }
    const own: OwnPublishPositions = { messageIds: [], streamIds: [], serials: [], publishedAt: now };
    for (const e of events) {
      for (const channel of e.channels) {
        own.messageIds.push(randomUUID());
        const at = takesPosition(channel, e.ephemeral) ? positions.next(appId, channel, now) : undefined;
        own.streamIds.push(at?.streamId ?? '');
        own.serials.push(at?.serial ?? NO_SERIAL);
      }
    }
    return own;
  }

  /** Whether a held publish waits for the primary's answer. */
  private awaitingAnswer(): boolean {
    return this.fanoutHold.items.some((h) => h.kind === 'admitted' && h.awaitsPositions && h.taken === undefined);
  }

  /** Whether a frame of the hand-over goes to a topic with a large audience on this thread. */
  private largeAudienceIn(m: FrameColumns, first: number, count: number): boolean {
    if (!this.deps.channels.anyLarge()) return false; // most hosts: no topic to look up
    for (let k = first; k < first + count; k++) {
      if (this.app.numSubscribers(m.topics[k]) >= LARGE_FANOUT) return true;
      // An HTTP publish's V1 frame carries its V2 message too: its V2 audience counts.
      const app = m.apps[k];
      if (m.kinds[k] === FRAME_V1_ALSO_V2 && this.v2Sockets[app] > 0 && this.app.numSubscribers(publishTopic(2, this.appIds[app], m.channels[k])) >= LARGE_FANOUT) return true;
    }
    return false;
  }

  private deliverHandOver(m: FrameColumns, first: number, count: number, handedOverAt: number): void {
    let delivered = false;
    for (let k = first; k < first + count; k++) {
      const kind = m.kinds[k];
      const recipients = this.deliverFrame(m.apps[k], m.topics[k], m.frames[k], m.excludes[k] || undefined, m.cacheTtlMs[k], kind, kind === FRAME_V1 ? undefined : metaAt(m, k));
      if (recipients === 0) continue;
      delivered = true;
      // sockudo_broadcast_latency_ms counts HTTP publishes' channels (their frames carry their V2 side), as Sockudo's.
      if (kind === FRAME_V1_ALSO_V2) this.observe(m.apps[k], m.channels[k], recipients, performance.timeOrigin + performance.now() - handedOverAt);
    }
    if (delivered) this.lastBroadcastAt = performance.now();
  }

  /** One frame (as TopicFrame describes it; `meta` unless FRAME_V1) to uWS and the mirrors; returns its recipients. */
  private deliverFrame(app: number, topic: string, frame: string, exclude: string | undefined, cacheTtlMs: number, kind: number, meta: V2Meta | undefined): number {
    if (cacheTtlMs > 0) this.deps.cache.store(topic, frame, cacheTtlMs);
    if (kind === FRAME_V2) {
      const recipients = this.deliverV2(app, topic, V2Message.built(meta as V2Meta, frame), exclude);
      if (recipients > 0) this.countSent(app, recipients, frame.length);
      return recipients;
    }
    let recipients = this.publishTopic(topic, frame, exclude);
    // A V2 frame with no V2 fields is a member_added / member_removed: for filtered subscriptions too.
    if (kind === FRAME_V1 && isV2ChannelTopic(topic)) recipients += this.deps.fanout.publishToFiltered(topic, frame, exclude, this.publishTopic);
    if (recipients > 0) this.countSent(app, recipients, frame.length);
    if (kind === FRAME_V1_ALSO_V2) recipients += this.deliverDerivedV2(app, frame, exclude, cacheTtlMs, meta as V2Meta);
    return recipients;
  }

  /**
   * sockudo_broadcast_latency_ms, once per channel of an HTTP publish when its delivery on this thread is complete:
   * labelled by channel type and by the sockets it reached here (each worker is one of Sockudo's nodes).
   */
  private observe(app: number, channel: string, recipients: number, ms: number): void {
    this.deps.counters.observeLatency(app, ms, channelTypeIndex(channel), recipients);
  }

  /** When this thread last handed a publish with recipients to uWS (performance.now()). */
  private lastBroadcastAt = Number.NEGATIVE_INFINITY;

  /** Whether a publish with recipients went out here within the last `ms`: publishes are coming in a stream. */
  broadcastWithin(ms: number): boolean {
    return performance.now() - this.lastBroadcastAt < ms;
  }

  /**
   * The V1 frames of an HTTP publish this worker admitted, to its own sockets, before the primary has it
   * (worker/localPublishOrder.ts decides when); the same bytes the primary builds for the other workers.
   */
  deliverAdmitted(app: number, events: readonly PublishEvent[], local?: OwnPublishPositions): void {
    this.fanoutHold.flush();
    if (local) return this.deliverPublish(app, events, true, takenHere(local), 0, 0, performance.now());
    this.deliverAdmittedFrames(app, events, performance.now());
  }

  /**
   * Whether an admitted publish may be held (holdAdmitted): holding is on and one of its channels has a large
   * audience here, V1 or V2 (the worker's count says large; uWS's counts of the channel's topics say who).
   */
  mayHold(app: number, events: readonly PublishEvent[]): boolean {
    if (!this.fanoutHold.enabled) return false;
    for (const e of events) {
      for (const channel of e.channels) {
        if (this.deps.channels.isLarge(app, channel) && this.audience(app, channel) >= LARGE_FANOUT) return true;
      }
    }
    return false;
  }

  /** This thread's sockets subscribed to the channel by name: V1, plain V2 and V2 filter groups. */
  private audience(app: number, channel: string): number {
    const appId = this.appIds[app];
    const v1 = this.app.numSubscribers(publishTopic(1, appId, channel));
    if (this.v2Sockets[app] === 0) return v1;
    return v1 + this.app.numSubscribers(publishTopic(2, appId, channel)) + this.deps.fanout.filteredSubscribers(appId, channel);
  }

  /**
   * deliverAdmitted, a moment later, together with the publishes that come meanwhile (worker/fanoutHold.ts); when
   * a channel of it has a V2 audience here, its V2 side goes with it: numbered here (`local`, assignPositions), or
   * once the primary's answer (deliverOwnPublish) has come. Returns whether it waits for that answer.
   */
  holdAdmitted(seq: number, app: number, events: readonly PublishEvent[], local?: OwnPublishPositions): boolean {
    this.deps.counters.add(app, FIELD.publishesHeld);
    const awaitsPositions = this.recovery && !local && this.hasV2Audience(app, events);
    this.fanoutHold.hold({ kind: 'admitted', seq, app, events, at: performance.now(), awaitsPositions, local: local && takenHere(local) });
    return awaitsPositions;
  }

  /** Whether a V2 frame of the publish would reach anyone here: a V2 subscriber, filter group, wildcard or held subscription. */
  private hasV2Audience(app: number, events: readonly PublishEvent[]): boolean {
    if (this.v2Sockets[app] === 0) return false;
    const appId = this.appIds[app];
    if (this.deps.fanout.hasWildcards(appId)) return true;
    for (const e of events) {
      for (const channel of e.channels) {
        const topic = publishTopic(2, appId, channel);
        if (this.reaches(topic) || this.deps.fanout.filteredSubscribers(appId, channel) > 0) return true;
      }
    }
    return false;
  }

  /**
   * A held publish: its V1 frames, and its V2 side if it was numbered here or the primary's answer came (else that
   * goes when it comes).
   */
  private deliverHeld(p: HeldPublish): void {
    if (p.local) return this.deliverPublish(p.app, p.events, true, p.local, 0, 0, p.at);
    // No answer yet, or the primary did not take it: no V2 side (yet), unless recovery is off (none to wait for).
    if (p.taken === undefined || p.taken.m.counts[p.taken.i] < 0) return this.deliverAdmittedFrames(p.app, p.events, p.at);
    this.deliverPublish(p.app, p.events, true, p.taken.m, p.taken.i, p.taken.first, p.at);
  }

  /** Hands a held publish the primary's answer; false when it is not held (it went out, or never was held). */
  private attachTaken(seq: number, m: PublishesTaken, i: number, first: number): boolean {
    // By its stamp: answers come in stamp order, so this is the first held one without an answer, short of a
    // primary that skipped one (logged by HttpBridge); the skipped one then goes out after the grace (fanoutHold.ts).
    const p = this.fanoutHold.items.find((h) => h.kind === 'admitted' && h.seq === seq && h.taken === undefined);
    if (p?.kind !== 'admitted') return false;
    p.taken = { m, i, first };
    return true;
  }

  /** Lets the held publishes out now (before the worker closes its sockets). */
  flushHeld(): void {
    this.fanoutHold.flush();
  }

  /**
   * An admitted publish's V1 frames into uWS, before the primary's answer; with recovery off its V2 frames too,
   * which need nothing from that answer. `since`: when it was admitted (performance.now()).
   */
  private deliverAdmittedFrames(app: number, events: readonly PublishEvent[], since: number): void {
    const appId = this.appIds[app];
    const withV2 = !this.recovery && this.v2Sockets[app] > 0;
    // Its V2 side, if any here, is still to come (deliverPublish observes the latency then).
    const complete = withV2 || this.v2Sockets[app] === 0;
    const publishedAt = Date.now();
    let delivered = false;
    for (const e of events) {
      const nameJson = JSON.stringify(e.name);
      const dataJson = JSON.stringify(e.data);
      for (const channel of e.channels) {
        const frame = publishedV1Frame(nameJson, channel, dataJson);
        let recipients = this.deliverV1(app, appId, channel, frame, e.socketId);
        if (withV2) recipients += this.deliverUnpositionedV2(app, appId, channel, e, frame, publishedAt);
        if (recipients === 0) continue;
        delivered = true;
        // Here no thread hands anything over: the latency is from admission to uWS taking the frames in.
        if (complete) this.observe(app, channel, recipients, performance.now() - since);
      }
    }
    if (delivered) this.lastBroadcastAt = performance.now();
  }

  /**
   * An HTTP publish this worker admitted, once the primary has taken it and given each message its id and V2
   * position: the frames the primary builds for the other workers, built here from the events parsed at
   * admission (the primary sends this thread a few columns instead of the frames: publish `i` of `taken`, its
   * messages from `first` on). `v1Delivered`: the V1 frames went out at admission (deliverAdmitted); the V2
   * side is left.
   */
  deliverOwnPublish(
    seq: number,
    app: number,
    events: readonly PublishEvent[],
    v1Delivered: boolean,
    taken: PublishesTaken,
    i: number,
    first: number,
    local?: OwnPublishPositions,
  ): void {
    if (this.positions) {
      if (taken.counts[i] >= 0 && !local) this.learnTaken(this.positions, app, events, taken, first);
      // Not taken (a bug, logged by the primary), or numbered otherwise than here (a request the primary stopped
      // waiting for: StreamRegistry.adopt): this worker's positions of its channels are not to be trusted, so the
      // primary numbers the next ones, until its hand-overs and answers teach the worker again.
      else if (taken.counts[i] < 0 || (local && !sameNumbers(local, taken, first))) {
        for (const e of events) for (const channel of e.channels) this.positions.forget(this.appIds[app], channel);
      }
    }
    if (this.attachTaken(seq, taken, i, first)) return; // it leaves with the hold
    if (taken.counts[i] < 0) return; // the primary did not take it: nothing more to deliver
    // Its V2 frames went with its V1 frames: numbered here (assignPositions), or with recovery off (deliverAdmittedFrames).
    if (v1Delivered && (local !== undefined || !this.recovery)) return;
    if (this.fanoutHold.size > 0) {
      // It came through the primary (its V1 frames are still to go): everything held was stamped before it, so it
      // waits behind them and their batch holds together.
      if (!v1Delivered) return this.fanoutHold.hold({ kind: 'taken', app, events, m: taken, i, first });
      // Its V1 frames went out at admission: held ones carrying V2 frames were stamped before it (answers and
      // hand-overs come in stamp order) and go first; held ones still waiting for answers come after it. (A held
      // publish's V2 side may precede its V1 frames: no socket gets both.)
      if (this.fanoutHold.items.some((h) => h.kind !== 'admitted' || h.taken !== undefined)) this.fanoutHold.flush();
    }
    this.deliverPublish(app, events, !v1Delivered, taken, i, first, undefined);
  }

  /** The positions the primary gave a publish of this worker's, as its answer arrives. */
  private learnTaken(positions: PositionTracker, app: number, events: readonly PublishEvent[], taken: PublishesTaken, first: number): void {
    const appId = this.appIds[app];
    const now = Date.now();
    let k = first;
    for (const e of events) {
      for (const channel of e.channels) {
        if (taken.serials[k] !== NO_SERIAL) positions.learn(appId, channel, taken.streamIds[k], taken.serials[k], now);
        k++;
      }
    }
  }

  /**
   * A publish the primary has taken: its V1 frames if `withV1`, and its V2 side. `admittedAt`: when it was
   * admitted here (a held publish: the latency is from then), else it is from the primary's hand-over.
   */
  private deliverPublish(app: number, events: readonly PublishEvent[], withV1: boolean, taken: PublishesTaken, i: number, first: number, admittedAt: number | undefined): void {
    const appId = this.appIds[app];
    const publishedAt = taken.publishedAt[i];
    // The latency is from its admission here (held), else from the primary's answer handing it over.
    const since = admittedAt ?? taken.at[i] - performance.timeOrigin;
    let delivered = false;
    let k = first;
    for (const e of events) {
      const nameJson = JSON.stringify(e.name);
      const dataJson = JSON.stringify(e.data);
      for (const channel of e.channels) {
        const frame = publishedV1Frame(nameJson, channel, dataJson);
        let recipients = withV1 ? this.deliverV1(app, appId, channel, frame, e.socketId) : 0;
        const serial = taken.serials[k];
        const positioned = serial !== NO_SERIAL;
        if (this.v2Sockets[app] === 0) {
          // Nobody here to deliver a V2 frame to: only the replay mirror takes the message, without an object for it.
          if (positioned && !e.ephemeral) this.deps.fanout.recordV1(appId, channel, e.name, frame, taken.messageIds[k], taken.streamIds[k], serial, publishedAt, e.tags, e.extras);
          k++;
        } else {
          const meta = v2Meta(channel, e.name, taken.messageIds[k], e.ephemeral, publishedAt, positioned ? taken.streamIds[k] : undefined, positioned ? serial : undefined, e.tags, e.extras);
          k++;
          const message = V2Message.fromV1(meta, frame);
          const v2 = this.deliverV2(app, publishTopic(2, appId, channel), message, e.socketId);
          if (v2 > 0) this.countSent(app, v2, message.frame.length);
          recipients += v2;
          // Its V1 frames went out at admission (not observed then, its V2 side was to come): they count here.
          if (!withV1) recipients += this.v1Reached(publishTopic(1, appId, channel), e.socketId);
        }
        if (recipients === 0) continue;
        delivered = true;
        this.observe(app, channel, recipients, performance.now() - since);
      }
    }
    if (delivered) this.lastBroadcastAt = performance.now();
  }

  /**
   * The V2 frame of an admitted publish's message with recovery off (no position, and no id but on a message to a
   * user's sockets, as the primary gives the other workers); whether anyone got it.
   */
  private deliverUnpositionedV2(app: number, appId: string, channel: string, e: PublishEvent, v1Frame: string, publishedAt: number): number {
    const meta = v2Meta(channel, e.name, newMessageId(this.recovery, channel), e.ephemeral, publishedAt, undefined, undefined, e.tags, e.extras);
    const message = V2Message.fromV1(meta, v1Frame);
    const recipients = this.deliverV2(app, publishTopic(2, appId, channel), message, e.socketId);
    if (recipients > 0) this.countSent(app, recipients, message.frame.length);
    return recipients;
  }

  /** The sockets a V1 frame to `topic` reached here: its subscribers but the excluded one. */
  private v1Reached(topic: string, exclude: string | undefined): number {
    const subscribers = this.app.numSubscribers(topic);
    const excluded = exclude === undefined ? undefined : this.deps.sockets.get(exclude)?.ws;
    return excluded?.isSubscribed(topic) ? subscribers - 1 : subscribers;
  }

  /** One V1 frame of an HTTP publish to this thread's subscribers; returns its recipients. */
  private deliverV1(app: number, appId: string, channel: string, frame: string, exclude: string | undefined): number {
    const recipients = this.publishTopic(publishTopic(1, appId, channel), frame, exclude);
    if (recipients > 0) this.countSent(app, recipients, frame.length);
    return recipients;
  }

  /** The V2 side of an HTTP publish's V1 frame; returns its recipients. */
  private deliverDerivedV2(app: number, v1Frame: string, exclude: string | undefined, cacheTtlMs: number, meta: V2Meta): number {
    if (this.v2Sockets[app] === 0 && cacheTtlMs === 0 && meta.userId === undefined) {
      // Nobody here to deliver a V2 frame to, and no cache to keep it in: only the replay mirror takes the message.
      if (meta.streamId !== undefined && meta.serial !== undefined && !meta.ephemeral) {
        this.deps.fanout.recordV1(this.appIds[app], meta.channel, meta.event, v1Frame, meta.messageId ?? NO_MESSAGE_ID, meta.streamId, meta.serial, meta.publishedAt, meta.tags, meta.extras);
      }
      return 0;
    }
    const message = V2Message.fromV1(meta, v1Frame);
    const topic = publishTopic(2, this.appIds[app], meta.channel);
    if (cacheTtlMs > 0) this.deps.cache.store(topic, message.frame, cacheTtlMs);
    const recipients = this.deliverV2(app, topic, message, exclude);
    if (recipients > 0) this.countSent(app, recipients, message.frame.length);
    return recipients;
  }

  /** A V2 channel message to this thread's V2 sockets (none to look for when the app has none here) and the replay mirror. */
  private deliverV2(app: number, topic: string, message: V2Message, exclude: string | undefined): number {
    const appId = this.appIds[app];
    if (this.v2Sockets[app] === 0) {
      this.deps.fanout.record(appId, message);
      return 0;
    }
    return this.deps.fanout.deliver(appId, topic, message, exclude, this.publishTopic, this.reaches, this.filterSuppressed[app], this.sendOnce);
  }

  private countSent(app: number, recipients: number, frameLength: number): void {
    this.deps.counters.add(app, FIELD.wsMessagesSent, recipients);
    this.deps.counters.add(app, FIELD.socketBytesSent, recipients * frameLength);
  }

  /**
   * A frame to one socket of a wildcard group, unless one of the message's earlier topics reached it (it is
   * subscribed there, or its held subscription of the channel collected the frame). uWS sends a socket's pending
   * topic messages before a direct send, so the order of its frames holds.
   */
  private readonly sendOnce = (s: SocketState, channel: string, frame: string, reached: readonly string[]): boolean => {
    const ws = s.ws;
    if (!ws || s.closed) return false;
    const held = this.deps.holds.get(s, channel)?.topic;
    for (const topic of reached) if (topic === held || ws.isSubscribed(topic)) return false;
    ws.send(frame);
    return true;
  };

  /** Whether a publish on `topic` would reach anyone on this thread (a subscriber, or a held subscription). */
  private readonly reaches = (topic: string): boolean => this.app.numSubscribers(topic) > 0 || this.deps.holds.holding(topic);

  /** One native publish, skipping the socket `exclude` when it holds the topic; returns the recipients. */
  private readonly publishTopic = (topic: string, frame: string, exclude: string | undefined): number => {
    const held = this.deps.holds.collect(topic, frame, exclude);
    let recipients = this.app.numSubscribers(topic);
    if (recipients === 0) return held;
    const excluded = exclude ? this.deps.sockets.get(exclude)?.ws : undefined;
    if (excluded?.isSubscribed(topic)) {
      // ws.publish skips the publishing socket itself (and publishes nothing from a socket without topics).
      recipients--;
      excluded.publish(topic, frame);
    } else {
      this.app.publish(topic, frame);
    }
    return recipients + held;
  };
}

/** Positions assigned here, in the shape of the primary's answer, to deliver from. */
function takenHere(local: OwnPublishPositions): PublishesTaken {
  const m = emptyPublishesTaken();
  appendTaken(m, 0, Date.now(), 0, local);
  return m;
}

/** Whether the primary's answer gives the messages the positions this worker gave them. */
function sameNumbers(local: OwnPublishPositions, taken: PublishesTaken, first: number): boolean {
  for (let k = 0; k < local.serials.length; k++) {
    if (taken.serials[first + k] !== local.serials[k] || taken.streamIds[first + k] !== local.streamIds[k]) return false;
  }
  return true;
}
