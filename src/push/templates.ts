// Notification templates, as Sockudo's push API has them (`/push/templates`, a publish's `payload.templateId`):
// localized title/body/icon/sound/collapseKey chosen by `templateData.locale`, filling in only what the publish
// leaves out, and `{{ data.path }}` placeholders over the publish's data. Placeholders are substituted in every
// publish, templated or not, with Sockudo's rules and texts (a missing key is an error, never an empty string).
import { z } from 'zod';
import { HttpError } from '../errors.ts';
import type { Provider, PushPayload } from './types.ts';

const PROVIDERS = ['fcm', 'apns', 'webPush', 'hms', 'wns'] as const;
/** Largest rendered placeholder string (Sockudo's MAX_RENDERED_TEMPLATE_BYTES). */
const MAX_RENDERED_BYTES = 4096;

const nonEmpty = (field: string) => z.string({ message: `${field}: a string` }).refine((s) => s.trim() !== '', `${field} must not be empty`);

const contentSchema = z.object({
  title: nonEmpty('title'),
  body: nonEmpty('body'),
  icon: z.string().optional(),
  sound: z.string().optional(),
  collapseKey: z.string().optional(),
});

const templateSchema = z.object({
  templateId: nonEmpty('templateId')
    .refine((s) => Buffer.byteLength(s) <= 128, 'templateId exceeds 128 bytes')
    .refine((s) => !s.includes('\u0000'), 'templateId is invalid: must not contain NUL characters'),
  defaultLocale: nonEmpty('defaultLocale'),
  locales: z.record(z.string(), contentSchema),
  providerOverrides: z
    .record(
      z.string(),
      z.object({
        provider: z.enum(PROVIDERS),
        payload: z.record(z.string(), z.unknown()).refine((p) => Buffer.byteLength(JSON.stringify(p)) <= 4096, 'payload exceeds 4096 bytes'),
      }),
    )
    .default({}),
});

export type NotificationTemplate = z.output<typeof templateSchema> & { appId: string };
type TemplateContent = z.output<typeof contentSchema>;

/** A template from a `POST /push/templates` body (its `appId` is the path's); refusals are 400s with Sockudo's texts. */
export function parseTemplate(body: unknown, appId: string): NotificationTemplate {
  const r = templateSchema.safeParse(body);
  if (!r.success) {
    const issue = r.error.issues[0];
    const path = issue.path.join('.');
    throw new HttpError('invalidInput', issue.message.includes(' must ') || issue.message.includes(' exceeds ') ? issue.message : `${path || '(body)'}: ${issue.message}`);
  }
  const t = r.data;
  if (Object.keys(t.locales).some((l) => l.trim() === '')) throw new HttpError('invalidInput', 'locale must not be empty');
  if (!Object.hasOwn(t.locales, t.defaultLocale)) throw new HttpError('invalidInput', 'defaultLocale is invalid: must exist in locales');
  for (const [key, o] of Object.entries(t.providerOverrides)) {
    if (key !== o.provider) throw new HttpError('invalidInput', `providerOverrides.${key}: the key must be its provider ("${o.provider}")`);
  }
  return { appId, ...t };
}

const substitutionError = (reason: string) => new HttpError('invalidInput', `invalid template substitution: ${reason}`);

/**
 * The locale's content: `templateData.locale` exactly, then its shorter prefixes (`pt_BR` → `pt`, `zh-Hant-TW` →
 * `zh-Hant` → `zh`), then the template's default locale.
 */
function localeContent(t: NotificationTemplate, requested: unknown): TemplateContent {
  if (typeof requested === 'string' && requested.trim() !== '') {
    if (Object.hasOwn(t.locales, requested)) return t.locales[requested];
    const parts = requested.replaceAll('_', '-').split('-');
    for (let n = parts.length - 1; n > 0; n--) {
      const prefix = parts.slice(0, n).join('-');
      if (Object.hasOwn(t.locales, prefix)) return t.locales[prefix];
    }
  }
  const fallback = Object.hasOwn(t.locales, t.defaultLocale) ? t.locales[t.defaultLocale] : undefined;
  if (!fallback) throw substitutionError('template locale is missing');
  return fallback;
}

/**
 * A templated publish's payload and overrides: each of title, body, icon, sound and collapseKey is the publish's
 * own when it has one, else the template's; the publish's provider overrides replace the template's per provider.
 */
export function applyTemplate(
  t: NotificationTemplate,
  payload: PushPayload,
  overrides: Partial<Record<Provider, Record<string, unknown>>>,
): { payload: PushPayload; overrides: Partial<Record<Provider, Record<string, unknown>>> } {
  const content = localeContent(t, payload.data?.locale);
  const merged: PushPayload = { ...payload };
  for (const k of ['title', 'body', 'icon', 'sound', 'collapseKey'] as const) if (merged[k] === undefined && content[k] !== undefined) merged[k] = content[k];
  const fromTemplate: Partial<Record<Provider, Record<string, unknown>>> = {};
  for (const o of Object.values(t.providerOverrides)) fromTemplate[o.provider] = o.payload;
  return { payload: merged, overrides: { ...fromTemplate, ...overrides } };
}

/** The payload with `{{ data.path }}` placeholders in title, body, icon, sound and collapseKey replaced. */
export function substitutePlaceholders(payload: PushPayload): PushPayload {
  const out: PushPayload = { ...payload };
  for (const k of ['title', 'body', 'icon', 'sound', 'collapseKey'] as const) {
    const v = out[k];
    if (v !== undefined && v.includes('{{')) out[k] = substitute(v, payload.data ?? {});
  }
  return out;
}

function substitute(text: string, data: Record<string, unknown>): string {
  let out = '';
  let at = 0;
  for (;;) {
    const open = text.indexOf('{{', at);
    if (open < 0) break;
    const close = text.indexOf('}}', open + 2);
    if (close < 0) throw substitutionError('unterminated placeholder');
    out += text.slice(at, open) + scalarText(lookup(text.slice(open + 2, close).trim(), data));
    at = close + 2;
  }
  out += text.slice(at);
  if (Buffer.byteLength(out) > MAX_RENDERED_BYTES) throw substitutionError('rendered output is too large');
  return out;
}

/** A `data.a.b` key (at most four dots) walked through the publish's data. */
function lookup(key: string, data: Record<string, unknown>): unknown {
  if (!key.startsWith('data.') || key === 'data.' || key.split('.').length > 5 || !/^[A-Za-z0-9_.]+$/.test(key)) {
    throw substitutionError('placeholder key must use a bounded data.* path');
  }
  const path = key.slice('data.'.length).split('.');
  if (path.some((p) => p === '')) throw substitutionError('placeholder key is not allowed');
  let value: unknown = data;
  for (const segment of path) {
    if (value === null || typeof value !== 'object' || Array.isArray(value) || !Object.hasOwn(value, segment)) throw substitutionError('placeholder key is missing');
    value = (value as Record<string, unknown>)[segment];
  }
  return value;
}

function scalarText(value: unknown): string {
  if (value === null) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  throw substitutionError('placeholder value must be scalar');
}
