// Parses one client→server frame into a canonical event name and its fields. Pure, never throws.

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
    return { ok: false, error: 'invalidMessage', detail: 'Invalid message format: expected a JSON object' };
  }
  const { event, channel, data, extras } = msg as Record<string, unknown>;
  if (event === undefined || event === null || event === '') {
    return { ok: false, error: 'missingEvent', detail: 'Invalid event name: Event name is required' };
  }
  if (typeof event !== 'string') {
    return { ok: false, error: 'invalidMessage', detail: 'Invalid message format: event must be a string' };
  }
  return { ok: true, event, channel, data, extras };
}

/** `pusher:subscribe`, `sockudo:subscribe` → `subscribe`; client and other events are returned unchanged. */
export function canonicalEvent(event: string): string {
  if (event.startsWith('pusher:')) return event.slice(7);
  if (event.startsWith('sockudo:')) return event.slice(8);
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
