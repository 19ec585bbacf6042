// A signed client for the /push API (the pusher SDK has no DELETE and sets no push headers).
import { after, before } from 'node:test';
import { type ApnsServer, type FcmServer, type WebPushService, startApnsServer, startFcmServer, startWebPushService } from './pushProviders.ts';
import { type TestServer, eventually, startTestServer } from './server.ts';
import { signedUrl } from './signing.ts';

export interface PushReply {
  status: number;
  body: any;
  headers: Headers;
}

export function pushClient(port: number, appId = 'app-id', key = 'app-key', secret = 'app-secret') {
  const base = `http://127.0.0.1:${port}`;
  const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}, extra: Record<string, string> = {}): Promise<PushReply> => {
    const text = body === undefined ? undefined : JSON.stringify(body);
    const url = signedUrl(base, { method, path: `/apps/${appId}/push${path}`, body: text ?? '', key, secret, extra });
    const res = await fetch(url, { method, body: text, headers: { 'content-type': 'application/json', ...headers } });
    const raw = await res.text();
    return { status: res.status, body: raw ? JSON.parse(raw) : null, headers: res.headers };
  };
  return {
    post: (path: string, body: unknown, headers?: Record<string, string>) => call('POST', path, body, headers),
    get: (path: string, query: Record<string, string> = {}, headers?: Record<string, string>) => call('GET', path, undefined, headers, query),
    del: (path: string, query: Record<string, string> = {}, headers?: Record<string, string>) => call('DELETE', path, undefined, headers, query),
  };
}

export type PushClient = ReturnType<typeof pushClient>;

/** Registers a device in Sockudo's DeviceDetails shape and subscribes it to `channels`. */
export async function registerDevice(api: PushClient, id: string, recipient: Record<string, unknown>, channels: string[] = [], clientId?: string): Promise<PushReply> {
  const reply = await api.post('/deviceRegistrations', {
    appId: 'app-id',
    id,
    ...(clientId ? { clientId } : {}),
    formFactor: 'phone',
    platform: 'other',
    metadata: {},
    deviceSecret: 'placeholder',
    timezone: 'UTC',
    locale: 'en',
    push: { state: 'ACTIVE', recipient },
  });
  if (reply.status !== 201) throw new Error(`device registration failed: ${reply.status} ${JSON.stringify(reply.body)}`);
  for (const channel of channels) {
    const sub = await api.post('/channelSubscriptions', { appId: 'app-id', channel, deviceId: id, tokenHash: reply.body.tokenHash });
    if (sub.status !== 201) throw new Error(`channel subscription failed: ${sub.status} ${JSON.stringify(sub.body)}`);
  }
  return reply;
}

/** Push configuration pointing every provider at the local servers, with quick retries. */
export function pushConfig(_webPush: WebPushService, fcm: FcmServer, apns: ApnsServer, extra: Record<string, unknown> = {}) {
  return {
    fcm: { enabled: true, service_account_json: JSON.stringify(fcm.serviceAccount), endpoint: fcm.url },
    apns: { enabled: true, team_id: apns.teamId, key_id: apns.keyId, private_key: apns.privateKeyPem, topic: apns.topic, endpoint: apns.url },
    retry: { max_attempts: 3, initial_backoff_ms: 50, max_backoff_ms: 200, jitter_ratio_percent: 20 },
    ...extra,
  };
}


/** A test server with push, the three local provider servers, and a signed push client. */
export interface PushBed {
  web: WebPushService;
  fcm: FcmServer;
  apns: ApnsServer;
  server: TestServer;
  api: PushClient;
}

/**
 * Registers the suite's before/after hooks that start a push test bed (`push` is merged over pushConfig's defaults)
 * and stop it; the returned object is filled in by the time the suite's tests run.
 */
export function pushBed(push: Record<string, unknown> = { acceptance_rps: 1000 }): PushBed {
  const bed = {} as PushBed;
  before(async () => {
    [bed.web, bed.fcm, bed.apns] = await Promise.all([startWebPushService(), startFcmServer(), startApnsServer()]);
    bed.server = await startTestServer({ push: pushConfig(bed.web, bed.fcm, bed.apns, push) });
    bed.api = pushClient(bed.server.port);
  });
  after(async () => {
    await bed.server.shutdown();
    await Promise.all([bed.web.close(), bed.fcm.close(), bed.apns.close()]);
  });
  return bed;
}

const TERMINAL = new Set(['succeeded', 'partiallySucceeded', 'failed', 'dead_lettered', 'expired', 'cancelled']);

/** A publish's status document once it reached a terminal state. */
export function finalStatus(api: PushClient, publishId: string, timeoutMs = 10_000) {
  return eventually(async () => {
    const s = await api.get(`/publish/${publishId}/status`);
    return TERMINAL.has(s.body?.state) ? s.body : null;
  }, `publish ${publishId} to finish`, timeoutMs);
}
