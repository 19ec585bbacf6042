// Parses one client→server frame (text, or binary holding the same JSON) into its event name and fields. Pure,
// never throws.

export type ClientFrame =
  | { ok: true; event: string; channel: unknown; data: unknown; extras: unknown }
  | { ok: false; error: 'invalidMessage' | 'missingEvent'; detail: string };

const decoder = new TextDecoder('utf-8', { fatal: true });

/**
 * Decodes the frame bytes (copied out of uWS's borrowed buffer by the decoder) and validates the envelope.
 * The event name keeps its prefix; `canonicalEvent` strips pusher:/sockudo: for dispatch.
 */
export function parseClientFrame(bytes: ArrayBuffer | Uint8Array): ClientFrame {
  let text: string;
  try {
    text = decoder.decode(bytes);
  } catch {
    return { ok: false, error: 'invalidMessage', detail: 'Invalid message format: frame is not valid UTF-8' };
  }
  let msg: unknown;
  try {
    msg = JSON.parse(text);
  } catch (err) {
    return { ok: false, error: 'invalidMessage', detail: `Invalid message format: Decode failed: ${(err as Error).message}` };
  }
  if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) {
    return { ok: false, error: 'invalidMessage', detail: `Invalid message format: Decode failed: invalid type: ${jsonKind(msg)}, expected a JSON object` };
  }
  const m = msg as Record<string, unknown>;
  // Sockudo decodes the frame into a typed message: a known field of the wrong type fails the whole decode.
  for (const field of STRING_FIELDS) {
    const v = m[field];
    if (v !== undefined && v !== null && typeof v !== 'string') return wrongType(field, v, 'a string');
  }
  if (m.serial !== undefined && m.serial !== null && !(typeof m.serial === 'number' && Number.isInteger(m.serial) && m.serial >= 0)) {
    return wrongType('serial', m.serial, 'a non-negative integer');
  }
  const { event, channel, data, extras } = m;
  // Only a missing event is an error; an empty name is an unknown event, ignored like any other.
  if (event === undefined || event === null) {
    return { ok: false, error: 'missingEvent', detail: 'Invalid event name: Event name is required' };
  }
  return { ok: true, event: event as string, channel, data, extras };
}

/** Envelope fields Sockudo's message type holds as strings (SOCKUDO-REFERENCE §1.5). */
const STRING_FIELDS = ['event', 'channel', 'name', 'user_id', 'message_id', 'stream_id', 'idempotency_key', 'conflation_key'] as const;

function wrongType(field: string, v: unknown, expected: string): ClientFrame {
  return { ok: false, error: 'invalidMessage', detail: `Invalid message format: Decode failed: invalid type: ${jsonKind(v)}, expected ${expected} for \`${field}\`` };
}

function jsonKind(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'sequence';
  if (typeof v === 'object') return 'map';
  if (typeof v === 'string') return `string ${JSON.stringify(v)}`;
  if (typeof v === 'boolean') return `boolean \`${v}\``;
  return typeof v === 'number' ? (Number.isInteger(v) ? `integer \`${v}\`` : `floating point \`${v}\``) : typeof v;
}

/**
 * `pusher:subscribe`, `sockudo:subscribe` (and the `_internal:` forms, which Sockudo accepts inbound too) →
 * `subscribe`; client and other events are returned unchanged.
 */
export function canonicalEvent(event: string): string {
  if (event.startsWith('pusher:')) return event.slice(7);
  if (event.startsWith('sockudo:')) return event.slice(8);
  if (event.startsWith('pusher_internal:')) return event.slice(16);
  if (event.startsWith('sockudo_internal:')) return event.slice(17);
  return event;
}

/** Subscribe/unsubscribe `data` may be an object or a JSON string holding one. */
export function dataObject(data: unknown): Record<string, unknown> | null {
  if (typeof data === 'string') {
    try {
      data = JSON.parse(data);
    } catch {
      return null;
    }
  }
  return typeof data === 'object' && data !== null && !Array.isArray(data) ? (data as Record<string, unknown>) : null;
}
