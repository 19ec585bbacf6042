// V2 subscription filters: event names, tag predicates and a JMESPath expression, validated and compiled
// once per distinct filter. `key` is a canonical form so equal filters share one uWS topic and one
// evaluation per message.
import { TreeInterpreter, compile } from '@jmespath-community/jmespath';

/** What a filter can see of a message (the reference's projection, §3.7). */
export interface FilterView {
  event: string;
  channel: string;
  /** The delivered data: a JSON object/array/value when the data string is JSON, else the string. */
  data: unknown;
  tags?: Record<string, string>;
  headers?: Record<string, unknown>;
  userId?: string;
  messageId?: string;
  streamId?: string;
  serial?: number;
}

type TagNode =
  | { key: string; cmp: 'eq' | 'neq' | 'sw' | 'ew' | 'ct' | 'gt' | 'gte' | 'lt' | 'lte'; val: string }
  | { key: string; cmp: 'in' | 'nin'; vals: string[] }
  | { key: string; cmp: 'ex' | 'nex' }
  | { op: 'and' | 'or' | 'not'; nodes: TagNode[] };

export interface CompiledFilter {
  key: string;
  matches(view: FilterView): boolean;
}

export type FilterResult = { ok: true; filter: CompiledFilter } | { ok: false; message: string };

const MAX_EVENTS = 50;
const MAX_DEPTH = 8;
const MAX_NODES = 64;

/** Parses the `filter` (or legacy `tags_filter`) of a V2 subscribe. */
export function compileFilter(spec: unknown): FilterResult {
  try {
    if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) throw new Error('filter must be an object');
    const s = spec as Record<string, unknown>;
    // A bare tag node is accepted as the whole filter (legacy form).
    const isBareNode = 'cmp' in s || 'op' in s;
    const events = isBareNode ? undefined : parseEvents(s.events);
    const tags = isBareNode ? parseTagNode(s, 0, { n: 0 }) : s.tags === undefined ? undefined : parseTagNode(s.tags, 0, { n: 0 });
    const source = isBareNode ? undefined : parseExpression(s.expression);
    const expression = source === undefined ? undefined : compile(source);
    const key = JSON.stringify({ e: events ? [...events].sort() : null, t: tags ?? null, x: source ?? null });
    return {
      ok: true,
      filter: {
        key,
        matches(view) {
          if (events && !events.has(view.event)) return false;
          if (tags && !evalTags(tags, view.tags ?? {})) return false;
          if (expression) {
            try {
              return truthy(TreeInterpreter.search(expression, view as never));
            } catch {
              return false; // evaluation errors fail closed
            }
          }
          return true;
        },
      },
    };
  } catch (err) {
    return { ok: false, message: `Invalid filter: ${(err as Error).message}` };
  }
}

function parseEvents(v: unknown): Set<string> | undefined {
  // An empty list filters nothing out, as in Sockudo (extract_event_name_filter: "receive all").
  if (v === undefined || (Array.isArray(v) && v.length === 0)) return undefined;
  if (!Array.isArray(v) || v.length > MAX_EVENTS) throw new Error(`events must be a list of at most ${MAX_EVENTS} names`);
  for (const e of v) if (typeof e !== 'string' || e === '' || e.length > 200) throw new Error('event names must be non-empty strings');
  return new Set(v as string[]);
}

function parseExpression(v: unknown): string | undefined {
  if (v === undefined) return undefined;
  const source = typeof v === 'object' && v !== null && (v as Record<string, unknown>).language === 'jmespath' ? (v as Record<string, unknown>).source : v;
  if (typeof source !== 'string' || source === '' || source.length > 1000) throw new Error('expression must be a JMESPath string');
  return source;
}

const LEAF_CMPS = new Set(['eq', 'neq', 'sw', 'ew', 'ct', 'gt', 'gte', 'lt', 'lte']);

function parseTagNode(v: unknown, depth: number, count: { n: number }): TagNode {
  if (depth > MAX_DEPTH || ++count.n > MAX_NODES) throw new Error('tag filter is too large');
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('tag filter nodes must be objects');
  const n = v as Record<string, unknown>;
  if (n.op !== undefined) {
    if (n.op !== 'and' && n.op !== 'or' && n.op !== 'not') throw new Error(`unknown op '${String(n.op)}'`);
    if (!Array.isArray(n.nodes) || n.nodes.length === 0) throw new Error(`'${n.op}' needs a non-empty nodes list`);
    if (n.op === 'not' && n.nodes.length !== 1) throw new Error("'not' takes exactly one node");
    return { op: n.op, nodes: n.nodes.map((x) => parseTagNode(x, depth + 1, count)) };
  }
  if (typeof n.key !== 'string' || n.key === '') throw new Error('tag filter needs a key');
  const str = (x: unknown) => {
    if (typeof x === 'string') return x;
    if (typeof x === 'number' || typeof x === 'boolean') return String(x);
    throw new Error(`value for '${n.key}' must be a string or number`);
  };
  if (n.cmp === 'ex' || n.cmp === 'nex') return { key: n.key, cmp: n.cmp };
  if (n.cmp === 'in' || n.cmp === 'nin') {
    if (!Array.isArray(n.vals) || n.vals.length === 0) throw new Error(`'${n.cmp}' needs a non-empty vals list`);
    return { key: n.key, cmp: n.cmp, vals: n.vals.map(str) };
  }
  if (typeof n.cmp !== 'string' || !LEAF_CMPS.has(n.cmp)) throw new Error(`unknown cmp '${String(n.cmp)}'`);
  const val = str(n.val);
  if (val === '') throw new Error(`'${n.cmp}' needs a non-empty val`);
  return { key: n.key, cmp: n.cmp as 'eq', val };
}

function evalTags(node: TagNode, tags: Record<string, string>): boolean {
  if ('op' in node) {
    if (node.op === 'and') return node.nodes.every((x) => evalTags(x, tags));
    if (node.op === 'or') return node.nodes.some((x) => evalTags(x, tags));
    return !evalTags(node.nodes[0], tags);
  }
  const has = Object.hasOwn(tags, node.key);
  const value = has ? tags[node.key] : undefined;
  switch (node.cmp) {
    case 'ex':
      return has;
    case 'nex':
      return !has;
    case 'in':
      return value !== undefined && node.vals.includes(value);
    case 'nin':
      return value === undefined || !node.vals.includes(value);
    case 'neq':
      return value !== node.val;
  }
  if (value === undefined) return false;
  switch (node.cmp) {
    case 'eq':
      return value === node.val;
    case 'sw':
      return value.startsWith(node.val);
    case 'ew':
      return value.endsWith(node.val);
    case 'ct':
      return value.includes(node.val);
    default: {
      const a = toNumber(value);
      const b = toNumber(node.val);
      if (a === null || b === null) return false;
      return node.cmp === 'gt' ? a > b : node.cmp === 'gte' ? a >= b : node.cmp === 'lt' ? a < b : a <= b;
    }
  }
}

/** Plain decimal numbers only: '', ' 5 ' and '0x10' are not numbers here. */
/** A tag value as a number the way Rust's `str::parse::<f64>` reads it (Sockudo's numeric compare), else null. */
function toNumber(s: string): number | null {
  if (/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(s)) return Number(s);
  if (/^[-+]?(inf|infinity)$/i.test(s)) return s.startsWith('-') ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
  if (/^[-+]?nan$/i.test(s)) return Number.NaN;
  return null;
}

function truthy(v: unknown): boolean {
  if (v === null || v === false || v === undefined || v === '') return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === 'object') return Object.keys(v).length > 0;
  return true;
}

/**
 * Wildcard subscriptions (V2, public): exactly one `*`, no `#`, no private/presence prefix, then the alphabet;
 * checked in that order, with Sockudo's texts (validate_wildcard_subscription_pattern).
 */
export function wildcardError(pattern: string): string | null {
  if ((pattern.match(/\*/g) ?? []).length !== 1) return `Wildcard subscription '${pattern}' must contain exactly one '*'`;
  if (pattern.includes('#')) return `Wildcard subscription '${pattern}' cannot use user-limited syntax`;
  if (pattern.startsWith('private-') || pattern.startsWith('presence-')) return `Wildcard subscription '${pattern}' is only supported for public channels`;
  if (!/^[A-Za-z0-9\-_=@.:*]+$/.test(pattern)) return `Wildcard subscription '${pattern}' contains invalid characters`;
  return null;
}

/** Only public channels ever reach a wildcard subscription (no signature was checked for it). */
export function wildcardMatches(pattern: string, channel: string): boolean {
  if (channel.startsWith('private-') || channel.startsWith('presence-') || channel.startsWith('#')) return false;
  const star = pattern.indexOf('*');
  const prefix = pattern.slice(0, star);
  const suffix = pattern.slice(star + 1);
  // No length check, as in Sockudo (wildcard_pattern_matches): `x*x` matches `x`.
  return channel.startsWith(prefix) && channel.endsWith(suffix);
}
