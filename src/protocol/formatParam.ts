// The `?format=` query parameter of a Protocol V2 upgrade. Sockudo accepts json (the default, also when empty),
// msgpack/messagepack and protobuf/proto, in any case, and refuses anything else with HTTP 400 before the upgrade.
// This server speaks JSON only: the binary formats are refused before the upgrade too, with a body that says so,
// rather than accepted and answered with JSON frames a client expecting binary ones could not decode.
// Protocol V1 ignores the parameter (always JSON).

export type FormatVerdict =
  | { ok: true }
  | { ok: false; code: 'invalid_format' | 'unsupported_format'; message: string };

const BINARY_FORMATS: Record<string, string> = { msgpack: 'MessagePack', messagepack: 'MessagePack', protobuf: 'Protobuf', proto: 'Protobuf' };

/** Whether a V2 upgrade's `format` can be served; the refusal carries the HTTP 400 body's code and message. */
export function formatFromQuery(value: string | undefined): FormatVerdict {
  const format = (value ?? '').toLowerCase();
  if (format === '' || format === 'json') return { ok: true };
  const binary = BINARY_FORMATS[format];
  if (binary !== undefined) {
    return { ok: false, code: 'unsupported_format', message: `The ${binary} wire format (format=${format}) is not supported by this server; connect with format=json or without format` };
  }
  return { ok: false, code: 'invalid_format', message: `Unknown format '${value!.slice(0, 32)}': expected json, msgpack or protobuf (this server supports json only)` };
}
