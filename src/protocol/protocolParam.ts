// The `?protocol=` query parameter of a WebSocket upgrade, read as Sockudo reads it: a number from 0 to 255 (its
// u8), where 2 selects Protocol V2 and any other number, or none, Protocol V1 (pusher-js sends 7). Anything
// else is refused with HTTP 400 before the upgrade, as Sockudo's query parsing refuses it.
import type { ProtocolVersion } from './frames.ts';

/** The protocol version asked for; undefined when the parameter is not a number from 0 to 255. */
export function protocolFromQuery(value: string | undefined): ProtocolVersion | undefined {
  if (value === undefined || value === '') return 1;
  if (!/^\+?\d{1,3}$/.test(value)) return undefined;
  const n = Number(value);
  if (n > 255) return undefined;
  return n === 2 ? 2 : 1;
}
