// A client's `channel_history` request (V2): answered as Sockudo answers it with durable history off, its default
// (sockudo-adapter handler/history_frames.rs), since this server keeps no durable history.
import type { SocketState } from './socketState.ts';
import type { WsServer } from './wsServer.ts';

const DIRECTIONS = new Set(['newest_first', 'backwards', 'reverse', 'oldest_first', 'forwards', 'forward']);

/** In Sockudo's order: the request's shape, the protocol, the socket's subscription, then the policy. */
export function handleChannelHistory(core: WsServer, s: SocketState, data: unknown): void {
  const request = readRequest(data);
  if (typeof request === 'string') return core.sendError(s, 'invalidMessage', `Invalid message format: ${request}`);
  if (s.protocol !== 2) return core.sendError(s, 'historyV1');
  if (!s.channels.has(request.channel)) {
    return core.sendError(s, 'historyNotSubscribed', `Client event error: Socket ${s.socketId} is not subscribed to channel ${request.channel}`);
  }
  core.sendError(s, 'historyDisabled', `Channel error: Durable history is disabled by policy for channel '${request.channel}'`);
}

/**
 * Sockudo's parse_channel_history_frame: `data` a JSON string or a JSON value holding `channel` (at the top or in
 * `params`) and an optional `direction`; otherwise the error text. Its frame decoder reads an object `data` with a
 * string `channel`, `channel_data` or `user_data` as "structured" data (meant for subscribe), which this parser does
 * not take: such a request is "Missing data", as there. (Cursors are not decoded: there is no history to page.)
 */
function readRequest(data: unknown): { channel: string } | string {
  if (data === undefined || data === null || isStructured(data)) return 'Missing data in channel_history message';
  let root: unknown = data;
  if (typeof data === 'string') {
    try {
      root = JSON.parse(data);
    } catch (err) {
      return `Invalid channel_history data JSON: ${(err as Error).message}`;
    }
  }
  const params = present(field(root, 'params'), root);
  // A field that is present (even null, or not a string) wins over the other place, as Sockudo's `or_else` reads them.
  const channel = present(field(root, 'channel'), field(params, 'channel'));
  if (typeof channel !== 'string') return 'Missing channel in channel_history message';
  const direction = present(field(params, 'direction'), field(root, 'direction'));
  if (typeof direction === 'string' && !DIRECTIONS.has(direction)) return `Unsupported history direction: ${direction}`;
  return { channel };
}

function isStructured(data: unknown): boolean {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return false;
  const d = data as Record<string, unknown>;
  return typeof d.channel === 'string' || typeof d.channel_data === 'string' || typeof d.user_data === 'string';
}

function present(first: unknown, otherwise: unknown): unknown {
  return first !== undefined ? first : otherwise;
}

/** An object's own field (JSON null included); undefined when absent or when `v` is not an object. */
function field(v: unknown, key: string): unknown {
  if (typeof v !== 'object' || v === null || Array.isArray(v) || !Object.hasOwn(v, key)) return undefined;
  return (v as Record<string, unknown>)[key];
}
