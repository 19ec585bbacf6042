// Encryption at rest of stored provider-credential secrets, in Sockudo's envelope (push_http.rs `encrypted_secret`):
// AES-256-GCM, key = SHA-256 of PUSH_CREDENTIAL_ENCRYPTION_KEY, a random 12-byte nonce per secret, stored as
// `envelope:v1:aes256gcm:` + base64url(nonce ‖ ciphertext ‖ 16-byte tag), so either server can read the other's.
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

const PREFIX = 'envelope:v1:aes256gcm:';
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

export class CredentialCipher {
  private readonly key: Buffer;

  /** `secret` is the configured encryption key text (trimmed, as Sockudo does); it must not be empty. */
  constructor(secret: string) {
    this.key = createHash('sha256').update(secret.trim()).digest();
  }

  encrypt(plaintext: string): string {
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, nonce);
    const sealed = Buffer.concat([nonce, cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
    return PREFIX + sealed.toString('base64url');
  }

  /** The plaintext; throws (without the secret in the message) for another key, a damaged or unknown envelope. */
  decrypt(envelope: string): string {
    if (!envelope.startsWith(PREFIX)) throw new Error('unsupported credential envelope');
    const sealed = Buffer.from(envelope.slice(PREFIX.length), 'base64url');
    if (sealed.length < NONCE_BYTES + TAG_BYTES) throw new Error('encrypted credential envelope is too short');
    const decipher = createDecipheriv('aes-256-gcm', this.key, sealed.subarray(0, NONCE_BYTES));
    decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
    try {
      return Buffer.concat([decipher.update(sealed.subarray(NONCE_BYTES, sealed.length - TAG_BYTES)), decipher.final()]).toString('utf8');
    } catch {
      throw new Error('failed to decrypt credential material (not the key it was stored with, or a damaged envelope)');
    }
  }
}
