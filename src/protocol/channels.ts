// Channel-name rules: which characters and lengths are allowed, and which kind of channel a name denotes.

export type ChannelType = 'public' | 'private' | 'private_encrypted' | 'presence' | 'cache';

// Sockudo's allowed set (crates/sockudo-core/src/utils.rs): letters, digits and - _ = @ , ; . : #
const VALID_CHANNEL = /^[A-Za-z0-9_\-=@,;.:#]+$/;

/** Returns an error text (Sockudo's), or null when the name is acceptable. Length is counted in UTF-8 bytes. */
export function channelNameError(name: unknown, maxLength: number): string | null {
  if (typeof name !== 'string' || name.length === 0) return 'Channel name is required';
  // In UTF-8 bytes, before the alphabet, as Sockudo checks it (a UTF-8 byte count is at most 3 per UTF-16 unit).
  if (name.length > maxLength || (name.length * 3 > maxLength && Buffer.byteLength(name) > maxLength)) return `Channel name too long. Max length is ${maxLength}`;
  if (!VALID_CHANNEL.test(name)) return `Channel name contains invalid characters: '${name}' (invalid chars: [${invalidChars(name)}])`;
  // `base#user1,user2` is Sockudo's user-limited syntax, which only a channel namespace may allow; this server has
  // no namespaces. A leading `#` (as in `#server-to-user-{id}`) has no base and is an ordinary name.
  if (name.includes('#') && logicalName(name).indexOf('#') > 0) return `Channel '${name}' uses user-limited syntax but the namespace does not allow it`;
  return null;
}

/** The characters of `name` outside the alphabet, as Rust prints a list of chars (`' ', '/'`). */
function invalidChars(name: string): string {
  const out: string[] = [];
  for (const ch of name) if (!VALID_CHANNEL.test(ch)) out.push(`'${rustCharEscape(ch)}'`);
  return out.join(', ');
}

const RUST_CHAR_ESCAPES: Readonly<Record<string, string>> = { '\t': '\\t', '\r': '\\r', '\n': '\\n', '\\': '\\\\', "'": "\\'" };

function rustCharEscape(ch: string): string {
  if (RUST_CHAR_ESCAPES[ch]) return RUST_CHAR_ESCAPES[ch];
  const code = ch.codePointAt(0) ?? 0;
  return code < 0x20 || code === 0x7f ? `\\u{${code.toString(16)}}` : ch;
}

/** Type prefixes Sockudo strips before it reads a channel's namespace and user-limit suffix (longest first). */
const TYPE_PREFIXES = ['private-encrypted-cache-', 'private-cache-', 'presence-cache-', 'cache-', 'private-encrypted-', 'presence-', 'private-'];

function logicalName(name: string): string {
  for (const p of TYPE_PREFIXES) if (name.startsWith(p)) return name.slice(p.length);
  return name;
}

const CACHE_PREFIXES = ['cache-', 'private-cache-', 'private-encrypted-cache-', 'presence-cache-'];

/** Cache channels keep their last HTTP-published event for new subscribers. */
export function isCacheChannel(name: string): boolean {
  return CACHE_PREFIXES.some((p) => name.startsWith(p));
}

export function isPresenceChannel(name: string): boolean {
  return name.startsWith('presence-');
}

/**
 * Client events are allowed on these: private and presence channels, not public, encrypted or cache channels.
 * `private-cache-*` (and `private-encrypted-cache-*`) are cache channels that merely require a signature, as
 * Sockudo counts them; `presence-cache-*` is a presence channel here, so it allows them.
 */
export function allowsClientEvents(name: string): boolean {
  if (name.startsWith('presence-')) return true;
  return name.startsWith('private-') && !name.startsWith('private-encrypted-') && !name.startsWith('private-cache-');
}

export function channelType(name: string): ChannelType {
  if (name.startsWith('presence-')) return 'presence';
  if (name.startsWith('private-encrypted-')) return 'private_encrypted';
  if (name.startsWith('private-')) return 'private';
  if (name.startsWith('cache-')) return 'cache';
  return 'public';
}

/** Channels whose subscription needs a signature from the app's auth endpoint. */
export function requiresAuth(name: string): boolean {
  return name.startsWith('private-') || name.startsWith('presence-');
}
