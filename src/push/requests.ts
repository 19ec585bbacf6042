// Validation of push API bodies (camelCase, as Sockudo): every refusal is a 400 that names the field.
import { z } from 'zod';
import { HttpError } from '../errors.ts';
import { PROVIDER_LIMIT_BYTES, type RenderedPayloads, WNS_TYPES, oversized, render } from './render.ts';
import { type NotificationTemplate, applyTemplate, substitutePlaceholders } from './templates.ts';
import type { Provider, PublishIntent, PushPayload, Recipient, Target } from './types.ts';

const MAX_TARGETS = 1024;
const bytes = (max: number) => z.string().refine((s) => Buffer.byteLength(s) <= max, `at most ${max} bytes`);
const base64urlBytes = (n: number, what: string) =>
  z.string().refine((s) => /^[A-Za-z0-9_\-+/]+=*$/.test(s) && Buffer.from(s, 'base64url').length === n, `${what} (${n} bytes, base64url)`);
/** Ids kept in the push store: PostgreSQL text cannot hold NUL, so neither store takes one. */
const noNul = (s: string) => !s.includes('\u0000');
const NUL_REFUSED = 'must not contain NUL characters';
const id = z.string().min(1).max(128).refine(noNul, NUL_REFUSED);
const requiredString = z.string({ error: (issue) => (issue.input === undefined ? 'required' : 'a string') });
const channelName = z.string().min(1).max(200).regex(/^[A-Za-z0-9_\-=@,.;]+$/, 'letters, digits and _-=@,.; only');

/** A browser's PushSubscription JSON (`keys: {p256dh, auth}`) is accepted as well as Sockudo's flat shape. */
const webRecipient = z.preprocess(
  (v) => (v && typeof v === 'object' && 'keys' in v && v.keys && typeof v.keys === 'object' ? { ...v, ...v.keys, keys: undefined } : v),
  z.object({
    transportType: z.literal('web'),
    endpoint: z.string().url().max(2048).refine((u) => /^https?:/.test(u), 'an http(s) URL'),
    p256dh: base64urlBytes(65, 'an uncompressed P-256 public key'),
    auth: base64urlBytes(16, 'the subscription auth secret'),
  }),
);

/** A string that is not blank (Sockudo's `require_secret`), at most `max` bytes. */
function requiredText(max: number, blank: string) {
  return requiredString
    .refine((s) => s.trim() !== '', blank)
    .refine((s) => Buffer.byteLength(s) <= max, `at most ${max} bytes`);
}

/**
 * A WNS channel URI as Sockudo's `validate_web_push_endpoint` checks it: an https URL with a host and no user
 * info. (Sockudo also refuses local and private addresses unless PUSH_ALLOW_LOCAL_WEB_PUSH_ENDPOINTS is set; like
 * the Web Push endpoint here, that is not checked.)
 */
function channelUriProblem(uri: string, ctx: z.RefinementCtx<string>): void {
  if (uri.trim() === '') return;
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    ctx.addIssue({ code: 'custom', message: 'must be a valid URL' });
    return;
  }
  if (url.protocol !== 'https:') ctx.addIssue({ code: 'custom', message: 'must use https' });
  else if (url.username !== '' || url.password !== '') ctx.addIssue({ code: 'custom', message: 'userinfo is not allowed' });
  else if (url.hostname === '') ctx.addIssue({ code: 'custom', message: 'must include a host' });
}

/** One schema per transportType, chosen by the field, so an error names the field that is wrong. */
const RECIPIENTS: Record<string, z.ZodType> = {
  web: webRecipient,
  gcm: z.object({ transportType: z.literal('gcm'), registrationToken: z.string().min(1).max(4096) }),
  apns: z.object({ transportType: z.literal('apns'), deviceToken: z.string().regex(/^[0-9a-fA-F]{64,200}$/, 'a hex APNs device token') }),
  hms: z.object({ transportType: z.literal('hms'), registrationToken: requiredText(4096, 'registrationToken must not be empty') }),
  wns: z.object({ transportType: z.literal('wns'), channelUri: requiredText(2048, 'channelUri must not be empty').superRefine(channelUriProblem) }),
};

export const recipientSchema = z.unknown().superRefine((v, ctx) => {
  const type = (v as { transportType?: unknown } | null)?.transportType;
  const schema = typeof type === 'string' && Object.hasOwn(RECIPIENTS, type) ? RECIPIENTS[type] : undefined;
  if (!schema) {
    ctx.addIssue({ code: 'custom', path: ['transportType'], message: 'one of web, gcm, apns, hms, wns' });
    return;
  }
  const r = schema.safeParse(v);
  if (!r.success) for (const issue of r.error.issues) ctx.addIssue({ code: 'custom', path: issue.path, message: issue.message });
}).transform((v) => RECIPIENTS[(v as { transportType: string }).transportType].parse(v) as Recipient);

/**
 * FCM's topic names (`[a-zA-Z0-9-_.~%]{1,900}`, the format FCM's client SDKs enforce); FCM v1 takes them without
 * the legacy `/topics/` prefix. Sockudo itself only checks that the topic is not blank ("topic must not be empty").
 */
const FCM_TOPIC = /^[A-Za-z0-9\-_.~%]{1,900}$/;
/** The tokens of an FCM condition: `'name' in topics` terms (either quote), &&, ||, !, parentheses. */
const CONDITION_TOKEN = /\s*(?:(['"])([^'"]*)\1\s+in\s+topics\b|(&&|\|\||!|\(|\)))/y;
/** FCM allows up to five topics in one condition. */
const MAX_CONDITION_TOPICS = 5;
const MAX_CONDITION_DEPTH = 32;

/** Sockudo accepts any of its providers here but sends topics and conditions nowhere; only FCM has them. */
const fcmOnly = (type: string) =>
  requiredString.refine((p) => p === 'fcm', { error: (issue) => `${JSON.stringify(issue.input)} is not supported: ${type} targets go to FCM only (use "fcm")` });

const fcmTopic = requiredString
  .refine((t) => t.trim() !== '', 'topic must not be empty')
  .refine((t) => FCM_TOPIC.test(t), 'not an FCM topic name: 1 to 900 letters, digits and -_.~% (no /topics/ prefix)');

/**
 * Why `condition` is not an FCM condition (null when it is): `'topic' in topics` terms joined by && and ||, negated
 * with !, grouped with parentheses; at most five topics, each a valid topic name.
 */
export function conditionProblem(condition: string): string | null {
  const syntax = "not an FCM condition: 'topic' in topics terms joined by && and ||, with ! and parentheses";
  const tokens: string[] = [];
  const topics: string[] = [];
  const text = condition.trim();
  for (let at = 0; at < text.length; at = CONDITION_TOKEN.lastIndex) {
    CONDITION_TOKEN.lastIndex = at;
    const m = CONDITION_TOKEN.exec(text);
    if (!m) return syntax;
    if (m[3]) tokens.push(m[3]);
    else {
      tokens.push('topic');
      topics.push(m[2]);
    }
  }
  // expression := and ('||' and)*; and := unary ('&&' unary)*; unary := '!' unary | '(' expression ')' | topic
  let i = 0;
  let depth = 0;
  const unary = (): boolean => {
    while (tokens[i] === '!') i++;
    if (tokens[i] !== '(') return tokens[i++] === 'topic';
    // Bounded, so a hostile condition cannot exhaust the stack.
    if (++depth > MAX_CONDITION_DEPTH) return false;
    i++;
    const ok = expression() && tokens[i++] === ')';
    depth--;
    return ok;
  };
  const and = (): boolean => {
    if (!unary()) return false;
    while (tokens[i] === '&&') if ((i++, !unary())) return false;
    return true;
  };
  const expression = (): boolean => {
    if (!and()) return false;
    while (tokens[i] === '||') if ((i++, !and())) return false;
    return true;
  };
  if (!expression() || i !== tokens.length) return syntax;
  if (topics.length > MAX_CONDITION_TOPICS) return `an FCM condition names at most ${MAX_CONDITION_TOPICS} topics`;
  const bad = topics.find((t) => !FCM_TOPIC.test(t));
  return bad === undefined ? null : `${JSON.stringify(bad)} is not an FCM topic name: 1 to 900 letters, digits and -_.~%`;
}

const fcmCondition = requiredString.refine((c) => c.trim() !== '', 'condition must not be empty').superRefine((c, ctx) => {
  const problem = c.trim() === '' ? null : conditionProblem(c);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

const TARGETS: Record<string, z.ZodType> = {
  channel: z.object({ type: z.literal('channel'), channel: channelName }),
  device: z.object({ type: z.literal('device'), device_id: id.optional(), deviceId: id.optional() }).refine((t) => t.device_id ?? t.deviceId, { message: 'required', path: ['device_id'] }),
  client: z.object({ type: z.literal('client'), client_id: id.optional(), clientId: id.optional() }).refine((t) => t.client_id ?? t.clientId, { message: 'required', path: ['client_id'] }),
  recipient: z.object({ type: z.literal('recipient'), recipient: recipientSchema }),
  providerTopic: z.object({ type: z.literal('providerTopic'), provider: fcmOnly('providerTopic'), topic: fcmTopic }),
  providerCondition: z.object({ type: z.literal('providerCondition'), provider: fcmOnly('providerCondition'), condition: fcmCondition }),
};

const dataObject = z.record(z.string(), z.unknown()).refine((d) => Buffer.byteLength(JSON.stringify(d)) <= 8192, 'at most 8192 bytes of JSON');

/** A notification's own fields: checked in a publish, and again once a template has filled them in. */
const contentSchema = z.object({
  title: bytes(256).optional(),
  body: bytes(4096).optional(),
  icon: z.string().url().max(2048).refine((u) => /^https:\/\//i.test(u), 'an https URL').optional(),
  sound: z.string().max(256).optional(),
  collapseKey: z.string().max(64).optional(),
});

// Sockudo's five providers; a WNS override's `type` is one of WNS's (transform.rs `validate_wns_fields`).
const overrideSchema = z
  .object({ provider: z.enum(['fcm', 'apns', 'webPush', 'hms', 'wns']), payload: z.record(z.string(), z.unknown()).refine((p) => Buffer.byteLength(JSON.stringify(p)) <= 4096, 'at most 4096 bytes') })
  .refine((o) => o.provider !== 'wns' || o.payload.type === undefined || (typeof o.payload.type === 'string' && (WNS_TYPES as readonly string[]).includes(o.payload.type)), {
    message: `invalid wns override: invalid type (one of ${WNS_TYPES.join(', ')})`,
    path: ['payload', 'type'],
  });

const publishSchema = z.object({
  publishId: id.regex(/^[A-Za-z0-9_\-.:]+$/, 'letters, digits and _-.: only').optional(),
  recipients: z.array(z.unknown()).min(1).max(MAX_TARGETS),
  payload: contentSchema.extend({
    templateId: id.optional(),
    templateData: dataObject.optional(),
    data: dataObject.optional(),
  }),
  providerOverrides: z.array(overrideSchema).optional(),
  sync: z.boolean().optional(),
  notBeforeMs: z.number().int().nonnegative().optional(),
  expiresAtMs: z.number().int().nonnegative().optional(),
});

export interface ParsedPublish {
  publishId: string | undefined;
  intent: PublishIntent;
  /** Each provider's message, rendered once for the size check and the 202's renderedPayloads. */
  rendered: RenderedPayloads;
  sync: boolean;
}

/** The `payload.templateId` a publish body names, if any (its template is fetched before parsePublish). */
export function templateIdOf(body: unknown): string | undefined {
  const id = (body as { payload?: { templateId?: unknown } } | null)?.payload?.templateId;
  return typeof id === 'string' ? id : undefined;
}

/** `template`: the one `payload.templateId` names, fetched by the caller (src/push/templates.ts). */
export function parsePublish(body: unknown, where = '', template: NotificationTemplate | null = null): ParsedPublish {
  const p = check(publishSchema, body, where);
  if (p.payload.templateId !== undefined && template?.templateId !== p.payload.templateId) {
    throw new HttpError('invalidInput', `${where}payload.templateId: templates are resolved for POST /push/publish and /push/batch/publish only`);
  }
  const recipients: Target[] = p.recipients.map((raw, i) => {
    const type = (raw as { type?: unknown } | null)?.type;
    const schema = typeof type === 'string' && Object.hasOwn(TARGETS, type) ? TARGETS[type] : undefined;
    if (!schema) throw new HttpError('invalidInput', `${where}recipients[${i}].type: ${JSON.stringify(type ?? null)} is not supported; use channel, device, client, recipient, providerTopic or providerCondition`);
    const t = check(schema, raw, `${where}recipients[${i}].`) as Record<string, string> & { recipient: Recipient };
    if (t.type === 'channel') return { type: 'channel', channel: t.channel };
    if (t.type === 'device') return { type: 'device', deviceId: (t.device_id ?? t.deviceId) as string };
    if (t.type === 'client') return { type: 'client', clientId: (t.client_id ?? t.clientId) as string };
    if (t.type === 'providerTopic') return { type: 'providerTopic', provider: 'fcm', topic: t.topic };
    if (t.type === 'providerCondition') return { type: 'providerCondition', provider: 'fcm', condition: t.condition };
    return { type: 'recipient', recipient: t.recipient as Recipient };
  });
  const { templateData, data, templateId: _unused, ...rest } = p.payload;
  const overrides: Partial<Record<Provider, Record<string, unknown>>> = {};
  for (const o of p.providerOverrides ?? []) overrides[o.provider] = o.payload;
  // The guide's `payload.data` is the custom data, like Sockudo's templateData (templateData wins).
  let payload: PushPayload = { ...rest, ...(templateData || data ? { data: { ...data, ...templateData } } : {}) };
  let withOverrides = overrides;
  if (template) {
    ({ payload, overrides: withOverrides } = applyTemplate(template, payload, overrides));
    // What the template filled in meets the rules a publish's own fields and overrides do (Sockudo validates again).
    const from = `${where}payload (template "${template.templateId}").`;
    check(contentSchema, { title: payload.title, body: payload.body, icon: payload.icon, sound: payload.sound, collapseKey: payload.collapseKey }, from);
    for (const [provider, o] of Object.entries(withOverrides)) check(overrideSchema, { provider, payload: o }, `${where}providerOverrides (template "${template.templateId}", ${provider}).`);
  }
  const intent: PublishIntent = {
    recipients,
    payload: substitutePlaceholders(payload),
    overrides: withOverrides,
    notBeforeMs: p.notBeforeMs ?? 0,
    expiresAtMs: p.expiresAtMs ?? 0,
  };
  const rendered = render(intent);
  const tooBig = oversized(rendered);
  if (tooBig.length > 0) throw new HttpError('invalidInput', `${where}payload: ${oversizeText(tooBig)}`);
  return { publishId: p.publishId, intent, rendered, sync: p.sync === true };
}

/** "the rendered webPush, fcm message is over 4096 bytes" (providers with another limit named after it). */
function oversizeText(providers: Provider[]): string {
  const byLimit = new Map<number, Provider[]>();
  for (const p of providers) byLimit.set(PROVIDER_LIMIT_BYTES[p], [...(byLimit.get(PROVIDER_LIMIT_BYTES[p]) ?? []), p]);
  return [...byLimit].map(([limit, names]) => `the rendered ${names.join(', ')} message is over ${limit} bytes`).join('; ');
}

const deviceSchema = z.object({
  id: id,
  clientId: id.nullable().optional(),
  formFactor: z.enum(['phone', 'tablet', 'desktop', 'tv', 'car', 'watch', 'embedded', 'other']).default('other'),
  platform: z.enum(['android', 'ios', 'browser', 'windows', 'macos', 'watchos', 'tvos', 'other']).default('other'),
  metadata: z.record(z.string(), z.unknown()).refine((m) => Buffer.byteLength(JSON.stringify(m)) <= 4096, 'at most 4096 bytes of JSON').default({}),
  timezone: z.string().max(64).default('UTC'),
  locale: z.string().max(35).default('en'),
  lastActiveAtMs: z.number().int().nonnegative().optional(),
  push: z.object({ recipient: recipientSchema, state: z.enum(['ACTIVE', 'FAILING', 'FAILED']).optional() }),
});
export type DeviceInput = z.output<typeof deviceSchema>;

export function parseDevice(body: unknown): DeviceInput {
  return check(deviceSchema, body, '');
}

const subscriptionSchema = z.object({
  channel: channelName,
  deviceId: id,
  clientId: id.nullable().optional(),
  tokenHash: z.string().optional(),
  /** Echoed back, as Sockudo's 201 echoes the body; this server keeps one credential per provider. */
  credentialVersion: z.union([z.string().max(200), z.number().int()]).optional(),
});

export function parseSubscription(body: unknown): z.output<typeof subscriptionSchema> {
  return check(subscriptionSchema, body, '');
}

const deliveryEventSchema = z.object({
  appId: z.string().optional(),
  publishId: z.string().refine(noNul, NUL_REFUSED),
  eventId: z.string().refine(noNul, NUL_REFUSED),
  occurredAtMs: z.number().int().nonnegative(),
  result: z.object({
    appId: z.string(),
    publishId: z.string(),
    provider: z.enum(['fcm', 'apns', 'webPush', 'hms', 'wns', 'realtime']),
    batchId: z.string(),
    deviceId: z.string().optional(),
    outcome: z.enum(['accepted', 'rejected', 'retryable', 'expired', 'cancelled']),
    providerMessageId: z.string().optional(),
    error: z
      .object({
        class: z.string(),
        failureClass: z.enum(['device_terminal', 'device_transient', 'provider_transient', 'provider_quota', 'credential_auth', 'caller_payload', 'network_transport', 'unknown']).optional(),
        reason: z.string().optional(),
        retryAfterMs: z.number().int().nonnegative().optional(),
      })
      .optional(),
    attempt: z.number().int().nonnegative(),
  }),
});
export type DeliveryEvent = z.output<typeof deliveryEventSchema>;

/** A `POST /push/deliveryStatus` body (Sockudo's DeliveryEvent; unknown keys dropped, as serde does). */
export function parseDeliveryEvent(body: unknown): DeliveryEvent {
  return check(deliveryEventSchema, body, '');
}

/** Parses with `schema`; the first problem becomes a 400 naming its field. */
function check<T extends z.ZodType>(schema: T, value: unknown, where: string): z.output<T> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const path = issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('').replace(/^\./, '');
  throw new HttpError('invalidInput', `${where}${path || '(body)'}: ${issue.message}`);
}
