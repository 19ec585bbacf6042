// bench/profile.ts's reading of a V8 CPU profile: busy time without idle, self and total time per function, the
// call tree merged by function, and the flame graph's boxes as wide as their share.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type CpuProfile, summarize } from '../../bench/cpuProfile.ts';
import { flameGraphSvg } from '../../bench/flameGraph.ts';

const frame = (functionName: string, url = '', lineNumber = -1) => ({ functionName, url, lineNumber, columnNumber: lineNumber < 0 ? -1 : 4 });

/**
 * (root) → main → publish → send; main → publish (a second node for the same function, as V8 makes for
 * another compiled version) → record; (root) → (idle); (root) → (garbage collector).
 */
function profile(): CpuProfile {
  const nodes = [
    { id: 1, callFrame: frame('(root)'), children: [2, 6, 7] },
    { id: 2, callFrame: frame('main', 'file:///srv/src/worker/main.ts', 9), children: [3, 4] },
    { id: 3, callFrame: frame('publish', 'file:///srv/src/worker/channelDelivery.ts', 19), children: [5] },
    { id: 4, callFrame: frame('publish', 'file:///srv/src/worker/channelDelivery.ts', 19), children: [8] },
    { id: 5, callFrame: frame('send', 'file:///srv/src/worker/wsServer.ts', 29) },
    { id: 6, callFrame: frame('(idle)') },
    { id: 7, callFrame: frame('(garbage collector)') },
    { id: 8, callFrame: frame('record', 'file:///srv/src/worker/replayMirror.ts', 39) },
  ];
  // Each sample lasts until the next one: 10 µs steps, the last one until endTime.
  const samples = [5, 5, 5, 3, 8, 8, 6, 6, 6, 6, 7, 2];
  return { nodes, startTime: 0, endTime: 130, samples, timeDeltas: samples.map(() => 10) };
}

test('busy time leaves idle out; self and total time per function, callers merged', () => {
  const s = summarize(profile());
  assert.equal(s.wallUs, 130);
  // Samples at 10, 20, … 120 µs, each lasting 10 µs (the last until endTime); the 4 idle ones are left out.
  // Keys are `name file:line:column`, or the name alone for V8's own entries.
  const byKey = new Map(s.functions.map((f) => [f.key.startsWith('(') ? f.key : f.key.split(' ')[0], f]));
  assert.equal(byKey.get('send')?.selfUs, 30);
  assert.equal(byKey.get('publish')?.selfUs, 10);
  assert.equal(byKey.get('record')?.selfUs, 20);
  assert.equal(byKey.get('(garbage collector)')?.selfUs, 10);
  assert.equal(byKey.get('main')?.selfUs, 10, 'the last sample lasts until endTime (130 − 120)');
  assert.equal(byKey.get('publish')?.totalUs, 60, 'both publish nodes, with send and record below them');
  assert.equal(byKey.get('main')?.totalUs, 70);
  assert.equal(byKey.has('(idle)'), false);
  assert.equal(s.busyUs, 80);
  assert.deepEqual(
    s.functions.slice(0, 2).map((f) => f.key),
    ['send worker/wsServer.ts:30:5', 'record worker/replayMirror.ts:40:5'],
  );
});

test('the call tree merges frames of the same function under one parent', () => {
  const { tree } = summarize(profile());
  assert.equal(tree.totalUs, 80);
  const main = tree.children.find((c) => c.key.startsWith('main '));
  assert.ok(main);
  assert.equal(main.children.length, 1, 'the two publish nodes are one frame');
  assert.equal(main.children[0].totalUs, 60);
  assert.deepEqual(main.children[0].children.map((c) => [c.key.split(' ')[0], c.totalUs]).sort(), [
    ['record', 20],
    ['send', 30],
  ]);
});

test('the flame graph draws each frame as wide as its share, with its time in the tooltip', () => {
  const svg = flameGraphSvg(summarize(profile()).tree, 'worker <1>');
  assert.match(svg, /^<svg /);
  assert.match(svg, /worker &lt;1&gt;/, 'the title is escaped');
  const width = (name: string) => {
    const m = new RegExp(`<title>${name}[ :][^<]*</title><rect x="[\\d.]+" y="\\d+" width="([\\d.]+)"`).exec(svg);
    assert.ok(m, `a box for ${name}`);
    return Number(m[1]);
  };
  // 1,180 px across for the 80 µs busy: publish 60/80, send 30/80, the collector 10/80.
  assert.equal(width('publish'), 885);
  assert.equal(width('send'), 442.5);
  assert.equal(width('\\(garbage collector\\)'), 147.5);
  assert.doesNotMatch(svg, /\(idle\)/);
  assert.match(svg, />\(garbage collector\)<\/text>/, 'V8 entries are labelled whole');
  assert.match(svg, /<title>\(garbage collector\)[^<]*<\/title><rect [^>]*fill="rgb\(2\d\d,/, 'and drawn in red');
  assert.match(svg, /<title>send worker\/wsServer.ts:30:5: 0.0 ms, 37.5 %<\/title>/);
});

test('samples V8 wrote out of order are put in time order before each is given its duration', () => {
  // send at 10 µs, record at 30, publish at 20 (a negative delta), the profile ending at 40: 10 µs each.
  // Taken in the order written, send would get 20, record 0 and publish 20.
  const p = { ...profile(), samples: [5, 8, 3], timeDeltas: [10, 20, -10], endTime: 40 };
  const self = new Map(summarize(p).functions.map((f) => [f.key.split(' ')[0], f.selfUs]));
  assert.deepEqual([self.get('send'), self.get('record'), self.get('publish')], [10, 10, 10]);
});
