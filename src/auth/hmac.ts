// HMAC-SHA256 signing and constant-time comparison, the primitives of every Pusher signature.
import { hash } from 'node:crypto';

/** SHA-256's block size: HMAC keys are padded (or first hashed) to this many bytes. */
const BLOCK = 64;
const DIGEST = 32;

/** One secret's HMAC pads, made once (secrets come from the app configuration only). */
interface HmacKey {
  /** K ⊕ ipad as a string when every byte is ASCII (then its UTF-8 encoding is those bytes), else undefined. */
  innerText: string | undefined;
  inner: Buffer;
  /** K ⊕ opad followed by room for the inner digest: the whole outer message, reused by every signature. */
  outer: Buffer;
}

const keys = new Map<string, HmacKey>();

function hmacKey(secret: string): HmacKey {
  let key = keys.get(secret);
  if (key) return key;
  let bytes = Buffer.from(secret, 'utf8');
  if (bytes.length > BLOCK) bytes = hash('sha256', bytes, 'buffer');
  const inner = Buffer.alloc(BLOCK);
  const outer = Buffer.alloc(BLOCK + DIGEST);
  for (let i = 0; i < BLOCK; i++) {
    const k = bytes[i] ?? 0; // the key, zero-padded to a block
    inner[i] = k ^ 0x36;
    outer[i] = k ^ 0x5c;
  }
  key = { innerText: inner.every((b) => b < 0x80) ? inner.toString('latin1') : undefined, inner, outer };
  keys.set(secret, key);
  return key;
}

/**
 * Lowercase hex HMAC-SHA256 of the UTF-8 message (RFC 2104), from two one-shot hashes. Every API request and
 * private subscription is signed, and `createHmac`, a native object per call, made the HMAC a fifth of a signed
 * publish's server CPU; this way measured 1.07× the publishes/s (docs/benchmarks.md, "Session 10").
 * Checked against `createHmac` in test/unit/api-signature.test.ts.
 */
export function sign(secret: string, message: string): string {
  const key = hmacKey(secret);
  const innerDigest = hash('sha256', key.innerText !== undefined ? key.innerText + message : Buffer.concat([key.inner, Buffer.from(message, 'utf8')]), 'buffer');
  innerDigest.copy(key.outer, BLOCK);
  return hash('sha256', key.outer, 'hex');
}

/** One-shot hash: no Hash object per request (1.2 KB body: 2.9 µs against 4.0 µs for createHash here). */
export function md5Hex(body: string | Uint8Array): string {
  return hash('md5', body, 'hex');
}

/**
 * Compares two strings in time independent of where they differ (lengths may leak, as with any MAC check): every
 * UTF-16 code unit is XORed into one accumulator, with no early exit. Two `Buffer.from` copies and
 * `timingSafeEqual` cost 5 % of a signed publish's worker time, twice per request (docs/benchmarks.md, "Session 14").
 */
export function safeEqual(a: string, b: string): boolean {
  const n = a.length;
  let diff = n ^ b.length;
  for (let i = 0; i < n; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i); // NaN past b's end: ^ makes it 0, diff already non-zero
  return diff === 0;
}

/** Private-channel auth: `key:` + hex HMAC of `socket_id:channel` (presence adds `:channel_data`). */
export function channelAuthValid(key: string, secret: string, socketId: string, channel: string, auth: string, channelData?: string): boolean {
  const message = channelData ? `${socketId}:${channel}:${channelData}` : `${socketId}:${channel}`;
  return safeEqual(auth, `${key}:${sign(secret, message)}`);
}
