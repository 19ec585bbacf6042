// Local stand-ins for the five push providers our notification dispatcher talks to, speaking their real
// wire protocols so integration tests exercise the same requests production sends:
//
//   - a Web Push service (RFC 8030 delivery, RFC 8291 aes128gcm payload encryption, RFC 8292 VAPID auth),
//   - Firebase Cloud Messaging HTTP v1 (OAuth2 JWT-bearer token exchange + messages:send),
//   - Apple Push Notification service (HTTP/2, ES256 provider tokens, /3/device/{token}),
//   - Huawei Push Kit server API v1 (bearer access token, /v1/{appId}/messages:send, HMS result codes),
//   - Windows Push Notification Services (HTTPS POST to a channel URI, bearer token, x-wns-type).
//
// Each server authenticates requests the way the provider does (with jose, and http_ece for Web Push
// decryption), answers with the provider's own status codes and error bodies, and records what it
// accepted. Tests can inject transient failures (override), invalidate devices (unregister) and add
// latency (delayMs). Everything listens on 127.0.0.1 with a free port, in cleartext, except WNS, whose channel
// URIs are https URLs: it serves TLS with a throwaway self-signed certificate.
import { type ECDH, type KeyObject, createECDH, generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { type IncomingHttpHeaders, type IncomingMessage, type ServerResponse, createServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as http2 from 'node:http2';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { type JWTPayload, decodeProtectedHeader, importJWK, jwtVerify } from 'jose';

// http_ece ships no type declarations; this is the one function we use from it.
interface HttpEce {
  decrypt(buffer: Buffer, params: { version: 'aes128gcm'; privateKey: ECDH; authSecret: Buffer }): Buffer;
}
const ece = createRequire(import.meta.url)('http_ece') as HttpEce;

// ---------------------------------------------------------------------------------------------------
// The shape every provider server shares
// ---------------------------------------------------------------------------------------------------

/** One notification a provider authenticated, validated and accepted (answered with success). */
export interface Delivery<P = unknown> {
  /** Web Push: the endpoint id; FCM: the registration token, `/topics/<topic>` or the condition; APNs: the device token. */
  deviceId: string;
  /** The decoded JSON payload (Web Push: decrypted body; FCM: `message`; APNs: the body). */
  payload: P;
  /** Request headers, names lower-case (HTTP/2 pseudo-headers left out). */
  headers: Record<string, string>;
}

export interface OverrideInfo {
  deviceId: string;
  /** 1-based: how many authenticated, valid requests for this device reached the hook, this one included. */
  attempt: number;
}

export interface OverrideAnswer {
  status: number;
  headers?: Record<string, string>;
  body?: string;
  /** The answer is sent only once this settles (a test does something while the request is in flight). */
  hold?: Promise<unknown>;
}

/** Consulted after authentication and validation, just before accepting; an answer replaces the success. */
export type OverrideHook = (info: OverrideInfo) => OverrideAnswer | undefined;

/** Requests the server did not accept, by reason. */
export interface RejectionStats {
  /** Credentials missing, forged, expired or for another account. */
  badAuth: number;
  /** Wrong method/path, or protocol headers missing or invalid. */
  badRequest: number;
  /** Body unreadable, undecryptable, too large, or against the provider's rules. */
  badPayload: number;
  /** Answered with the provider's "this device/token is no longer valid". */
  unregistered: number;
  /** Answered by the override hook. */
  overridden: number;
}

export interface PushProviderServer<P = unknown> {
  /** Base URL, e.g. `http://127.0.0.1:40123` (no trailing slash). */
  readonly url: string;
  readonly received: Delivery<P>[];
  /** Every request seen, rejected ones included. */
  readonly requests: number;
  readonly stats: RejectionStats;
  /** Wait this long before answering each request (simulated latency). */
  delayMs: number;
  override(fn: OverrideHook | undefined): void;
  /** From now on this device gets the provider's real "no longer valid" answer. */
  unregister(deviceId: string): void;
  /** Closes the listener and every open connection/session so node can exit. */
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------------
// Provider-specific surfaces
// ---------------------------------------------------------------------------------------------------

/** A browser-like PushSubscription, as `JSON.stringify(subscription)` gives it. */
export interface WebPushSubscription {
  endpoint: string;
  keys: { p256dh: string; auth: string };
}

export interface WebPushService extends PushProviderServer<unknown> {
  /**
   * Creates a subscription whose keys the service keeps, to decrypt what is sent to it. With an
   * `applicationServerKey` (base64url VAPID public key) the subscription is restricted to that key, as
   * browsers make it (RFC 8292 §4.2): pushes signed with another key get 403.
   */
  newSubscription(applicationServerKey?: string): WebPushSubscription;
  /** Every VAPID `k` value seen in an Authorization header. */
  readonly vapidPublicKeysSeen: Set<string>;
}

export interface GoogleServiceAccount {
  type: 'service_account';
  project_id: string;
  private_key_id: string;
  private_key: string;
  client_email: string;
  client_id: string;
  token_uri: string;
}

export interface FcmMessage {
  /** Exactly one of token, topic and condition is set (FCM's `target` oneof). */
  token?: string;
  topic?: string;
  condition?: string;
  notification?: { title?: string; body?: string; image?: string };
  data?: Record<string, string>;
  android?: unknown;
  apns?: unknown;
  webpush?: unknown;
  [field: string]: unknown;
}

export interface FcmServer extends PushProviderServer<FcmMessage> {
  readonly serviceAccount: GoogleServiceAccount;
  readonly projectId: string;
  /** Access tokens handed out by POST /token so far. */
  readonly tokensIssued: number;
  /** Invalidates every access token issued so far: sends using them get 401 UNAUTHENTICATED. */
  revokeTokens(): void;
}

export interface ApnsPayload {
  aps: Record<string, unknown>;
  [key: string]: unknown;
}

export interface ApnsServer extends PushProviderServer<ApnsPayload> {
  readonly teamId: string;
  readonly keyId: string;
  /** The .p8 signing key (PKCS#8 PEM, EC P-256), as Apple hands it out. */
  readonly privateKeyPem: string;
  readonly topic: string;
  /** Distinct provider-token JWTs presented (a well-behaved client reuses one for up to an hour). */
  readonly providerTokensSeen: Set<string>;
}

// ---------------------------------------------------------------------------------------------------
// Shared plumbing: requests as plain values, rejections as exceptions, the common state
// ---------------------------------------------------------------------------------------------------

interface ProviderRequest {
  method: string;
  /** Path without the query string. */
  path: string;
  /** The query string's parameters. */
  query: URLSearchParams;
  headers: Record<string, string>;
  body: Buffer;
}

type Answer = OverrideAnswer;

interface Listener {
  url: string;
  close(): Promise<void>;
}

/** Thrown by a validation step: the answer to send, and the counter it increments. */
class Rejection extends Error {
  constructor(
    readonly reason: Exclude<keyof RejectionStats, 'overridden'>,
    readonly answer: Answer,
  ) {
    super(`${reason}: ${answer.status} ${answer.body ?? ''}`);
  }
}

function json(status: number, body: unknown, headers: Record<string, string> = {}): Answer {
  return { status, headers: { 'content-type': 'application/json; charset=utf-8', ...headers }, body: JSON.stringify(body) };
}

function text(status: number, body: string, headers: Record<string, string> = {}): Answer {
  return { status, headers: { 'content-type': 'text/plain; charset=utf-8', ...headers }, body };
}

function parseJson(body: Buffer): unknown {
  return JSON.parse(body.toString('utf8'));
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const nowSeconds = (): number => Math.floor(Date.now() / 1000);

/** Bookkeeping every provider shares; subclasses only implement `handle`. */
abstract class MockProvider<P> implements PushProviderServer<P> {
  readonly received: Delivery<P>[] = [];
  requests = 0;
  readonly stats: RejectionStats = { badAuth: 0, badRequest: 0, badPayload: 0, unregistered: 0, overridden: 0 };
  delayMs = 0;
  private hook: OverrideHook | undefined;
  private readonly attempts = new Map<string, number>();
  /** Unregistered device ids → when (ms); APNs reports that time back. */
  protected readonly unregisteredAt = new Map<string, number>();

  constructor(private readonly listener: Listener) {}

  get url(): string {
    return this.listener.url;
  }

  override(fn: OverrideHook | undefined): void {
    this.hook = fn;
  }

  unregister(deviceId: string): void {
    this.unregisteredAt.set(deviceId, Date.now());
  }

  close(): Promise<void> {
    return this.listener.close();
  }

  /** Validates and answers one request; provider-specific, throws `Rejection` to refuse it. */
  protected abstract handle(req: ProviderRequest): Promise<Answer>;

  /** Entry point for the transport: counts, handles, turns rejections into answers, applies the delay. */
  async answer(req: ProviderRequest): Promise<Answer> {
    this.requests++;
    let answer: Answer;
    try {
      answer = await this.handle(req);
    } catch (err) {
      if (!(err instanceof Rejection)) throw err;
      this.stats[err.reason]++;
      answer = err.answer;
    }
    if (this.delayMs > 0) await sleep(this.delayMs);
    if (answer.hold) await answer.hold;
    return answer;
  }

  /** Last step of a valid request: let the hook answer instead, or record the delivery and succeed. */
  protected accept(deviceId: string, payload: P, req: ProviderRequest, success: Answer): Answer {
    const attempt = (this.attempts.get(deviceId) ?? 0) + 1;
    this.attempts.set(deviceId, attempt);
    const injected = this.hook?.({ deviceId, attempt });
    if (injected) {
      this.stats.overridden++;
      return injected;
    }
    this.received.push({ deviceId, payload, headers: req.headers });
    return success;
  }
}

// ---------------------------------------------------------------------------------------------------
// Transports: HTTP/1.1 (Web Push, FCM) and cleartext HTTP/2 (APNs)
// ---------------------------------------------------------------------------------------------------

type AnswerFn = (req: ProviderRequest) => Promise<Answer>;

/** Header values as single strings (repeated headers joined), pseudo-headers dropped. */
function flattenHeaders(raw: IncomingHttpHeaders | http2.IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw)) {
    if (name.startsWith(':') || value === undefined) continue;
    out[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value);
  }
  return out;
}

async function readBody(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

const internalError = (err: unknown): Answer => text(500, `mock provider bug: ${String(err)}`);

/** HTTP/1.1, in cleartext, or over TLS with `tls` (a certificate for 127.0.0.1). */
async function listenHttp1(answerFn: AnswerFn, tls?: { key: string; cert: string }): Promise<Listener> {
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    void (async () => {
      const body = await readBody(req);
      const [path, search = ''] = (req.url ?? '/').split('?') as [string, string?];
      const answer = await answerFn({ method: req.method ?? 'GET', path, query: new URLSearchParams(search), headers: flattenHeaders(req.headers), body }).catch(internalError);
      // The socket may be gone if close() ran while we were delaying.
      if (res.destroyed) return;
      res.writeHead(answer.status, answer.headers ?? {}).end(answer.body ?? '');
    })().catch(() => res.destroy()); // the client aborted while we read its body
  };
  const server = tls ? createHttpsServer(tls, handler) : createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `${tls ? 'https' : 'http'}://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Clients such as undici keep connections alive; drop them so close() completes.
        server.closeAllConnections();
      }),
  };
}

async function listenHttp2(answerFn: AnswerFn): Promise<Listener> {
  // h2c with prior knowledge: what http2.connect('http://…') speaks, so tests need no certificates.
  const server = http2.createServer();
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (session) => {
    sessions.add(session);
    session.on('close', () => sessions.delete(session));
    session.on('error', () => {}); // a client vanishing mid-stream is not a test failure
  });
  server.on('stream', (stream, headers) => {
    stream.on('error', () => {});
    void (async () => {
      const body = await readBody(stream);
      const [path, search = ''] = String(headers[':path'] ?? '/').split('?') as [string, string?];
      const method = String(headers[':method'] ?? 'GET');
      const answer = await answerFn({ method, path, query: new URLSearchParams(search), headers: flattenHeaders(headers), body }).catch(internalError);
      if (stream.destroyed || stream.closed) return;
      stream.respond({ ':status': answer.status, ...(answer.headers ?? {}) });
      stream.end(answer.body ?? '');
    })().catch(() => stream.destroy()); // the client reset the stream while we read its body
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // server.close() waits for sessions to end; a client's pooled session never would on its own.
        for (const session of sessions) session.destroy();
      }),
  };
}

// ---------------------------------------------------------------------------------------------------
// 1. Web Push service (RFC 8030 / 8291 / 8292)
// ---------------------------------------------------------------------------------------------------

interface StoredSubscription {
  ecdh: ECDH;
  authSecret: Buffer;
  /** Set for restricted subscriptions (RFC 8292 §4.2). */
  applicationServerKey?: string;
}

/** RFC 8030 §7.2: a push service must accept at least 4096 bytes; we accept exactly that. */
const WEB_PUSH_MAX_BODY = 4096;
const VAPID_MAX_LIFETIME_S = 24 * 3600;
const URGENCIES = new Set(['very-low', 'low', 'normal', 'high']);

/** Parses `vapid t=<jwt>, k=<key>` (RFC 8292 §3); undefined if the scheme or a parameter is missing. */
function parseVapidAuthorization(header: string | undefined): { t: string; k: string } | undefined {
  const match = /^vapid\s+(.+)$/i.exec(header ?? '');
  if (!match) return undefined;
  const params = new Map<string, string>();
  for (const part of match[1]!.split(',')) {
    const eq = part.indexOf('=');
    if (eq > 0) params.set(part.slice(0, eq).trim().toLowerCase(), part.slice(eq + 1).trim());
  }
  const t = params.get('t');
  const k = params.get('k');
  return t && k ? { t, k } : undefined;
}

/** The VAPID `k` value is an uncompressed P-256 point; jose wants it as a JWK. */
async function importVapidPublicKey(k: string) {
  const point = Buffer.from(k, 'base64url');
  if (point.length !== 65 || point[0] !== 0x04) throw new Error('k is not an uncompressed P-256 point');
  const jwk = { kty: 'EC', crv: 'P-256', x: point.subarray(1, 33).toString('base64url'), y: point.subarray(33).toString('base64url') };
  return importJWK(jwk, 'ES256');
}

/** RFC 8292 §2: ES256 signed by `k`, `aud` = push service origin, `exp` ≤ 24 h away, `sub` a contact URI. */
async function verifyVapidToken(t: string, k: string, origin: string): Promise<void> {
  const { payload } = await jwtVerify(t, await importVapidPublicKey(k), {
    algorithms: ['ES256'],
    audience: origin,
    requiredClaims: ['exp', 'sub'],
  });
  if (payload.exp! > nowSeconds() + VAPID_MAX_LIFETIME_S) throw new Error('exp is more than 24 hours in the future');
  if (!isContactUri(payload.sub)) throw new Error('sub must be a mailto: or https: URL');
}

/** Compares two base64url keys by their bytes (padding and encoding variants aside). */
function sameKey(a: string, b: string): boolean {
  return Buffer.from(a, 'base64url').equals(Buffer.from(b, 'base64url'));
}

function isContactUri(sub: unknown): boolean {
  if (typeof sub !== 'string') return false;
  try {
    return ['mailto:', 'https:'].includes(new URL(sub).protocol);
  } catch {
    return false;
  }
}

class WebPushProvider extends MockProvider<unknown> implements WebPushService {
  readonly vapidPublicKeysSeen = new Set<string>();
  private readonly subscriptions = new Map<string, StoredSubscription>();

  newSubscription(applicationServerKey?: string): WebPushSubscription {
    const ecdh = createECDH('prime256v1');
    ecdh.generateKeys();
    const authSecret = randomBytes(16);
    const id = randomBytes(18).toString('base64url');
    this.subscriptions.set(id, { ecdh, authSecret, applicationServerKey });
    return {
      endpoint: `${this.url}/wp/${id}`,
      keys: { p256dh: ecdh.getPublicKey().toString('base64url'), auth: authSecret.toString('base64url') },
    };
  }

  protected async handle(req: ProviderRequest): Promise<Answer> {
    const id = /^\/wp\/([\w-]+)$/.exec(req.path)?.[1];
    if (req.method !== 'POST' || !id) throw new Rejection('badRequest', text(404, 'Not Found'));
    const vapidKey = await this.authenticate(req);
    const subscription = this.subscriptions.get(id);
    if (!subscription || this.unregisteredAt.has(id)) throw new Rejection('unregistered', text(410, 'Gone: subscription expired or unsubscribed'));
    if (subscription.applicationServerKey && !sameKey(subscription.applicationServerKey, vapidKey)) {
      throw new Rejection('badAuth', text(403, 'Forbidden: VAPID key does not match the subscription'));
    }
    const ttl = checkDeliveryHeaders(req.headers);
    const payload = decryptPayload(req.body, subscription);
    const location = `${this.url}/m/${randomUUID()}`;
    return this.accept(id, payload, req, text(201, '', { location, ttl: String(ttl) }));
  }

  /** RFC 8292: missing credentials → 401 (with a vapid challenge), invalid ones → 403. Returns `k`. */
  private async authenticate(req: ProviderRequest): Promise<string> {
    const vapid = parseVapidAuthorization(req.headers.authorization);
    if (!vapid) throw new Rejection('badAuth', text(401, 'Unauthorized: vapid authorization required', { 'www-authenticate': 'vapid' }));
    this.vapidPublicKeysSeen.add(vapid.k);
    try {
      await verifyVapidToken(vapid.t, vapid.k, new URL(this.url).origin);
    } catch (err) {
      throw new Rejection('badAuth', text(403, `Forbidden: invalid VAPID token (${(err as Error).message})`));
    }
    return vapid.k;
  }
}

/** RFC 8030 §5.2–5.4 and RFC 8291 §4: TTL required, aes128gcm required, Urgency/Topic well-formed. */
function checkDeliveryHeaders(headers: Record<string, string>): number {
  const bad = (why: string): Rejection => new Rejection('badRequest', text(400, `Bad Request: ${why}`));
  if (!/^\d+$/.test(headers.ttl ?? '')) throw bad('TTL header missing or not a non-negative integer');
  if (headers['content-encoding']?.toLowerCase() !== 'aes128gcm') throw bad('Content-Encoding must be aes128gcm');
  if (headers.urgency !== undefined && !URGENCIES.has(headers.urgency)) throw bad('invalid Urgency');
  if (headers.topic !== undefined && !/^[\w-]{1,32}$/.test(headers.topic)) throw bad('Topic must be ≤ 32 base64url characters');
  return Number(headers.ttl);
}

/** RFC 8291 decryption with the subscription's private key and auth secret, then JSON. */
function decryptPayload(body: Buffer, subscription: StoredSubscription): unknown {
  if (body.length > WEB_PUSH_MAX_BODY) throw new Rejection('badPayload', text(413, 'Payload Too Large'));
  try {
    const plain = ece.decrypt(body, { version: 'aes128gcm', privateKey: subscription.ecdh, authSecret: subscription.authSecret });
    return parseJson(plain);
  } catch (err) {
    throw new Rejection('badPayload', text(400, `Bad Request: payload cannot be decrypted as JSON (${(err as Error).message})`));
  }
}

export async function startWebPushService(): Promise<WebPushService> {
  let provider!: WebPushProvider;
  const listener = await listenHttp1((req) => provider.answer(req));
  provider = new WebPushProvider(listener);
  return provider;
}

// ---------------------------------------------------------------------------------------------------
// 2. FCM HTTP v1
// ---------------------------------------------------------------------------------------------------

const JWT_BEARER_GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
// Google accepts either scope for FCM v1 sends.
const FCM_SCOPES = ['https://www.googleapis.com/auth/firebase.messaging', 'https://www.googleapis.com/auth/cloud-platform'];
const ACCESS_TOKEN_LIFETIME_S = 3600;
// Keys FCM refuses in `data` (reserved by the platform).
const RESERVED_DATA_KEY = /^(from|notification|message_type|google[.\w-]*|gcm[.\w-]*)$/;

/** Google API error envelope (google.rpc.Status). */
function googleError(code: number, status: string, message: string, details?: unknown[]): Answer {
  return json(code, { error: { code, message, status, ...(details ? { details } : {}) } });
}

const unauthenticated = (): Rejection =>
  new Rejection(
    'badAuth',
    googleError(401, 'UNAUTHENTICATED', 'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.'),
  );

function invalidArgument(field: string, message: string): Rejection {
  const details = [{ '@type': 'type.googleapis.com/google.rpc.BadRequest', fieldViolations: [{ field, description: message }] }];
  return new Rejection('badPayload', googleError(400, 'INVALID_ARGUMENT', message, details));
}

/** FCM's real rules for the parts of `message` we care about; returns the typed message. */
function validateFcmMessage(body: Buffer): FcmMessage {
  let parsed: unknown;
  try {
    parsed = parseJson(body);
  } catch {
    throw invalidArgument('', 'Invalid JSON payload received.');
  }
  const message = isPlainObject(parsed) ? parsed.message : undefined;
  if (!isPlainObject(message)) throw invalidArgument('message', 'Invalid value at \'message\': a message object is required');
  // `token`, `topic` and `condition` are the oneof `target`: exactly one must be set.
  const targets = (['token', 'topic', 'condition'] as const).filter((field) => message[field] !== undefined);
  if (targets.length === 0) throw invalidArgument('message', 'Recipient of the message is not set.');
  if (targets.length > 1) {
    throw invalidArgument('message', `Invalid value at 'message' (oneof), oneof field 'target' is already set. Cannot set '${targets[1]}'`);
  }
  const target = targets[0];
  if (typeof message[target] !== 'string' || message[target] === '') throw invalidArgument(`message.${target}`, `Invalid value at 'message.${target}' (TYPE_STRING)`);
  // FCM's topic names; v1 takes them without the legacy "/topics/" prefix.
  if (target === 'topic' && !/^[a-zA-Z0-9-_.~%]{1,900}$/.test(message.topic as string)) throw invalidArgument('message.topic', 'Invalid topic name.');
  validateStringMap(message.data, 'message.data', true);
  validateStringMap(message.notification, 'message.notification', false);
  return message as FcmMessage;
}

/** `data` (and notification fields) must be string → string: FCM rejects numbers, booleans, objects. */
function validateStringMap(value: unknown, field: string, isData: boolean): void {
  if (value === undefined) return;
  if (!isPlainObject(value)) throw invalidArgument(field, `Invalid value at '${field}': expected an object`);
  Object.entries(value).forEach(([key, v], index) => {
    if (typeof v !== 'string') {
      const where = isData ? `${field}[${index}].value` : `${field}.${key}`;
      throw invalidArgument(where, `Invalid value at '${where}' (TYPE_STRING), ${JSON.stringify(v)}`);
    }
    if (isData && RESERVED_DATA_KEY.test(key)) throw invalidArgument(`${field}.${key}`, `Invalid data payload key: ${key}`);
  });
}

class FcmProvider extends MockProvider<FcmMessage> implements FcmServer {
  readonly projectId = `mock-project-${randomBytes(3).toString('hex')}`;
  readonly serviceAccount: GoogleServiceAccount;
  tokensIssued = 0;
  private readonly publicKey: KeyObject;
  /** Live access tokens → expiry (s since epoch). */
  private readonly accessTokens = new Map<string, number>();

  constructor(listener: Listener) {
    super(listener);
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    this.publicKey = publicKey;
    this.serviceAccount = {
      type: 'service_account',
      project_id: this.projectId,
      private_key_id: randomBytes(20).toString('hex'),
      private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      client_email: `firebase-adminsdk@${this.projectId}.iam.gserviceaccount.com`,
      client_id: `1${Array.from(randomBytes(20), (b) => b % 10).join('')}`,
      token_uri: `${this.url}/token`,
    };
  }

  revokeTokens(): void {
    this.accessTokens.clear();
  }

  protected async handle(req: ProviderRequest): Promise<Answer> {
    if (req.method === 'POST' && req.path === '/token') return this.exchangeToken(req);
    const project = /^\/v1\/projects\/([^/]+)\/messages(?::|%3A)send$/i.exec(req.path)?.[1];
    if (req.method === 'POST' && project) return this.send(req, project);
    throw new Rejection('badRequest', googleError(404, 'NOT_FOUND', `Method not found: ${req.method} ${req.path}`));
  }

  /** OAuth 2.0 JWT-bearer grant (RFC 7523), as google-auth-library performs it. */
  private async exchangeToken(req: ProviderRequest): Promise<Answer> {
    const form = new URLSearchParams(req.body.toString('utf8'));
    if (form.get('grant_type') !== JWT_BEARER_GRANT) {
      throw new Rejection('badAuth', json(400, { error: 'unsupported_grant_type', error_description: `Invalid grant_type: ${form.get('grant_type') ?? ''}` }));
    }
    try {
      await this.verifyAssertion(form.get('assertion') ?? '');
    } catch (err) {
      throw new Rejection('badAuth', json(400, { error: 'invalid_grant', error_description: (err as Error).message }));
    }
    const accessToken = `ya29.mock-${randomBytes(24).toString('base64url')}`;
    this.accessTokens.set(accessToken, nowSeconds() + ACCESS_TOKEN_LIFETIME_S);
    this.tokensIssued++;
    return json(200, { access_token: accessToken, expires_in: ACCESS_TOKEN_LIFETIME_S, token_type: 'Bearer' });
  }

  private async verifyAssertion(assertion: string): Promise<void> {
    const { kid } = decodeProtectedHeader(assertion);
    if (kid !== undefined && kid !== this.serviceAccount.private_key_id) throw new Error('Invalid JWT Signature: unknown kid.');
    const { payload } = await jwtVerify(assertion, this.publicKey, {
      algorithms: ['RS256'],
      issuer: this.serviceAccount.client_email,
      audience: this.serviceAccount.token_uri,
      requiredClaims: ['iat', 'exp', 'scope'],
    });
    if (payload.exp! - payload.iat! > ACCESS_TOKEN_LIFETIME_S) throw new Error('Invalid JWT: exp - iat exceeds one hour.');
    const scopes = String(payload.scope).split(' ');
    if (!FCM_SCOPES.some((s) => scopes.includes(s))) throw new Error('Invalid JWT: scope does not allow Firebase Cloud Messaging.');
  }

  private async send(req: ProviderRequest, project: string): Promise<Answer> {
    this.checkAccessToken(req.headers.authorization);
    if (project !== this.projectId) {
      throw new Rejection('badAuth', googleError(403, 'PERMISSION_DENIED', `Permission 'cloudmessaging.messages.create' denied on resource '//cloudresourcemanager.googleapis.com/projects/${project}'.`));
    }
    const message = validateFcmMessage(req.body);
    const target = message.token ?? (message.topic !== undefined ? `/topics/${message.topic}` : (message.condition as string));
    if (this.unregisteredAt.has(target)) {
      const details = [{ '@type': 'type.googleapis.com/google.firebase.fcm.v1.FcmError', errorCode: 'UNREGISTERED' }];
      throw new Rejection('unregistered', googleError(404, 'NOT_FOUND', 'Requested entity was not found.', details));
    }
    const name = `projects/${this.projectId}/messages/0:${Date.now()}%${randomBytes(8).toString('hex')}`;
    return this.accept(target, message, req, json(200, { name }));
  }

  private checkAccessToken(authorization: string | undefined): void {
    const token = /^Bearer\s+(\S+)$/i.exec(authorization ?? '')?.[1];
    const expiresAt = token ? this.accessTokens.get(token) : undefined;
    if (expiresAt === undefined || expiresAt <= nowSeconds()) throw unauthenticated();
  }
}

export async function startFcmServer(): Promise<FcmServer> {
  let provider!: FcmProvider;
  const listener = await listenHttp1((req) => provider.answer(req));
  provider = new FcmProvider(listener);
  return provider;
}

// ---------------------------------------------------------------------------------------------------
// 3. APNs (HTTP/2, token-based provider authentication)
// ---------------------------------------------------------------------------------------------------

const APNS_MAX_PAYLOAD = 4096;
const PROVIDER_TOKEN_MAX_AGE_S = 3600;
const CLOCK_SKEW_S = 60;
/** Push types and the topic suffix Apple requires for each (the bundle id alone otherwise). */
const PUSH_TYPE_TOPIC_SUFFIX: Record<string, string> = {
  alert: '',
  background: '',
  location: '.location-query',
  voip: '.voip',
  complication: '.complication',
  fileprovider: '.pushkit.fileprovider',
  mdm: '',
  liveactivity: '.push-type.liveactivity',
  pushtotalk: '.voip-ptt',
};
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** APNs error answer: `{reason}` JSON, status per Apple's "Handling error responses from APNs". */
function apnsError(status: number, reason: string, apnsId: string, extra: Record<string, unknown> = {}): Answer {
  return json(status, { reason, ...extra }, { 'apns-id': apnsId });
}

function randomAlnum(length: number): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
  return Array.from(randomBytes(length), (b) => alphabet[b % alphabet.length]).join('');
}

/** The optional apns-* headers, each against Apple's documented values. Returns the reason if one is bad. */
function badApnsHeader(headers: Record<string, string>, topic: string): string | undefined {
  const pushType = headers['apns-push-type'];
  if (pushType !== undefined && !(pushType in PUSH_TYPE_TOPIC_SUFFIX)) return 'InvalidPushType';
  if (headers['apns-topic'] === undefined) return 'MissingTopic';
  // mdm pushes use the MDM certificate's own topic; everything else is the bundle id plus the type's suffix.
  if (pushType !== 'mdm' && headers['apns-topic'] !== topic + (PUSH_TYPE_TOPIC_SUFFIX[pushType ?? 'alert'] ?? '')) return 'TopicDisallowed';
  if (headers['apns-priority'] !== undefined && !['1', '5', '10'].includes(headers['apns-priority'])) return 'BadPriority';
  if (headers['apns-id'] !== undefined && !UUID.test(headers['apns-id'])) return 'BadMessageId';
  if (headers['apns-expiration'] !== undefined && !/^\d+$/.test(headers['apns-expiration'])) return 'BadExpirationDate';
  if (headers['apns-collapse-id'] !== undefined && Buffer.byteLength(headers['apns-collapse-id']) > 64) return 'BadCollapseId';
  return undefined;
}

/**
 * The JSON body: non-empty, ≤ 4 KB, with an `aps` dictionary. Apple documents no separate reason for a
 * body that is not a JSON dictionary with `aps`; PayloadEmpty is the nearest one it does document.
 */
function parseApnsPayload(body: Buffer, apnsId: string): ApnsPayload {
  if (body.length === 0) throw new Rejection('badPayload', apnsError(400, 'PayloadEmpty', apnsId));
  if (body.length > APNS_MAX_PAYLOAD) throw new Rejection('badPayload', apnsError(413, 'PayloadTooLarge', apnsId));
  let payload: unknown;
  try {
    payload = parseJson(body);
  } catch {
    payload = undefined;
  }
  if (!isPlainObject(payload) || !isPlainObject(payload.aps)) throw new Rejection('badPayload', apnsError(400, 'PayloadEmpty', apnsId));
  return payload as ApnsPayload;
}

class ApnsProvider extends MockProvider<ApnsPayload> implements ApnsServer {
  readonly teamId = randomAlnum(10);
  readonly keyId = randomAlnum(10);
  readonly topic = 'com.example.app';
  readonly privateKeyPem: string;
  readonly providerTokensSeen = new Set<string>();
  private readonly publicKey: KeyObject;

  constructor(listener: Listener) {
    super(listener);
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    this.publicKey = publicKey;
    this.privateKeyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  }

  protected async handle(req: ProviderRequest): Promise<Answer> {
    // Apple echoes the caller's apns-id, also on errors, and makes one up otherwise.
    const apnsId = req.headers['apns-id'] ?? randomUUID();
    if (req.method !== 'POST') throw new Rejection('badRequest', apnsError(405, 'MethodNotAllowed', apnsId));
    const deviceToken = /^\/3\/device\/([^/]*)$/.exec(req.path)?.[1];
    if (deviceToken === undefined) throw new Rejection('badRequest', apnsError(404, 'BadPath', apnsId));
    await this.authenticate(req.headers.authorization, apnsId);
    const badHeader = badApnsHeader(req.headers, this.topic);
    if (badHeader) throw new Rejection('badRequest', apnsError(400, badHeader, apnsId));
    if (deviceToken === '') throw new Rejection('badRequest', apnsError(400, 'MissingDeviceToken', apnsId));
    if (!/^[0-9a-f]{64}$/i.test(deviceToken)) throw new Rejection('badRequest', apnsError(400, 'BadDeviceToken', apnsId));
    const goneAt = this.unregisteredAt.get(deviceToken);
    if (goneAt !== undefined) throw new Rejection('unregistered', apnsError(410, 'Unregistered', apnsId, { timestamp: goneAt }));
    const payload = parseApnsPayload(req.body, apnsId);
    return this.accept(deviceToken, payload, req, { status: 200, headers: { 'apns-id': apnsId } });
  }

  /** `authorization: bearer <ES256 JWT>` with kid = key id, iss = team id, iat within the last hour. */
  private async authenticate(authorization: string | undefined, apnsId: string): Promise<void> {
    const token = /^bearer\s+(\S+)$/i.exec(authorization ?? '')?.[1];
    if (!token) throw new Rejection('badAuth', apnsError(403, 'MissingProviderToken', apnsId));
    this.providerTokensSeen.add(token);
    let payload: JWTPayload;
    try {
      if (decodeProtectedHeader(token).kid !== this.keyId) throw new Error('kid is not our key id');
      ({ payload } = await jwtVerify(token, this.publicKey, { algorithms: ['ES256'], issuer: this.teamId, requiredClaims: ['iat'], clockTolerance: CLOCK_SKEW_S }));
    } catch {
      throw new Rejection('badAuth', apnsError(403, 'InvalidProviderToken', apnsId));
    }
    const age = nowSeconds() - payload.iat!;
    if (age < -CLOCK_SKEW_S) throw new Rejection('badAuth', apnsError(403, 'InvalidProviderToken', apnsId));
    if (age > PROVIDER_TOKEN_MAX_AGE_S) throw new Rejection('badAuth', apnsError(403, 'ExpiredProviderToken', apnsId));
  }
}

export async function startApnsServer(): Promise<ApnsServer> {
  let provider!: ApnsProvider;
  const listener = await listenHttp2((req) => provider.answer(req));
  provider = new ApnsProvider(listener);
  return provider;
}

// ---------------------------------------------------------------------------------------------------
// 4. Huawei Push Kit (HMS) server API v1
// ---------------------------------------------------------------------------------------------------

/** The `message` of an HMS send, as Push Kit types it (`data` is JSON text, `token` a list). */
export interface HmsMessage {
  token: string[];
  notification?: { title?: string; body?: string; image?: string };
  data?: string;
  android?: { collapse_key?: number; notification?: { click_action?: { type?: number }; sound?: string; [field: string]: unknown }; [field: string]: unknown };
  [field: string]: unknown;
}

export interface HmsServer extends PushProviderServer<HmsMessage> {
  /** The app id in the send URL (`/v1/{appId}/messages:send`). */
  readonly appId: string;
  /** The OAuth access token the server accepts as `Authorization: Bearer`. */
  readonly accessToken: string;
}

/** HMS's largest message body. */
const HMS_MAX_BODY = 4096;
const HMS_MAX_TOKENS = 1000;

/** An HMS answer: `{code, msg, requestId}` JSON, the HTTP status Push Kit gives the code. */
export function hmsAnswer(status: number, code: string, msg: string, headers: Record<string, string> = {}): OverrideAnswer {
  return json(status, { code, msg, requestId: `${Date.now()}${randomBytes(6).toString('hex')}` }, headers);
}

/** HMS's "All the tokens are invalid" (80300007): what Push Kit answers for a token that is gone. */
export const HMS_INVALID_TOKEN = (): OverrideAnswer => hmsAnswer(400, '80300007', 'All the tokens are invalid');

function hmsRejection(reason: Exclude<keyof RejectionStats, 'overridden'>, status: number, code: string, msg: string): Rejection {
  return new Rejection(reason, hmsAnswer(status, code, msg));
}

/** Push Kit's rules for the parts of `message` the server reads; returns the typed message. */
function validateHmsMessage(body: Buffer): HmsMessage {
  if (body.length > HMS_MAX_BODY) throw hmsRejection('badPayload', 400, '80300008', 'The message body size exceeds the default value');
  let parsed: unknown;
  try {
    parsed = parseJson(body);
  } catch {
    throw hmsRejection('badPayload', 400, '80100003', 'Incorrect message structure');
  }
  const message = isPlainObject(parsed) ? parsed.message : undefined;
  if (!isPlainObject(message)) throw hmsRejection('badPayload', 400, '80100003', 'Incorrect message structure');
  const tokens = message.token;
  if (!Array.isArray(tokens) || tokens.length === 0 || tokens.length > HMS_MAX_TOKENS || tokens.some((t) => typeof t !== 'string' || t === '')) {
    throw hmsRejection('badPayload', 400, '80300010', 'The number of tokens in the message body exceeds the default value');
  }
  // `data` is a string (JSON text for notification messages), never an object.
  if (message.data !== undefined && typeof message.data !== 'string') throw hmsRejection('badPayload', 400, '80100003', 'Incorrect message structure');
  const android = message.android;
  if (android !== undefined && !isPlainObject(android)) throw hmsRejection('badPayload', 400, '80100003', 'Incorrect message structure');
  const collapse = android?.collapse_key;
  if (collapse !== undefined && !(Number.isInteger(collapse) && (collapse as number) >= -1 && (collapse as number) <= 100)) {
    throw hmsRejection('badPayload', 400, '80100001', 'Some request parameters are incorrect');
  }
  // A notification message needs android.notification.click_action with a type from 1 to 4.
  const notification = android?.notification;
  if (message.notification !== undefined || notification !== undefined) {
    const type = isPlainObject(notification) && isPlainObject(notification.click_action) ? notification.click_action.type : undefined;
    if (!Number.isInteger(type) || (type as number) < 1 || (type as number) > 4) throw hmsRejection('badPayload', 400, '80100001', 'Some request parameters are incorrect');
  }
  return message as HmsMessage;
}

class HmsProvider extends MockProvider<HmsMessage> implements HmsServer {
  readonly appId = String(100_000_000 + (randomBytes(4).readUInt32BE(0) % 900_000_000));
  readonly accessToken = `DAEDA${randomBytes(24).toString('base64url')}`;

  protected async handle(req: ProviderRequest): Promise<Answer> {
    const app = /^\/v1\/([^/]+)\/messages(?::|%3A)send$/i.exec(req.path)?.[1];
    if (req.method !== 'POST' || app === undefined) throw new Rejection('badRequest', text(404, 'Not Found'));
    // A token of another app (or none) is an OAuth error, as for a token issued for app A used on app B.
    if (/^Bearer\s+(\S+)$/.exec(req.headers.authorization ?? '')?.[1] !== this.accessToken || decodeURIComponent(app) !== this.appId) {
      throw hmsRejection('badAuth', 401, '80200001', 'Oauth authentication error');
    }
    if (!/^application\/json\b/i.test(req.headers['content-type'] ?? '')) throw hmsRejection('badRequest', 400, '80100003', 'Incorrect message structure');
    const message = validateHmsMessage(req.body);
    const [token] = message.token;
    if (message.token.every((t) => this.unregisteredAt.has(t))) throw new Rejection('unregistered', HMS_INVALID_TOKEN());
    return this.accept(token, message, req, hmsAnswer(200, '80000000', 'Success'));
  }
}

export async function startHmsServer(): Promise<HmsServer> {
  let provider!: HmsProvider;
  const listener = await listenHttp1((req) => provider.answer(req));
  provider = new HmsProvider(listener);
  return provider;
}

// ---------------------------------------------------------------------------------------------------
// 5. Windows Push Notification Services (WNS)
// ---------------------------------------------------------------------------------------------------

export interface WnsServer extends PushProviderServer<unknown> {
  /** The access token the server accepts as `Authorization: Bearer`. */
  readonly accessToken: string;
  /**
   * A new channel URI, as WNS hands one to a Windows app: `https://127.0.0.1:<port>/?token=<id>`; `deviceId` in
   * `received` is the id. Sends to a URI the server never issued get 404.
   */
  newChannel(): string;
}

/** WNS's largest notification body. */
const WNS_MAX_BODY = 5000;
const WNS_TYPES = new Set(['wns/toast', 'wns/tile', 'wns/badge', 'wns/raw']);

/** A WNS answer: a status with WNS's headers and no body (as WNS answers). */
export function wnsAnswer(status: number, headers: Record<string, string> = {}): OverrideAnswer {
  return { status, headers: { 'x-wns-debug-trace': randomBytes(4).toString('hex'), ...headers }, body: '' };
}

function wnsRejection(reason: Exclude<keyof RejectionStats, 'overridden'>, status: number, description: string): Rejection {
  return new Rejection(reason, wnsAnswer(status, { 'x-wns-error-description': description }));
}

class WnsProvider extends MockProvider<unknown> implements WnsServer {
  readonly accessToken = `EgAaAQMAAAAEgAAA${randomBytes(24).toString('base64url')}`;
  private readonly channels = new Set<string>();

  newChannel(): string {
    const id = randomBytes(18).toString('base64url');
    this.channels.add(id);
    return `${this.url}/?token=${id}`;
  }

  protected async handle(req: ProviderRequest): Promise<Answer> {
    if (req.method !== 'POST') throw wnsRejection('badRequest', 405, 'Method not allowed');
    if (/^Bearer\s+(\S+)$/.exec(req.headers.authorization ?? '')?.[1] !== this.accessToken) throw wnsRejection('badAuth', 401, 'Invalid token');
    const channel = req.path === '/' ? req.query.get('token') : null;
    if (!channel || !this.channels.has(channel)) throw wnsRejection('badRequest', 404, 'Channel URI not valid');
    if (this.unregisteredAt.has(channel)) throw wnsRejection('unregistered', 410, 'Channel expired');
    const type = req.headers['x-wns-type'];
    if (!type || !WNS_TYPES.has(type)) throw wnsRejection('badRequest', 400, 'Invalid X-WNS-Type header');
    // Raw notifications are octet-streams; Sockudo sends toast and tile notifications as JSON (WNS's own are XML).
    const contentType = req.headers['content-type'] ?? '';
    if (type === 'wns/raw' ? !/^application\/octet-stream\b/i.test(contentType) : !/^(application\/json|text\/xml)\b/i.test(contentType)) {
      throw wnsRejection('badRequest', 400, 'Invalid Content-Type header');
    }
    if (req.body.length === 0) throw wnsRejection('badPayload', 400, 'Empty notification body');
    if (req.body.length > WNS_MAX_BODY) throw wnsRejection('badPayload', 413, 'Notification payload too large');
    let payload: unknown = req.body.toString('utf8');
    if (/^application\/json\b/i.test(contentType)) {
      try {
        payload = parseJson(req.body);
      } catch {
        throw wnsRejection('badPayload', 400, 'Invalid notification payload');
      }
    }
    return this.accept(channel, payload, req, wnsAnswer(200, { 'x-wns-notificationstatus': 'received', 'x-wns-msg-id': randomBytes(8).toString('hex').toUpperCase() }));
  }
}

/** A throwaway self-signed certificate for 127.0.0.1 (Debian's openssl, like redis-server for the Redis tests). */
function selfSignedCertificate(): { key: string; cert: string } {
  const dir = mkdtempSync(join(tmpdir(), 'mock-wns-tls-'));
  try {
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')],
      { stdio: 'ignore' },
    );
    return { key: readFileSync(join(dir, 'key.pem'), 'utf8'), cert: readFileSync(join(dir, 'cert.pem'), 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Starts the WNS stand-in over TLS. Its certificate is self-signed: the test process must not verify it
 * (NODE_TLS_REJECT_UNAUTHORIZED=0 in that test file only), the server's senders being undici's defaults.
 */
export async function startWnsServer(): Promise<WnsServer> {
  let provider!: WnsProvider;
  const listener = await listenHttp1((req) => provider.answer(req), selfSignedCertificate());
  provider = new WnsProvider(listener);
  return provider;
}
