// Hashes of provider tokens and device identity tokens: what we store and show instead of the secrets.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** sha256 hex of a provider token or endpoint (Sockudo's `tokenHash`). */
export function tokenHash(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** A new device identity token (32 random bytes, base64url): shown once, stored only as a hash. */
export function newIdentityToken(): string {
  return randomBytes(32).toString('base64url');
}

/** Identity tokens are 256 random bits, so a plain sha256 is as strong as a slow hash here. */
export function identityMatches(token: string, storedHash: string | null): boolean {
  if (!storedHash) return false;
  const a = Buffer.from(tokenHash(token), 'hex');
  const b = Buffer.from(storedHash, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}
