// V2 subscription filters (§3.7): event lists, tag predicates, JMESPath expressions, canonical keys, and
// wildcard subscription patterns.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { V2Meta } from '../../src/ipc/messages.ts';
import { type CompiledFilter, type FilterView, compileFilter, wildcardError, wildcardMatches } from '../../src/protocol/filters.ts';
import { type TopicPublisher, V2Fanout, filterView } from '../../src/worker/v2Fanout.ts';
import { V2Message } from '../../src/worker/v2Message.ts';
import { channelEvent } from '../../src/protocol/frames.ts';
import { ReplayMirror } from '../../src/worker/replayMirror.ts';
import type { SocketState } from '../../src/worker/socketState.ts';

function compiled(spec: unknown): CompiledFilter {
  const r = compileFilter(spec);
  assert.ok(r.ok, `expected ${JSON.stringify(spec)} to compile, got: ${r.ok ? '' : r.message}`);
  return r.filter;
}

function refused(spec: unknown): string {
  const r = compileFilter(spec);
  assert.equal(r.ok, false, `expected ${JSON.stringify(spec)} to be refused`);
  assert.ok(!r.ok);
  assert.match(r.message, /^Invalid filter: ./);
  return r.message;
}

function view(over: Partial<FilterView> = {}): FilterView {
  return { event: 'price', channel: 'ticker:BTC', data: {}, ...over };
}

/** Whether the single tag node `node` accepts a message with `tags`. */
function tagMatch(node: Record<string, unknown>, tags: Record<string, string> | undefined): boolean {
  return compiled({ tags: node }).matches(view({ tags }));
}

describe('compileFilter: event names', () => {
  test('only listed events pass', () => {
    const f = compiled({ events: ['price', 'trade'] });
    assert.equal(f.matches(view({ event: 'price' })), true);
    assert.equal(f.matches(view({ event: 'trade' })), true);
    assert.equal(f.matches(view({ event: 'quote' })), false);
    assert.equal(f.matches(view({ event: 'Price' })), false, 'names are case-sensitive');
  });

  test('an empty filter object lets everything through', () => {
    const f = compiled({});
    assert.equal(f.matches(view({ event: 'anything', tags: { a: '1' } })), true);
  });
});

describe('compileFilter: tag comparisons', () => {
  test('eq: equal value only; a missing key never matches', () => {
    const n = { key: 'symbol', cmp: 'eq', val: 'BTC' };
    assert.equal(tagMatch(n, { symbol: 'BTC' }), true);
    assert.equal(tagMatch(n, { symbol: 'ETH' }), false);
    assert.equal(tagMatch(n, { symbol: 'btc' }), false);
    assert.equal(tagMatch(n, { other: 'BTC' }), false);
    assert.equal(tagMatch(n, undefined), false, 'a message without tags');
  });

  test('neq: different or missing value matches, equal does not', () => {
    const n = { key: 'symbol', cmp: 'neq', val: 'BTC' };
    assert.equal(tagMatch(n, { symbol: 'ETH' }), true);
    assert.equal(tagMatch(n, { symbol: 'BTC' }), false);
    assert.equal(tagMatch(n, {}), true);
  });

  test('in: value in the list; missing key does not match', () => {
    const n = { key: 'symbol', cmp: 'in', vals: ['BTC', 'ETH'] };
    assert.equal(tagMatch(n, { symbol: 'BTC' }), true);
    assert.equal(tagMatch(n, { symbol: 'ETH' }), true);
    assert.equal(tagMatch(n, { symbol: 'SOL' }), false);
    assert.equal(tagMatch(n, {}), false);
  });

  test('nin: value outside the list or missing key matches', () => {
    const n = { key: 'symbol', cmp: 'nin', vals: ['BTC', 'ETH'] };
    assert.equal(tagMatch(n, { symbol: 'SOL' }), true);
    assert.equal(tagMatch(n, { symbol: 'BTC' }), false);
    assert.equal(tagMatch(n, {}), true);
  });

  test('ex / nex: presence of the key, whatever its value (even empty)', () => {
    assert.equal(tagMatch({ key: 'vip', cmp: 'ex' }, { vip: '' }), true);
    assert.equal(tagMatch({ key: 'vip', cmp: 'ex' }, { other: 'x' }), false);
    assert.equal(tagMatch({ key: 'vip', cmp: 'nex' }, { vip: 'yes' }), false);
    assert.equal(tagMatch({ key: 'vip', cmp: 'nex' }, { other: 'x' }), true);
  });

  test('keys inherited from Object.prototype are not tags', () => {
    assert.equal(tagMatch({ key: 'toString', cmp: 'ex' }, {}), false);
    assert.equal(tagMatch({ key: 'constructor', cmp: 'nex' }, {}), true);
  });

  test('sw / ew / ct: prefix, suffix, substring; missing key never matches', () => {
    const tags = { pair: 'BTC-USD' };
    assert.equal(tagMatch({ key: 'pair', cmp: 'sw', val: 'BTC' }, tags), true);
    assert.equal(tagMatch({ key: 'pair', cmp: 'sw', val: 'USD' }, tags), false);
    assert.equal(tagMatch({ key: 'pair', cmp: 'ew', val: 'USD' }, tags), true);
    assert.equal(tagMatch({ key: 'pair', cmp: 'ew', val: 'BTC' }, tags), false);
    assert.equal(tagMatch({ key: 'pair', cmp: 'ct', val: 'C-U' }, tags), true);
    assert.equal(tagMatch({ key: 'pair', cmp: 'ct', val: 'ETH' }, tags), false);
    for (const cmp of ['sw', 'ew', 'ct']) assert.equal(tagMatch({ key: 'pair', cmp, val: 'B' }, {}), false, cmp);
  });

  test('gt / gte / lt / lte compare numerically, not as strings', () => {
    // As strings "10" < "9"; as numbers 10 > 9.
    assert.equal(tagMatch({ key: 'n', cmp: 'gt', val: '9' }, { n: '10' }), true);
    assert.equal(tagMatch({ key: 'n', cmp: 'lt', val: '9' }, { n: '10' }), false);
    assert.equal(tagMatch({ key: 'n', cmp: 'gt', val: '10' }, { n: '10' }), false);
    assert.equal(tagMatch({ key: 'n', cmp: 'gte', val: '10' }, { n: '10' }), true);
    assert.equal(tagMatch({ key: 'n', cmp: 'gte', val: '10.5' }, { n: '10' }), false);
    assert.equal(tagMatch({ key: 'n', cmp: 'lt', val: '10' }, { n: '9.99' }), true);
    assert.equal(tagMatch({ key: 'n', cmp: 'lt', val: '10' }, { n: '10' }), false);
    assert.equal(tagMatch({ key: 'n', cmp: 'lte', val: '10' }, { n: '10' }), true);
    assert.equal(tagMatch({ key: 'n', cmp: 'lte', val: '-1' }, { n: '-2' }), true);
    assert.equal(tagMatch({ key: 'n', cmp: 'gt', val: '1e2' }, { n: '101' }), true);
    for (const cmp of ['gt', 'gte', 'lt', 'lte']) assert.equal(tagMatch({ key: 'n', cmp, val: '1' }, {}), false, `${cmp} on a missing key`);
  });

  test('numbers read as Rust reads an f64: a leading +, inf and NaN (which never compares true)', () => {
    assert.equal(tagMatch({ key: 'n', cmp: 'gt', val: 5 }, { n: '+10' }), true);
    assert.equal(tagMatch({ key: 'n', cmp: 'gt', val: '+1' }, { n: '2' }), true);
    assert.equal(tagMatch({ key: 'n', cmp: 'gt', val: 1e300 }, { n: 'inf' }), true);
    assert.equal(tagMatch({ key: 'n', cmp: 'lt', val: 0 }, { n: '-Infinity' }), true);
    for (const cmp of ['gt', 'gte', 'lt', 'lte']) assert.equal(tagMatch({ key: 'n', cmp, val: 0 }, { n: 'NaN' }), false, cmp);
    // Not numbers to Rust either: hexadecimal, inner spaces, a bare sign or dot.
    for (const n of ['0x10', '1 0', '+', '.', '1_000']) assert.equal(tagMatch({ key: 'n', cmp: 'gte', val: -1e300 }, { n }), false, n);
  });

  test('numeric comparisons with a non-numeric tag value or filter value never match', () => {
    for (const cmp of ['gt', 'gte', 'lt', 'lte']) {
      assert.equal(tagMatch({ key: 'n', cmp, val: '5' }, { n: 'abc' }), false, `${cmp}: tag "abc"`);
      assert.equal(tagMatch({ key: 'n', cmp, val: 'abc' }, { n: '5' }), false, `${cmp}: val "abc"`);
      assert.equal(tagMatch({ key: 'n', cmp, val: 'abc' }, { n: 'abc' }), false, `${cmp}: both "abc"`);
    }
  });

  test('an empty tag value is not the number 0', () => {
    // Sockudo parses both sides as f64 and an empty string does not parse (sockudo-filter compare_number);
    // JavaScript's Number('') is 0, which would make "" > -1 true.
    assert.equal(tagMatch({ key: 'n', cmp: 'gt', val: '-1' }, { n: '' }), false, 'gt -1 with ""');
    assert.equal(tagMatch({ key: 'n', cmp: 'lte', val: '0' }, { n: '' }), false, 'lte 0 with ""');
    assert.equal(tagMatch({ key: 'n', cmp: 'gte', val: '0' }, { n: ' ' }), false, 'gte 0 with " "');
  });

  test('numbers (and booleans) given as values are compared as their strings', () => {
    assert.equal(tagMatch({ key: 'level', cmp: 'eq', val: 5 }, { level: '5' }), true);
    assert.equal(tagMatch({ key: 'level', cmp: 'eq', val: 5 }, { level: '6' }), false);
    assert.equal(tagMatch({ key: 'level', cmp: 'in', vals: [1, 2, 3] }, { level: '2' }), true);
    assert.equal(tagMatch({ key: 'level', cmp: 'nin', vals: [1, 2, 3] }, { level: '2' }), false);
    assert.equal(tagMatch({ key: 'level', cmp: 'gte', val: 2.5 }, { level: '3' }), true);
    assert.equal(tagMatch({ key: 'flag', cmp: 'eq', val: true }, { flag: 'true' }), true);
    assert.equal(compiled({ tags: { key: 'level', cmp: 'eq', val: 5 } }).key, compiled({ tags: { key: 'level', cmp: 'eq', val: '5' } }).key);
  });
});

describe('compileFilter: and / or / not', () => {
  const btc = { key: 'symbol', cmp: 'eq', val: 'BTC' };
  const big = { key: 'size', cmp: 'gte', val: '100' };

  test('and needs every node, or needs one', () => {
    const and = { op: 'and', nodes: [btc, big] };
    const or = { op: 'or', nodes: [btc, big] };
    assert.equal(tagMatch(and, { symbol: 'BTC', size: '150' }), true);
    assert.equal(tagMatch(and, { symbol: 'BTC', size: '50' }), false);
    assert.equal(tagMatch(and, { symbol: 'ETH', size: '150' }), false);
    assert.equal(tagMatch(or, { symbol: 'ETH', size: '150' }), true);
    assert.equal(tagMatch(or, { symbol: 'BTC', size: '1' }), true);
    assert.equal(tagMatch(or, { symbol: 'ETH', size: '1' }), false);
  });

  test('not inverts its node', () => {
    const not = { op: 'not', nodes: [btc] };
    assert.equal(tagMatch(not, { symbol: 'ETH' }), true);
    assert.equal(tagMatch(not, { symbol: 'BTC' }), false);
    assert.equal(tagMatch(not, {}), true);
  });

  test('nested: (BTC and not small) or vip exists', () => {
    const node = {
      op: 'or',
      nodes: [{ op: 'and', nodes: [btc, { op: 'not', nodes: [{ key: 'size', cmp: 'lt', val: '100' }] }] }, { key: 'vip', cmp: 'ex' }],
    };
    assert.equal(tagMatch(node, { symbol: 'BTC', size: '100' }), true);
    assert.equal(tagMatch(node, { symbol: 'BTC', size: '99' }), false);
    assert.equal(tagMatch(node, { symbol: 'ETH', size: '500' }), false);
    assert.equal(tagMatch(node, { symbol: 'ETH', size: '1', vip: '1' }), true);
  });

  test('the legacy form: a bare tag node as the whole filter', () => {
    const leaf = compiled(btc);
    assert.equal(leaf.matches(view({ tags: { symbol: 'BTC' } })), true);
    assert.equal(leaf.matches(view({ tags: { symbol: 'ETH' } })), false);
    assert.equal(leaf.key, compiled({ tags: btc }).key, 'same filter as {tags: node}');

    const branch = compiled({ op: 'or', nodes: [btc, big] });
    assert.equal(branch.matches(view({ tags: { size: '100' } })), true);
    assert.equal(branch.matches(view({ tags: { size: '99' } })), false);
  });

  test('events and tags are ANDed', () => {
    const f = compiled({ events: ['trade'], tags: btc });
    assert.equal(f.matches(view({ event: 'trade', tags: { symbol: 'BTC' } })), true);
    assert.equal(f.matches(view({ event: 'price', tags: { symbol: 'BTC' } })), false);
    assert.equal(f.matches(view({ event: 'trade', tags: { symbol: 'ETH' } })), false);
  });
});

describe('compileFilter: JMESPath expressions', () => {
  test('a string expression reaches into data', () => {
    const f = compiled({ expression: 'data.price > `100`' });
    assert.equal(f.matches(view({ data: { price: 101 } })), true);
    assert.equal(f.matches(view({ data: { price: 100 } })), false);
    assert.equal(f.matches(view({ data: { other: 1 } })), false);
  });

  test('{language: "jmespath", source} is the same expression with the same key', () => {
    const obj = compiled({ expression: { language: 'jmespath', source: "data.side == 'buy'" } });
    const str = compiled({ expression: "data.side == 'buy'" });
    assert.equal(obj.matches(view({ data: { side: 'buy' } })), true);
    assert.equal(obj.matches(view({ data: { side: 'sell' } })), false);
    assert.equal(obj.key, str.key);
  });

  test('the projection fields beside data are visible: event, channel, tags, userId', () => {
    assert.equal(compiled({ expression: "channel == 'ticker:BTC'" }).matches(view()), true);
    assert.equal(compiled({ expression: "channel == 'ticker:ETH'" }).matches(view()), false);
    assert.equal(compiled({ expression: "tags.region == 'eu'" }).matches(view({ tags: { region: 'eu' } })), true);
    assert.equal(compiled({ expression: "userId == 'u1'" }).matches(view({ userId: 'u2' })), false);
  });

  test('JMESPath truthiness: false, null, "", [] and {} fail; 0 and non-empty values pass', () => {
    const f = compiled({ expression: 'data.v' });
    for (const v of [false, null, '', [], {}]) assert.equal(f.matches(view({ data: { v } })), false, JSON.stringify(v));
    for (const v of [0, true, 'x', [0], { a: 1 }]) assert.equal(f.matches(view({ data: { v } })), true, JSON.stringify(v));
  });

  test('an expression is ANDed with events and tags', () => {
    const f = compiled({ events: ['trade'], tags: { key: 'symbol', cmp: 'eq', val: 'BTC' }, expression: 'data.qty > `1`' });
    const tags = { symbol: 'BTC' };
    assert.equal(f.matches(view({ event: 'trade', tags, data: { qty: 2 } })), true);
    assert.equal(f.matches(view({ event: 'trade', tags, data: { qty: 1 } })), false);
    assert.equal(f.matches(view({ event: 'price', tags, data: { qty: 2 } })), false);
    assert.equal(f.matches(view({ event: 'trade', tags: { symbol: 'ETH' }, data: { qty: 2 } })), false);
  });

  test('evaluation errors fail closed (no match, no throw)', () => {
    // abs() of a string is a JMESPath type error; if it were taken as null, `|| true` would match.
    const f = compiled({ expression: 'abs(event) || `true`' });
    assert.equal(f.matches(view({ event: 'price' })), false);
    // The same expression over a number evaluates fine, so it is the error that refuses the message.
    const g = compiled({ expression: 'abs(data.n) || `true`' });
    assert.equal(g.matches(view({ data: { n: -3 } })), true);
    assert.equal(g.matches(view({ data: { n: 'x' } })), false);
  });
});

describe('compileFilter: invalid specs', () => {
  const leaf = { key: 'a', cmp: 'eq', val: '1' };

  test('not an object', () => {
    for (const spec of [null, undefined, 'events', 42, true, [leaf]]) refused(spec);
  });

  test('unknown cmp or op', () => {
    assert.match(refused({ tags: { key: 'a', cmp: 'regex', val: '.*' } }), /cmp/);
    assert.match(refused({ tags: { key: 'a', val: '1' } }), /cmp/);
    assert.match(refused({ tags: { op: 'xor', nodes: [leaf] } }), /op/);
    refused({ op: 'nand', nodes: [leaf] });
    refused({ key: 'a', cmp: 'like', val: 'x' });
  });

  test('empty lists: nodes are refused; an empty events list filters nothing', () => {
    assert.equal(compiled({ events: [] }).matches(view({ event: 'anything' })), true, 'no event filter, as in Sockudo ("receive all")');
    refused({ tags: { op: 'and', nodes: [] } });
    refused({ tags: { op: 'or', nodes: [] } });
    refused({ tags: { op: 'or' } });
  });

  test('in / nin with an empty vals list are refused (Sockudo: "set comparison requires values")', () => {
    refused({ tags: { key: 'a', cmp: 'in', vals: [] } });
    refused({ tags: { key: 'a', cmp: 'nin', vals: [] } });
  });

  test("'not' takes exactly one node", () => {
    assert.match(refused({ tags: { op: 'not', nodes: [leaf, leaf] } }), /not/);
    refused({ tags: { op: 'not', nodes: [] } });
  });

  test('bad events', () => {
    refused({ events: 'price' });
    refused({ events: ['price', ''] });
    refused({ events: ['price', 7] });
    refused({ events: ['x'.repeat(201)] });
    refused({ events: Array.from({ length: 51 }, (_, i) => `e${i}`) });
    compiled({ events: Array.from({ length: 50 }, (_, i) => `e${i}`) });
  });

  test('bad leaves: no key, empty key, missing or non-scalar value, vals not a list', () => {
    refused({ tags: { cmp: 'eq', val: '1' } });
    refused({ tags: { key: '', cmp: 'eq', val: '1' } });
    refused({ tags: { key: 'a', cmp: 'eq' } });
    refused({ tags: { key: 'a', cmp: 'eq', val: { x: 1 } } });
    refused({ tags: { key: 'a', cmp: 'in', vals: 'x' } });
    refused({ tags: { key: 'a', cmp: 'in', vals: [null] } });
    refused({ tags: 'symbol=BTC' });
    refused({ tags: { op: 'and', nodes: ['x'] } });
  });

  test('too deep or too many nodes; a realistic tree is fine', () => {
    let deep: Record<string, unknown> = leaf;
    for (let i = 0; i < 30; i++) deep = { op: 'not', nodes: [deep] };
    assert.match(refused({ tags: deep }), /too large/);
    assert.match(refused({ tags: { op: 'or', nodes: Array.from({ length: 200 }, () => leaf) } }), /too large/);

    let moderate: Record<string, unknown> = { op: 'or', nodes: Array.from({ length: 10 }, (_, i) => ({ key: 'k', cmp: 'eq', val: String(i) })) };
    for (let i = 0; i < 3; i++) moderate = { op: 'and', nodes: [moderate, leaf] };
    const f = compiled({ tags: moderate });
    assert.equal(f.matches(view({ tags: { k: '7', a: '1' } })), true);
    assert.equal(f.matches(view({ tags: { k: '70', a: '1' } })), false);
  });

  test('bad expressions: syntax error, empty, not a string, another language', () => {
    refused({ expression: 'data.[' });
    refused({ expression: '' });
    refused({ expression: 42 });
    refused({ expression: { language: 'sql', source: 'select 1' } });
    refused({ expression: { language: 'jmespath' } });
  });
});

describe('compileFilter: canonical key', () => {
  test('equal filters written differently share a key', () => {
    const a = compiled({ events: ['b', 'a'], tags: { key: 's', cmp: 'eq', val: 'x' }, expression: 'data.n' });
    const b = compiled({ expression: 'data.n', tags: { val: 'x', cmp: 'eq', key: 's' }, events: ['a', 'b'] });
    const c = compiled({ tags: { cmp: 'eq', key: 's', val: 'x' }, events: ['a', 'b', 'a'], expression: 'data.n' });
    assert.equal(a.key, b.key);
    assert.equal(a.key, c.key);
    const n1 = compiled({ tags: { op: 'and', nodes: [{ key: 'a', cmp: 'ex' }, { nodes: [{ key: 'b', cmp: 'nex' }], op: 'not' }] } });
    const n2 = compiled({ tags: { nodes: [{ cmp: 'ex', key: 'a' }, { op: 'not', nodes: [{ cmp: 'nex', key: 'b' }] }], op: 'and' } });
    assert.equal(n1.key, n2.key);
  });

  test('different filters get different keys', () => {
    const specs: unknown[] = [
      {},
      { events: ['a'] },
      { events: ['a', 'b'] },
      { tags: { key: 's', cmp: 'eq', val: 'x' } },
      { tags: { key: 's', cmp: 'eq', val: 'y' } },
      { tags: { key: 's', cmp: 'neq', val: 'x' } },
      { tags: { key: 't', cmp: 'eq', val: 'x' } },
      { tags: { op: 'not', nodes: [{ key: 's', cmp: 'eq', val: 'x' }] } },
      { tags: { op: 'or', nodes: [{ key: 's', cmp: 'eq', val: 'x' }] } },
      { expression: 'data.n' },
      { expression: 'data.m' },
      { events: ['a'], expression: 'data.n' },
    ];
    const keys = specs.map((s) => compiled(s).key);
    assert.equal(new Set(keys).size, specs.length, `keys: ${keys.join(' | ')}`);
  });
});

describe('wildcardError', () => {
  test('one star, allowed characters, public name: accepted', () => {
    for (const p of ['ticker:*', '*:usd', 'a*b', 'orders.*', 'x-_=@.:*', '*']) assert.equal(wildcardError(p), null, p);
  });

  test("no star or more than one star: Sockudo's text", () => {
    assert.equal(wildcardError('ticker'), "Wildcard subscription 'ticker' must contain exactly one '*'");
    assert.equal(wildcardError('ticker:**'), "Wildcard subscription 'ticker:**' must contain exactly one '*'");
    assert.equal(wildcardError('*a*'), "Wildcard subscription '*a*' must contain exactly one '*'");
  });

  test('private, encrypted and presence prefixes are refused', () => {
    for (const p of ['private-*', 'private-encrypted-*', 'presence-*', 'private-chat-*']) {
      assert.equal(wildcardError(p), `Wildcard subscription '${p}' is only supported for public channels`, p);
    }
  });

  test("user-limited syntax (#) is refused before the alphabet is checked, as in Sockudo", () => {
    assert.equal(wildcardError('room#*'), "Wildcard subscription 'room#*' cannot use user-limited syntax");
    assert.equal(wildcardError('a b#*'), "Wildcard subscription 'a b#*' cannot use user-limited syntax");
    assert.equal(wildcardError('private-#*'), "Wildcard subscription 'private-#*' cannot use user-limited syntax", '# before the prefix check');
  });

  test('invalid characters are refused', () => {
    for (const p of ['a b*', 'a/b*', 'é*', 'a\n*', 'a,b*']) assert.equal(wildcardError(p), `Wildcard subscription '${p}' contains invalid characters`, JSON.stringify(p));
  });
});

describe('wildcardMatches', () => {
  test('prefix*', () => {
    assert.equal(wildcardMatches('ticker:*', 'ticker:BTC'), true);
    assert.equal(wildcardMatches('ticker:*', 'ticker:'), true, 'the star may match nothing');
    assert.equal(wildcardMatches('ticker:*', 'tickers:BTC'), false);
    assert.equal(wildcardMatches('ticker:*', 'ticker'), false);
  });

  test('*suffix', () => {
    assert.equal(wildcardMatches('*:usd', 'btc:usd'), true);
    assert.equal(wildcardMatches('*:usd', 'btc:usdt'), false);
  });

  test('a*b: starts with a and ends with b, overlap allowed (Sockudo checks the two ends alone)', () => {
    assert.equal(wildcardMatches('a*b', 'ab'), true);
    assert.equal(wildcardMatches('a*b', 'a-long-b'), true);
    assert.equal(wildcardMatches('a*b', 'a-long-c'), false);
    assert.equal(wildcardMatches('a*b', 'b-long-b'), false);
    // Sockudo's wildcard_pattern_matches is starts_with && ends_with with no length check: the ends may share characters.
    assert.equal(wildcardMatches('ab*ba', 'aba'), true);
    assert.equal(wildcardMatches('x*x', 'x'), true);
    assert.equal(wildcardMatches('ab*ba', 'abb'), false);
  });
});

describe('wildcard subscriptions deliver public channels only', () => {
  function deliver(fanout: V2Fanout, channel: string, publish: TopicPublisher): void {
    const meta: V2Meta = { channel, event: 'e', messageId: `m-${channel}`, ephemeral: false, publishedAt: 0 };
    fanout.deliver('app', `2\napp\n${channel}`, V2Message.built(meta, channelEvent('e', channel, '{}')), undefined, publish, () => true);
  }

  test('a broad pattern that passes wildcardError never receives private or presence publishes', () => {
    // '*', 'p*' and 'private*' are accepted by wildcardError (they do not start with "private-"), so the
    // delivery side must not hand them private-/presence- channel messages (§3.7: "V2, public only").
    for (const pattern of ['*', 'p*', 'pr*', 'private*', 'presence*']) {
      assert.equal(wildcardError(pattern), null, `${pattern} is an accepted pattern`);
      const fanout = new V2Fanout(new ReplayMirror(10, 60_000));
      const wildTopic = fanout.joinWildcard('app', pattern, undefined, socket('1.1'));
      const got: string[] = [];
      const publish = (topic: string, f: string) => {
        if (topic === wildTopic) got.push(f);
        return 0;
      };
      for (const ch of ['private-secret', 'private-encrypted-x', 'presence-room']) deliver(fanout, ch, publish);
      assert.deepEqual(got, [], `pattern ${pattern} received private/presence frames`);
      deliver(fanout, 'public-feed', publish);
      deliver(fanout, 'pub', publish);
      const expectPublic = ['public-feed', 'pub'].filter((ch) => wildcardMatches(pattern, ch)).map((ch) => channelEvent('e', ch, '{}'));
      assert.deepEqual(got, expectPublic, `pattern ${pattern} still receives public channels`);
    }
  });
});

/** A socket of a wildcard group, subscribed (as uWS sees it) to `topics`. */
function socket(socketId: string, topics: string[] = []): SocketState {
  return { socketId, closed: false, ws: { isSubscribed: (t: string) => topics.includes(t) } } as unknown as SocketState;
}

describe('a message that matches several subscriptions of one socket reaches it once (§3.7)', () => {
  const CH = 'dup:BTC';
  const PLAIN = `2\napp\n${CH}`;
  const message = () => V2Message.built({ channel: CH, event: 'e', messageId: 'm', ephemeral: false, publishedAt: 0 }, channelEvent('e', CH, '{}'));

  /** Delivers one message; returns the topics published natively and the sockets sent to one by one. */
  function run(fanout: V2Fanout, plainSubscribers: number, exclude?: string): { topics: string[]; direct: string[]; recipients: number } {
    const topics: string[] = [];
    const direct: string[] = [];
    const publish: TopicPublisher = (topic) => {
      topics.push(topic);
      return topic === PLAIN ? plainSubscribers : 1;
    };
    const sendOnce = (s: SocketState, channel: string, _frame: string, reached: readonly string[]) => {
      assert.equal(channel, CH);
      if (reached.some((t) => s.ws?.isSubscribed(t))) return false;
      direct.push(s.socketId);
      return true;
    };
    const recipients = fanout.deliver('app', PLAIN, message(), exclude, publish, (t) => t !== PLAIN || plainSubscribers > 0, () => {}, sendOnce);
    return { topics, direct, recipients };
  }

  test('a wildcard group alone goes through uWS in one publish', () => {
    const fanout = new V2Fanout(new ReplayMirror(10, 60_000));
    const wild = fanout.joinWildcard('app', 'dup:*', undefined, socket('1.1'));
    assert.deepEqual(run(fanout, 0), { topics: [wild], direct: [], recipients: 1 });
  });

  test('after the channel topic had subscribers, the wildcard group is served socket by socket, skipping those already reached', () => {
    const fanout = new V2Fanout(new ReplayMirror(10, 60_000));
    const both = socket('1.1', [PLAIN]);
    const wildOnly = socket('1.2');
    const wild = fanout.joinWildcard('app', 'dup:*', undefined, both);
    fanout.joinWildcard('app', 'dup:*', undefined, wildOnly);
    const r = run(fanout, 1);
    assert.deepEqual(r.topics, [PLAIN], 'the wildcard topic is not published natively');
    assert.deepEqual(r.direct, ['1.2']);
    assert.equal(r.recipients, 2);
    assert.notEqual(wild, PLAIN);
  });

  test('two matching wildcard groups: a socket in both gets the message from the first only; the publisher is skipped', () => {
    const fanout = new V2Fanout(new ReplayMirror(10, 60_000));
    const first = fanout.joinWildcard('app', 'dup:*', undefined, socket('1.1'));
    const inBoth = socket('1.1', [first]);
    fanout.joinWildcard('app', 'dup*', undefined, inBoth);
    fanout.joinWildcard('app', 'dup*', undefined, socket('1.3'));
    fanout.joinWildcard('app', 'dup*', undefined, socket('1.4'));
    const r = run(fanout, 0, '1.4');
    assert.deepEqual(r.topics, [first]);
    assert.deepEqual(r.direct, ['1.3'], '1.1 had it from dup:*, 1.4 published it');
  });

  test('a socket that left a wildcard group is no longer sent to', () => {
    const fanout = new V2Fanout(new ReplayMirror(10, 60_000));
    const gone = socket('1.2');
    fanout.joinWildcard('app', 'dup:*', undefined, socket('1.1', [PLAIN]));
    fanout.joinWildcard('app', 'dup:*', undefined, gone);
    fanout.leave('app', 'dup:*', undefined, true, gone);
    assert.deepEqual(run(fanout, 1).direct, []);
  });
});

describe('the message as expressions see it', () => {
  // SOCKUDO-REFERENCE §3.7: the projection has the public extras.headers only; internal `sockudo_*` headers are hidden.
  test('an expression cannot read extras.headers keys starting with sockudo_; public headers stay visible', () => {
    const meta = { channel: 'orders', event: 'e', ephemeral: false, publishedAt: 0, extras: { headers: { sockudo_action: 'message.create', priority: 'high' } } };
    const message = V2Message.fromV1(meta, channelEvent('e', 'orders', '{}'));
    const matches = (source: string) => {
      const r = compileFilter({ expression: source });
      assert.ok(r.ok);
      return r.filter.matches(filterView(message));
    };
    assert.equal(matches("headers.priority == 'high'"), true);
    assert.equal(matches("headers.sockudo_action == 'message.create'"), false);
    assert.equal(matches('headers.sockudo_action == null'), true);
  });
});
