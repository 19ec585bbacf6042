// Protocol V2 connection recovery (`sockudo:resume`) and rewind on subscribe, served from the worker's
// replay mirror. Both run synchronously, so no live message can slip between the replay and the live
// stream: the client gets exactly the missed messages, in serial order, then live ones.
import type { AppConfig } from '../config/schema.ts';
import { dataObject } from '../protocol/clientFrame.ts';
import type { CompiledFilter } from '../protocol/filters.ts';
import { errorFrame } from '../protocol/frames.ts';
import type { ReplayEntry } from './replayMirror.ts';
import type { SocketState } from './socketState.ts';
import { filterView } from './v2Fanout.ts';
import type { WsServer } from './wsServer.ts';

/**
 * `rewind`: N, "N" (Rust's integer parse: a leading `+` or zeros allowed), {count: N}, {seconds: S} or
 * {duration_seconds: S} with JSON integers (a string inside the object is another shape); null when invalid.
 */
export function parseRewind(v: unknown): { count?: number; seconds?: number } | null {
  const positiveInteger = (n: unknown) => (typeof n === 'number' && Number.isInteger(n) && n > 0 ? n : null);
  if (typeof v === 'number') {
    const count = positiveInteger(v);
    return count === null ? null : { count };
  }
  if (typeof v === 'string') {
    const count = /^\+?\d+$/.test(v) ? positiveInteger(Number(v)) : null;
    return count === null ? null : { count };
  }
  if (typeof v !== 'object' || v === null) return null;
  const o = v as Record<string, unknown>;
  if (o.count !== undefined) {
    const count = positiveInteger(o.count);
    return count === null ? null : { count };
  }
  const seconds = positiveInteger(o.seconds ?? o.duration_seconds);
  return seconds === null ? null : { seconds };
}

function visible(entries: ReplayEntry[], filter: CompiledFilter | undefined): ReplayEntry[] {
  return filter ? entries.filter((e) => filter.matches(filterView(e))) : entries;
}

/** After subscription_succeeded: retained messages, then `sockudo:rewind_complete`. */
export function sendRewind(core: WsServer, s: SocketState, channel: string, want: { count?: number; seconds?: number }, filter: CompiledFilter | undefined): void {
  const app = s.app as AppConfig;
  // The rewind is served from the recovery buffer: without one it is refused, as Sockudo refuses it without history.
  if (!core.deps.config.connection_recovery.enabled) {
    return core.sendError(s, 'invalidChannel', `Channel error: Channel rewind is disabled by policy for channel '${channel}'`);
  }
  const limit = core.deps.config.connection_recovery.max_buffer_size;
  const truncatedByLimit = want.count !== undefined && want.count > limit;
  const asked = want.count !== undefined ? { count: Math.min(want.count, limit) } : want;
  const now = Date.now();
  const retained = core.replay.recent(app.id, channel, asked, now);
  const entries = visible(retained, filter);
  for (const e of entries) core.sendChannelFrame(s, e.frame);
  // As Sockudo: truncated by retention when what is kept no longer starts at the stream's first message.
  const oldest = core.replay.oldestSerial(app.id, channel, now);
  const truncatedByRetention = oldest !== undefined && oldest > 1;
  sendRewindComplete(core, s, channel, entries.length, !truncatedByLimit && !truncatedByRetention, truncatedByRetention, truncatedByLimit);
}

/**
 * A wildcard subscription's rewind: no channel's history is replayed for a pattern, but the client that asked gets
 * its `rewind_complete` (not complete, nothing replayed) instead of waiting for one that never comes.
 */
export function sendWildcardRewind(core: WsServer, s: SocketState, pattern: string): void {
  sendRewindComplete(core, s, pattern, 0, false, false, false);
}

function sendRewindComplete(core: WsServer, s: SocketState, channel: string, historical: number, complete: boolean, byRetention: boolean, byLimit: boolean): void {
  const data = { historical_count: historical, live_count: 0, complete, truncated_by_retention: byRetention, truncated_by_limit: byLimit };
  core.send(s, JSON.stringify({ event: 'sockudo:rewind_complete', channel, data }));
}

interface Position {
  stream_id: string;
  serial: number;
}

/**
 * A resume failure's detail, with every field Sockudo's failure frames carry: no serials, which Sockudo names only
 * for what its durable history could say (the hot buffer's failures name none).
 */
function failure(code: string | undefined, reason: string | undefined, expected: string | undefined, current?: string): Record<string, unknown> {
  return {
    code,
    reason,
    expected_stream_id: expected ?? null,
    current_stream_id: current ?? null,
    oldest_available_serial: null,
    newest_available_serial: null,
  };
}

/** `sockudo:resume` with `channel_positions`: replays what each channel missed, then resume_success. */
export function handleResume(core: WsServer, s: SocketState, data: unknown): void {
  const app = s.app as AppConfig;
  if (s.protocol !== 2 || !core.deps.config.connection_recovery.enabled) {
    return core.send(s, errorFrame(s.protocol, 4301, 'Connection recovery is not enabled'));
  }
  // Sockudo's reading of the body (parse_resume_positions): data present, an object or a JSON string holding one.
  if (data === undefined || data === null) return core.sendError(s, 'invalidMessage', 'Invalid message format: Missing data in resume message');
  let body: unknown = data;
  if (typeof data === 'string') {
    try {
      body = JSON.parse(data);
    } catch (err) {
      return core.sendError(s, 'invalidMessage', `Invalid message format: Invalid resume data JSON: ${(err as Error).message}`);
    }
  }
  const d = dataObject(body);
  if (d?.channel_positions === undefined && d?.channel_serials === undefined) {
    return core.sendError(s, 'invalidMessage', 'Invalid message format: Missing channel_positions or channel_serials in resume data');
  }
  // The legacy form, `{"channel_serials":{"orders":41}}`, counts only when channel_positions is absent.
  const positions = d.channel_positions === undefined ? {} : (dataObject(d.channel_positions) ?? {});
  const legacy = d.channel_positions === undefined ? (dataObject(d.channel_serials) ?? {}) : {};
  if (Object.keys(positions).length === 0 && Object.keys(legacy).length === 0) {
    return core.send(s, errorFrame(2, 4302, 'No channel recovery positions provided'));
  }
  s.resumed = true;
  // Held publishes are recorded when they go out (worker/fanoutHold.ts): out first, so the replay has those the
  // primary has answered (another worker may have sent them already). One still waiting for its answer is
  // recorded when the answer comes, as it would be without the hold.
  core.delivery.flushHeld();
  const now = Date.now();
  const recovered: unknown[] = [];
  const failed: unknown[] = [];
  const fail = (channel: string, detail: Record<string, unknown>) => {
    failed.push({ channel, ...detail });
    core.send(s, JSON.stringify({ event: 'sockudo:resume_failed', channel, data: JSON.stringify(detail) }));
  };
  const asked: { channel: string; streamId: string | undefined; serial: unknown; isLegacy: boolean }[] = [
    ...Object.entries(legacy).map(([channel, serial]) => ({ channel, streamId: undefined, serial, isLegacy: true })),
    ...Object.entries(positions).map(([channel, raw]) => {
      const pos = dataObject(raw) as Partial<Position> | null;
      return { channel, streamId: typeof pos?.stream_id === 'string' ? pos.stream_id : undefined, serial: pos?.serial, isLegacy: false };
    }),
  ];
  for (const { channel, streamId, serial, isLegacy } of asked) {
    if (typeof serial !== 'number' || !Number.isInteger(serial) || serial < 0) {
      fail(channel, failure('continuity_unverifiable', 'invalid_position', streamId));
      continue;
    }
    // A serial without its stream_id is looked up in the hot buffer's current stream only (as Sockudo does).
    const current = streamId ?? core.replay.position(app.id, channel, now)?.streamId;
    const result = current === undefined ? undefined : core.replay.since(app.id, channel, current, serial, now);
    // A legacy serial (channel_serials) that the hot buffer cannot serve has no cold path (every other field null).
    if (!result?.ok && isLegacy) {
      fail(channel, failure('continuity_unverifiable', 'legacy_serial_only_position_cannot_use_cold_recovery', undefined));
      continue;
    }
    if (!result?.ok) {
      fail(channel, failure(result?.code, result?.reason, streamId, result?.currentStreamId));
      continue;
    }
    // A held subscription already collected what came after it began: replay only what came before.
    const held = core.holds.get(s, channel);
    const missed = held ? result.entries.filter((e) => held.streamAtStart === result.streamId && e.serial <= held.serialAtStart) : result.entries;
    const entries = visible(missed, s.channels.get(channel)?.filter);
    for (const e of entries) core.sendChannelFrame(s, e.frame);
    recovered.push({
      channel,
      source: 'hot',
      replayed: entries.length,
      position: { stream_id: result.streamId, serial: result.serial, last_message_id: result.lastMessageId ?? null },
    });
  }
  core.send(s, JSON.stringify({ event: 'sockudo:resume_success', data: JSON.stringify({ recovered, failed }) }));
  // Then the live messages held back since the subscribe, in order, and live delivery from here on.
  core.holds.releaseAll(s);
}
