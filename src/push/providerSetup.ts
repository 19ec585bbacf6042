// Builds the enabled push providers from configuration: reads credential files (or the stored FCM / APNs
// credential the configuration names), checks that each enabled provider has what it needs (failing start-up with
// the key to fix), and keeps VAPID keys for development.
import { linkSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { threadId } from 'node:worker_threads';
import webpush from 'web-push';
import type { PushConfig } from '../config/pushSchema.ts';
import { ConfigError } from '../config/load.ts';
import type { Logger } from '../log.ts';
import type { CryptoPool } from './cryptoPool.ts';
import type { VapidKeys } from './cryptoTasks.ts';
import { loadStoredCredentials } from './credentials.ts';
import { ApnsSender } from './providers/apns.ts';
import { FcmSender } from './providers/fcm.ts';
import { HmsSender } from './providers/hms.ts';
import type { ServiceAccount } from './providers/googleAccessToken.ts';
import type { ProviderSender } from './providers/provider.ts';
import { WebPushSender } from './providers/webPush.ts';
import { WnsSender } from './providers/wns.ts';
import type { PushStore } from './store.ts';
import type { Provider } from './types.ts';

export interface ProviderSetup {
  senders: Map<Provider, ProviderSender>;
  /** The VAPID public key browsers subscribe with (applicationServerKey), when Web Push is on. */
  vapidPublicKey: string | null;
}

/** `store`: where the FCM / APNs credentials named by `credential_app_id` are read from (credentials.ts). */
export async function setUpProviders(config: PushConfig, mode: 'development' | 'production', pool: CryptoPool, log: Logger, store: PushStore): Promise<ProviderSetup> {
  const stored = await loadStoredCredentials(config, store, log);
  const senders = new Map<Provider, ProviderSender>();
  const connections = config.concurrency_per_provider;
  let vapidPublicKey: string | null = null;
  if (config.webpush.enabled) {
    const vapid = vapidKeys(config, mode, log);
    if (vapid) {
      senders.set('webPush', new WebPushSender(pool, vapid, config.webpush, connections));
      vapidPublicKey = vapid.publicKey;
    }
  }
  if (config.fcm.enabled) {
    const account = stored.fcm ?? configuredServiceAccount(config);
    const projectId = config.fcm.project_id || account.project_id;
    if (!projectId) throw new ConfigError('push.fcm.project_id: required when the service account JSON has no project_id');
    const tokenUri = config.fcm.token_uri || account.token_uri || 'https://oauth2.googleapis.com/token';
    senders.set('fcm', new FcmSender(account, projectId, config.fcm.endpoint, tokenUri, pool, connections));
  }
  if (config.apns.enabled) {
    const a = stored.apns ? { ...config.apns, team_id: stored.apns.teamId, key_id: stored.apns.keyId } : config.apns;
    const key = stored.apns?.privateKey ?? (a.private_key || readSecret(a.private_key_path, 'push.apns.private_key_path'));
    const missing = [!a.team_id && 'team_id', !a.key_id && 'key_id', !key && 'private_key (or private_key_path)', !a.topic && 'topic'].filter(Boolean);
    if (missing.length > 0) throw new ConfigError(`push.apns: enabled, but ${missing.join(', ')} not set`);
    senders.set('apns', new ApnsSender(a, key, pool));
  }
  // HMS and WNS take static bearer tokens, as Sockudo's workers do (HMS_PROVIDER_TOKEN, WNS_PROVIDER_TOKEN).
  if (config.hms.enabled) {
    const missing = [!config.hms.app_id.trim() && 'app_id (HMS_APP_ID / PUSH_HMS_APP_ID)', !config.hms.provider_token.trim() && 'provider_token (HMS_PROVIDER_TOKEN / PUSH_HMS_PROVIDER_TOKEN)'].filter(Boolean);
    if (missing.length > 0) throw new ConfigError(`push.hms: enabled, but ${missing.join(', ')} not set`);
    senders.set('hms', new HmsSender(config.hms, connections));
  }
  if (config.wns.enabled) {
    if (!config.wns.provider_token.trim()) throw new ConfigError('push.wns: enabled, but provider_token (WNS_PROVIDER_TOKEN / PUSH_WNS_PROVIDER_TOKEN) not set');
    senders.set('wns', new WnsSender(config.wns, connections));
  }
  return { senders, vapidPublicKey };
}

function configuredServiceAccount(config: PushConfig): ServiceAccount {
  const text = config.fcm.service_account_json || readSecret(config.fcm.service_account_path, 'push.fcm.service_account_path');
  if (!text) throw new ConfigError('push.fcm: enabled, but neither service_account_json nor service_account_path is set');
  let account: ServiceAccount;
  try {
    account = JSON.parse(text) as ServiceAccount;
  } catch {
    throw new ConfigError('push.fcm.service_account_json: not valid JSON');
  }
  if (!account.client_email || !account.private_key) throw new ConfigError('push.fcm: the service account JSON needs client_email and private_key');
  return account;
}

function readSecret(path: string, key: string): string {
  if (!path) return '';
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`${key}: cannot read ${path} (${(err as Error).message})`);
  }
}

/**
 * The configured VAPID keys; in development, keys generated on first run and kept next to the push
 * database (so browser subscriptions stay valid across restarts). Production without keys: Web Push off.
 */
function vapidKeys(config: PushConfig, mode: 'development' | 'production', log: Logger): VapidKeys | null {
  const subject = config.webpush.vapid_subject;
  const { vapid_public_key: publicKey, vapid_private_key: privateKey } = config.webpush;
  if (publicKey && privateKey) return { subject, publicKey, privateKey };
  if (publicKey || privateKey) throw new ConfigError('push.webpush: set both vapid_public_key and vapid_private_key, or neither');
  if (mode !== 'development' || config.storage.driver !== 'sqlite') {
    log.warn('push: Web Push is off: set push.webpush.vapid_public_key and vapid_private_key (npx web-push generate-vapid-keys)');
    return null;
  }
  const file = join(dirname(config.storage.sqlite_path), 'vapid-keys.json');
  const { keys, created } = developmentVapidKeys(file);
  if (created) log.info({ file, publicKey: keys.publicKey }, 'push: generated development VAPID keys');
  return { subject, ...keys };
}

/**
 * The development VAPID keys kept in `file`, generated when it does not exist yet. Several hosts started together
 * from one directory share the file: a new one is written whole under a temporary name and linked into place,
 * which fails if another host got there first, so each host either creates the file or reads a complete one, and
 * all of them use the same keys (reading a file another host had only begun to write failed its start-up).
 */
export function developmentVapidKeys(file: string): { keys: { publicKey: string; privateKey: string }; created: boolean } {
  const read = () => {
    const text = readFileSync(file, 'utf8');
    try {
      return JSON.parse(text) as { publicKey: string; privateKey: string };
    } catch {
      throw new ConfigError(`push: ${file} holds no valid VAPID keys (delete it to have new ones generated)`);
    }
  };
  try {
    return { keys: read(), created: false };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const keys = webpush.generateVAPIDKeys();
  const temporary = `${file}.${process.pid}.${threadId}.tmp`;
  writeFileSync(temporary, JSON.stringify(keys), { mode: 0o600 });
  try {
    linkSync(temporary, file);
    return { keys, created: true };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    return { keys: read(), created: false };
  } finally {
    unlinkSync(temporary);
  }
}
