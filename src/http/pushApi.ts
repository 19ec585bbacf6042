// The /apps/{id}/push/... routes (Sockudo §6): publish and status, devices, channel subscriptions, dead letters,
// templates, delivery-status events.
// Capability: `x-sockudo-push-capability` absent or push-admin = everything; push-subscribe = only a device's
// own registration and subscriptions, proven with its device identity token.
import type { AppConfig } from '../config/schema.ts';
import { HttpError } from '../errors.ts';
import type { HttpRequestMessage } from '../ipc/messages.ts';
import { type StoredCredential, credentialView, parseCredential } from '../push/credentials.ts';
import type { PushService } from '../push/pushService.ts';
import { parseDeliveryEvent, parseDevice, parsePublish, parseSubscription, templateIdOf } from '../push/requests.ts';
import { type NotificationTemplate, parseTemplate } from '../push/templates.ts';
import type { PageQuery } from '../push/store.ts';
import { identityMatches, newIdentityToken, tokenHash } from '../push/tokens.ts';
import { type DeviceRecord, type Page, providerOf, recipientToken } from '../push/types.ts';

export interface PushAnswer {
  status: number;
  body: unknown;
}

type Capability = 'admin' | 'subscribe';

/** How long a `POST /push/deliveryStatus` event is kept (Sockudo's publish_status_ttl_days default). */
const DELIVERY_EVENT_DAYS = 30;

/** `params` keys arrive lower-cased (Pusher signs lower-cased keys): `clientId` is read as `clientid`. */
export async function handlePush(push: PushService, req: HttpRequestMessage, app: AppConfig, rest: string[], params: Map<string, string>): Promise<PushAnswer> {
  const capability = capabilityOf(req);
  const admin = () => {
    if (capability !== 'admin') throw new HttpError('forbidden', 'this push operation requires the push-admin capability');
  };
  const { store } = push;
  // An id in the path with a NUL names nothing that can be stored (PostgreSQL text cannot hold one): unknown, as
  // Sockudo answers an unknown id (DELETE of a template: 204).
  if (rest.some((segment) => segment.includes('\u0000'))) {
    if (req.method === 'DELETE' && rest[0] === 'templates' && rest.length === 2) return { status: 204, body: null };
    throw new HttpError('notFound', rest[0] === 'templates' ? 'template not found' : `No push route for ${req.method} /push/${rest.map((s) => s.replaceAll('\u0000', '\\0')).join('/')}`);
  }
  const at = (method: string, ...pattern: (string | null)[]) =>
    req.method === method && rest.length === pattern.length && pattern.every((p, i) => p === null || p === rest[i]);

  if (at('POST', 'publish')) {
    admin();
    const body = jsonBody(req);
    const answer = await push.publish(app, parsePublish(body, '', await templateOf(push, app.id, body)), Date.now(), false, req.push?.quotaOverride === true);
    return { status: answer.status, body: answer.body };
  }
  if (at('POST', 'batch', 'publish')) {
    admin();
    const body = jsonBody(req);
    if (!Array.isArray(body) || body.length === 0 || body.length > 100) throw new HttpError('invalidInput', '(body): expected an array of 1 to 100 publish requests');
    const templates = await Promise.all(body.map((item) => templateOf(push, app.id, item)));
    const parsed = body.map((item, i) => parsePublish(item, `[${i}].`, templates[i]));
    // The whole batch's places in the acceptance rate first: a 429 then means none of it was accepted.
    await push.spendAcceptance(app, parsed.length);
    const items = [];
    for (const p of parsed) items.push((await push.publish(app, { ...p, sync: false }, Date.now(), true, req.push?.quotaOverride === true)).body);
    return { status: 202, body: { items } };
  }
  if (at('GET', 'publish', null, 'status')) {
    admin();
    const status = await push.status(app.id, rest[1]);
    if (!status) throw new HttpError('notFound', `no push publish with id "${rest[1]}"`);
    return { status: 200, body: status };
  }
  if (at('DELETE', 'scheduled', null)) {
    admin();
    if (!(await push.cancel(app.id, rest[1]))) throw new HttpError('notFound', `no unfinished push publish with id "${rest[1]}"`);
    return { status: 204, body: null };
  }
  if (at('POST', 'deliveryStatus')) {
    admin();
    // Kept as Sockudo keeps them (it changes no publish, device or counter), for DELIVERY_EVENT_DAYS.
    const event = { ...parseDeliveryEvent(jsonBody(req)), appId: app.id };
    const id = `${event.publishId}\n${event.occurredAtMs}\n${event.eventId}`;
    await store.putDocument(app.id, 'deliveryEvent', id, event, Date.now() + DELIVERY_EVENT_DAYS * 86_400_000);
    return { status: 202, body: event };
  }
  if (at('POST', 'templates')) {
    admin();
    const template = parseTemplate(jsonBody(req), app.id);
    await store.putDocument(app.id, 'template', template.templateId, template, 0);
    return { status: 201, body: template };
  }
  if (at('GET', 'templates')) {
    admin();
    return { status: 200, body: pageView(await store.listDocuments(app.id, 'template', pageQuery(params)), (t) => t) };
  }
  if (at('GET', 'templates', null)) {
    admin();
    const template = await store.getDocument(app.id, 'template', rest[1]);
    if (!template) throw new HttpError('notFound', 'template not found');
    return { status: 200, body: template };
  }
  if (at('DELETE', 'templates', null)) {
    admin();
    // 204 whether or not it existed, as Sockudo answers.
    await store.deleteDocument(app.id, 'template', rest[1]);
    return { status: 204, body: null };
  }
  if (at('POST', 'credentials', null)) {
    admin();
    const credential = parseCredential(rest[1], jsonBody(req), app.id, push.credentialKey);
    // Re-posting a credentialId replaces it (Sockudo keeps no history); providers read it at their next start.
    await store.putDocument(app.id, 'credential', credential.credentialId, credential, 0);
    return { status: 201, body: credentialView(credential) };
  }
  if (at('GET', 'credentials')) {
    admin();
    return { status: 200, body: pageView(await store.listDocuments(app.id, 'credential', pageQuery(params)), (c) => credentialView(c as StoredCredential)) };
  }
  if (at('GET', 'webpush', 'vapidPublicKey')) {
    if (!push.vapidPublicKey) throw new HttpError('notFound', 'Web Push is not configured');
    return { status: 200, body: { publicKey: push.vapidPublicKey } };
  }

  if (at('POST', 'deviceRegistrations')) {
    const input = parseDevice(jsonBody(req));
    const existing = await store.getDevice(app.id, input.id);
    if (capability === 'subscribe') {
      if (!existing) throw new HttpError('forbidden', 'device token registration requires an existing device');
      proveDevice(req, existing);
    }
    const issueToken = !existing || (capability === 'admin' && req.push?.rotate === true);
    const identityToken = issueToken ? newIdentityToken() : null;
    const now = Date.now();
    const device: DeviceRecord = {
      appId: app.id,
      id: input.id,
      clientId: input.clientId ?? null,
      formFactor: input.formFactor,
      platform: input.platform,
      metadata: input.metadata,
      timezone: input.timezone,
      locale: input.locale,
      recipient: input.push.recipient,
      tokenHash: tokenHash(recipientToken(input.push.recipient)),
      // A (re-)registration is a fresh token from the device: it is active again.
      pushState: input.push.state ?? 'ACTIVE',
      failureCount: 0,
      identityHash: identityToken ? tokenHash(identityToken) : (existing?.identityHash ?? null),
      lastActiveAtMs: input.lastActiveAtMs ?? now,
      updatedAtMs: now,
    };
    const change = await store.upsertDevice(device);
    return { status: 201, body: { change, tokenHash: device.tokenHash, device: deviceView(device), ...(identityToken ? { deviceIdentityToken: identityToken } : {}) } };
  }
  if (at('GET', 'deviceRegistrations')) {
    admin();
    return { status: 200, body: pageView(await store.listDevices(app.id, pageQuery(params)), deviceView) };
  }
  if (at('DELETE', 'deviceRegistrations')) {
    admin();
    const clientId = params.get('clientid') ?? params.get('client_id');
    if (!clientId) throw new HttpError('invalidInput', 'clientId: required (delete one device with DELETE .../deviceRegistrations/{deviceId})');
    return { status: 200, body: { deleted: await store.deleteDevicesOfClient(app.id, clientId), consistency: 'eventual' } };
  }
  if (at('GET', 'deviceRegistrations', null) || at('DELETE', 'deviceRegistrations', null)) {
    const device = await store.getDevice(app.id, rest[1]);
    if (capability === 'subscribe') proveDevice(req, device);
    if (!device) throw new HttpError('notFound', `no device "${rest[1]}"`);
    if (req.method === 'GET') return { status: 200, body: deviceView(device) };
    await store.deleteDevice(app.id, device.id);
    return { status: 204, body: null };
  }

  if (at('POST', 'channelSubscriptions')) {
    const input = parseSubscription(jsonBody(req));
    const device = await store.getDevice(app.id, input.deviceId);
    if (capability === 'subscribe') proveDevice(req, device);
    if (!device) throw new HttpError('notFound', `no device "${input.deviceId}"; register it first`);
    if (input.tokenHash !== undefined && input.tokenHash !== device.tokenHash) throw new HttpError('invalidInput', 'tokenHash: does not match the device\'s current registration');
    const sub = { appId: app.id, channel: input.channel, deviceId: device.id, clientId: input.clientId ?? device.clientId, createdAtMs: Date.now() };
    await store.subscribe(sub);
    const { createdAtMs: _unused, ...view } = sub;
    const echoed = input.credentialVersion === undefined ? {} : { credentialVersion: input.credentialVersion };
    return { status: 201, body: { ...view, provider: providerOf(device.recipient), tokenHash: device.tokenHash, ...echoed } };
  }
  if (at('GET', 'channelSubscriptions', 'channels')) {
    admin();
    return { status: 200, body: pageView(await store.listChannels(app.id, pageQuery(params)), (c) => c) };
  }
  if (at('GET', 'channelSubscriptions') || at('DELETE', 'channelSubscriptions')) {
    const filter = { channel: params.get('channel'), deviceId: params.get('deviceid') ?? params.get('device_id') };
    if (capability === 'subscribe') {
      if (!filter.deviceId) throw new HttpError('forbidden', 'push-subscribe may only list or remove its own device\'s subscriptions (deviceId)');
      proveDevice(req, await store.getDevice(app.id, filter.deviceId));
    }
    if (req.method === 'GET') {
      const page = await store.listSubscriptions(app.id, filter, pageQuery(params));
      return { status: 200, body: pageView(page, ({ createdAtMs: _unused, ...s }) => s) };
    }
    if (!filter.channel && !filter.deviceId) throw new HttpError('invalidInput', 'channel or deviceId: one of them is required');
    return { status: 200, body: { deleted: await store.unsubscribe(app.id, filter) } };
  }

  if (at('GET', 'deadLetters')) {
    admin();
    const num = (k: string) => (params.has(k) ? Number(params.get(k)) : undefined);
    const filter = { provider: params.get('provider'), sinceMs: num('sincems'), untilMs: num('untilms') };
    return { status: 200, body: pageView(await store.listDeadLetters(app.id, filter, pageQuery(params)), (d) => d) };
  }
  if (at('POST', 'deadLetters', null, 'replay')) {
    admin();
    const id = Number(rest[1]);
    const replayed = Number.isSafeInteger(id) ? await store.replayDeadLetter(app.id, id, Date.now()) : null;
    if (!replayed) throw new HttpError('notFound', `no dead letter "${rest[1]}"`);
    push.scheduler.wake();
    return { status: 202, body: { id, publishId: replayed.publishId, status: 'requeued' } };
  }
  throw new HttpError('notFound', `No push route for ${req.method} /push/${rest.join('/')}`);
}

/** The template a publish body's `payload.templateId` names; an unknown one is a 400 (Sockudo's text). */
async function templateOf(push: PushService, appId: string, body: unknown): Promise<NotificationTemplate | null> {
  const id = templateIdOf(body);
  if (id === undefined) return null;
  const template = (await push.store.getDocument(appId, 'template', id)) as NotificationTemplate | null;
  if (!template) throw new HttpError('invalidInput', `push template ${id} not found`);
  return template;
}

function capabilityOf(req: HttpRequestMessage): Capability {
  const c = req.push?.capability ?? '';
  if (c === '' || c === 'push-admin') return 'admin';
  if (c === 'push-subscribe') return 'subscribe';
  throw new HttpError('forbidden', `x-sockudo-push-capability: unknown capability "${c}" (push-admin or push-subscribe)`);
}

/** A push-subscribe caller must hold the device's identity token. */
function proveDevice(req: HttpRequestMessage, device: DeviceRecord | null): void {
  const token = req.push?.identityToken ?? '';
  if (!token) throw new HttpError('authFailed', 'push-subscribe requires x-sockudo-device-identity-token');
  if (!device || !identityMatches(token, device.identityHash)) throw new HttpError('authFailed', 'invalid device identity token');
}

/** Push JSON bodies: application/json or any "+json" media type (Sockudo answers 400 otherwise). */
function jsonBody(req: HttpRequestMessage): unknown {
  if (!/^(application\/json|[\w.+-]+\/[\w.+-]*\+json)\b/i.test(req.contentType)) throw new HttpError('invalidInput', 'expected application/json content type');
  try {
    return JSON.parse(req.body);
  } catch (err) {
    throw new HttpError('invalidInput', `invalid JSON body: ${(err as Error).message}`);
  }
}

function pageQuery(params: Map<string, string>): PageQuery {
  const raw = params.get('limit');
  const limit = raw === undefined ? 100 : Number(raw);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new HttpError('invalidInput', 'limit: an integer from 1 to 1000');
  return { limit, cursor: params.get('cursor') ?? null };
}

function pageView<T, V>(page: Page<T>, view: (item: T) => V): { items: V[]; next_cursor: string | null; has_more: boolean } {
  return { items: page.items.map(view), next_cursor: page.nextCursor, has_more: page.nextCursor !== null };
}

/** What the API shows of a device: never its provider token, only the token's hash. */
function deviceView(d: DeviceRecord) {
  return {
    appId: d.appId,
    id: d.id,
    clientId: d.clientId,
    formFactor: d.formFactor,
    platform: d.platform,
    metadata: d.metadata,
    timezone: d.timezone,
    locale: d.locale,
    lastActiveAtMs: d.lastActiveAtMs,
    pushState: d.pushState,
    pushFailureCount: d.failureCount,
    recipient: { transportType: d.recipient.transportType, provider: providerOf(d.recipient), tokenHash: d.tokenHash },
  };
}
