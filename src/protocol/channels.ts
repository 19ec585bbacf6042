// Channel-name rules: which characters and lengths are allowed, and which kind of channel a name denotes.

export type ChannelType = 'public' | 'private' | 'private_encrypted' | 'presence' | 'cache';

// Sockudo's allowed set (crates/sockudo-core/src/utils.rs): letters, digits and - _ = @ , ; . : #
const VALID_CHANNEL = /^[A-Za-z0-9_\-=@,;.:#]+$/;

/** Returns an error text, or null when the name is acceptable. Length is counted in bytes (ASCII-only names). */
export function channelNameError(name: unknown, maxLength: number): string | null {
  if (typeof name !== 'string' || name.length === 0) return 'Channel name is required';
  if (name.length > maxLength) return `Channel name too long. Max length is ${maxLength}`;
  if (!VALID_CHANNEL.test(name)) return `Channel name contains invalid characters: '${name.slice(0, 64)}'`;
  return null;
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
