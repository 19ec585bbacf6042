// Provider credentials as Sockudo's push API stores them (`POST /push/credentials/{provider}`, push_http.rs
// `post_*_credential`, domain.rs `ProviderCredential`): one document per (app, credentialId), secrets encrypted at
// rest, never shown back; and, at start, the FCM / APNs credential that FCM_APP_ID / APNS_APP_ID name.
import type { PushConfig } from '../config/pushSchema.ts';
import { ConfigError } from '../config/load.ts';
import { HttpError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { CredentialCipher } from './credentialCipher.ts';
import type { ServiceAccount } from './providers/googleAccessToken.ts';
import type { PushStore } from './store.ts';

export type CredentialProvider = 'fcm' | 'apns' | 'webPush' | 'hms' | 'wns';

/** The stored document (kind 'credential', id = credentialId). Secret fields hold CredentialCipher envelopes. */
export interface StoredCredential {
  appId: string;
  credentialId: string;
  provider: CredentialProvider;
  version: number;
  material: Record<string, string>;
}

type FieldKind = 'secret' | 'plain' | 'json';
interface Field {
  name: string;
  kind: FieldKind;
  required: boolean;
}

const secret = (name: string, required = true): Field => ({ name, kind: 'secret', required });
const plain = (name: string, required = true): Field => ({ name, kind: 'plain', required });

/** Path segment → provider, default credentialId and body fields, in Sockudo's order (the order its checks run in). */
const PROVIDERS: Record<string, { provider: CredentialProvider; fields: Field[] }> = {
  fcm: { provider: 'fcm', fields: [{ name: 'serviceAccountJson', kind: 'json', required: true }] },
  apns: { provider: 'apns', fields: [secret('p12', false), secret('p12Password', false), secret('pem', false), plain('teamId', false), plain('keyId', false), secret('privateKey', false)] },
  webpush: { provider: 'webPush', fields: [plain('publicKey'), secret('privateKey')] },
  hms: { provider: 'hms', fields: [plain('hmsAppId'), secret('clientSecret')] },
  wns: { provider: 'wns', fields: [plain('packageSid'), secret('clientSecret')] },
};

export const CREDENTIAL_PATHS = Object.keys(PROVIDERS);

const NO_KEY = 'PUSH_CREDENTIAL_ENCRYPTION_KEY must be configured before storing push credentials';

/**
 * The credential a `POST /push/credentials/{path}` body describes, its secrets encrypted with `encryptionKey`.
 * Refusals are 400s with Sockudo's texts, in its order: body shape, a blank secret, no key, then its store's
 * validation (which Sockudo answers with a 500).
 */
export function parseCredential(path: string, body: unknown, appId: string, encryptionKey: string): StoredCredential {
  const spec = Object.hasOwn(PROVIDERS, path) ? PROVIDERS[path] : undefined;
  if (!spec) throw new HttpError('notFound', `no push credentials route for "${path}" (${CREDENTIAL_PATHS.join(', ')})`);
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new HttpError('invalidInput', '(body): expected a JSON object');
  const input = body as Record<string, unknown>;
  const credentialId = input.credentialId ?? path;
  if (typeof credentialId !== 'string') throw new HttpError('invalidInput', 'credentialId: expected a string');
  const version = input.version ?? 1;
  if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 0) throw new HttpError('invalidInput', 'version: expected a non-negative integer');
  for (const f of spec.fields) {
    const value = input[f.name];
    if (value === undefined || (value === null && f.kind !== 'json')) {
      if (f.required) throw new HttpError('invalidInput', `${f.name}: required`);
    } else if (f.kind !== 'json' && typeof value !== 'string') {
      throw new HttpError('invalidInput', `${f.name}: expected a string`);
    }
  }

  const key = encryptionKey.trim();
  const cipher = key ? new CredentialCipher(key) : null;
  const material: Record<string, string> = {};
  for (const f of spec.fields) {
    const value = input[f.name];
    if (value === undefined || (value === null && f.kind !== 'json')) continue;
    if (f.kind === 'plain') {
      material[f.name] = value as string;
      continue;
    }
    const text = f.kind === 'json' ? JSON.stringify(value) : (value as string);
    if (text.trim() === '') throw new HttpError('invalidInput', 'secret must not be empty');
    if (!cipher) throw new HttpError('invalidInput', NO_KEY);
    material[f.name] = cipher.encrypt(text);
  }

  if (credentialId.trim() === '') throw new HttpError('invalidInput', 'credentialId must not be empty');
  if (credentialId.includes('\u0000')) throw new HttpError('invalidInput', 'credentialId is invalid: must not contain NUL characters');
  if (version === 0) throw new HttpError('invalidInput', 'version is invalid: must be greater than zero');
  checkMaterial(spec.provider, material);
  return { appId, credentialId, provider: spec.provider, version, material };
}

/** domain.rs `ProviderCredentialMaterial::validate`. */
function checkMaterial(provider: CredentialProvider, m: Record<string, string>): void {
  const nonEmpty = (field: string) => {
    if ((m[field] ?? '').trim() === '') throw new HttpError('invalidInput', `${field} must not be empty`);
  };
  if (provider === 'apns') {
    const token = m.teamId !== undefined && m.keyId !== undefined && m.privateKey !== undefined;
    if (m.p12 === undefined && m.pem === undefined && !token) throw new HttpError('invalidInput', 'material is invalid: apns requires p12, pem, or token auth material');
    if (token) {
      nonEmpty('teamId');
      nonEmpty('keyId');
    }
  } else if (provider === 'webPush') nonEmpty('publicKey');
  else if (provider === 'hms') nonEmpty('hmsAppId');
  else if (provider === 'wns') nonEmpty('packageSid');
}

/** What the API shows of a credential (Sockudo's `CredentialResponse`, snake_case): never its material. */
export function credentialView(c: StoredCredential) {
  return { app_id: c.appId, credential_id: c.credentialId, provider: c.provider, version: c.version };
}

/** The stored credentials the providers use instead of their configured ones (null: the configured one). */
export interface StoredProviderCredentials {
  fcm: ServiceAccount | null;
  apns: { teamId: string; keyId: string; privateKey: string } | null;
}

const FCM_VARS = 'push.fcm.credential_app_id (FCM_APP_ID / PUSH_FCM_APP_ID)';
const APNS_VARS = 'push.apns.credential_app_id (APNS_APP_ID / PUSH_APNS_APP_ID)';

/**
 * Reads, once at start as Sockudo does, the FCM and APNs credentials that `push.fcm.credential_app_id` /
 * `push.apns.credential_app_id` name (with `credential_id`). Anything missing or unreadable stops start-up with a
 * message naming the variables, rather than running without the provider.
 */
export async function loadStoredCredentials(config: PushConfig, store: PushStore, log: Logger): Promise<StoredProviderCredentials> {
  const found: StoredProviderCredentials = { fcm: null, apns: null };
  const load = async (section: 'fcm' | 'apns', vars: string): Promise<{ c: StoredCredential; reveal: (field: string) => string } | null> => {
    const { credential_app_id: appId, credential_id: id, enabled } = config[section];
    if (!appId) return null;
    if (!enabled) {
      log.warn(`push: ${vars} is set but push.${section}.enabled is false; the stored credential is not used`);
      return null;
    }
    const what = `the stored credential "${id}" of app "${appId}" (${vars}, push.${section}.credential_id)`;
    const c = (await store.getDocument(appId, 'credential', id)) as StoredCredential | null;
    if (!c) throw new ConfigError(`${vars}: no stored credential "${id}" for app "${appId}"; store it with POST /apps/${appId}/push/credentials/${section} and restart, or unset the variable`);
    if (c.provider !== section) throw new ConfigError(`${vars}: ${what} is a ${c.provider} credential, not ${section}`);
    const key = config.credential_encryption_key.trim();
    if (!key) throw new ConfigError(`${vars}: set, but PUSH_CREDENTIAL_ENCRYPTION_KEY (push.credential_encryption_key) is not; it is needed to decrypt ${what}`);
    const cipher = new CredentialCipher(key);
    const reveal = (field: string) => {
      try {
        return cipher.decrypt(c.material[field] ?? '');
      } catch (err) {
        throw new ConfigError(`${vars}: cannot decrypt ${field} of ${what}: ${(err as Error).message}; PUSH_CREDENTIAL_ENCRYPTION_KEY must be the key it was stored with`);
      }
    };
    return { c, reveal };
  };

  const fcm = await load('fcm', FCM_VARS);
  if (fcm) {
    let account: unknown;
    try {
      account = JSON.parse(fcm.reveal('serviceAccountJson'));
      // The JSON file's text posted as a string (`"serviceAccountJson": "{…}"`) is stored as a JSON string: read it too.
      if (typeof account === 'string') account = JSON.parse(account);
    } catch (err) {
      if (err instanceof ConfigError) throw err;
      account = null;
    }
    const a = account as Partial<ServiceAccount> | null;
    if (typeof a !== 'object' || a === null || typeof a.client_email !== 'string' || typeof a.private_key !== 'string') {
      throw new ConfigError(`${FCM_VARS}: the stored credential "${fcm.c.credentialId}" of app "${fcm.c.appId}" is not a service account JSON with client_email and private_key`);
    }
    found.fcm = a as ServiceAccount;
  }
  const apns = await load('apns', APNS_VARS);
  if (apns) {
    const { teamId, keyId, privateKey } = apns.c.material;
    // Our APNs sender signs ES256 provider tokens; it has no TLS-certificate (pem / p12) mode.
    if (teamId === undefined || keyId === undefined || privateKey === undefined) {
      throw new ConfigError(
        `${APNS_VARS}: the stored credential "${apns.c.credentialId}" of app "${apns.c.appId}" has certificate material (pem / p12) only, ` +
          'and sockudo-ts sends to APNs with token auth; store teamId, keyId and privateKey (the .p8 key) under that id, or unset the variable',
      );
    }
    found.apns = { teamId, keyId, privateKey: apns.reveal('privateKey') };
  }
  return found;
}
