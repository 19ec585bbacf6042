// Reads a V8 CPU profile (`node --cpu-prof` writes one `.cpuprofile` per thread): where a thread's busy time
// went, per function (self and with its callees) and as a call tree merged by function, for flameGraph.ts.
// Time the thread spent waiting for work is V8's "(idle)" and is left out. On a uWS worker that includes the
// socket writes uWS makes on its own between callbacks (the kernel's share of a fan-out): read a worker's
// profile beside the benchmark's per-thread CPU, which counts them.

/** The parts of the `.cpuprofile` JSON (Chrome DevTools Protocol `Profiler.Profile`) read here. */
export interface CpuProfile {
  nodes: { id: number; callFrame: CallFrame; children?: number[] }[];
  startTime: number;
  endTime: number;
  samples: number[];
  /** Microseconds between one sample and the one before it. */
  timeDeltas: number[];
}

interface CallFrame {
  functionName: string;
  url: string;
  /** 0-based, -1 when unknown. */
  lineNumber: number;
  columnNumber: number;
}

export interface FunctionTime {
  /** `name file:line:column`, file as its last two path parts: how one function is told from another. */
  key: string;
  selfUs: number;
  /** Self time plus its callees' (counted once where it calls itself). */
  totalUs: number;
}

/** A function in the call tree, its callers' frames merged by key. */
export interface FlameNode {
  key: string;
  /** Time in this frame and below it. */
  totalUs: number;
  children: FlameNode[];
}

export interface ProfileSummary {
  /** Sampled time the thread was not idle. */
  busyUs: number;
  /** Whole profile, idle included. */
  wallUs: number;
  /** Busiest first by self time. */
  functions: FunctionTime[];
  /** The root's children are the thread's entry points, "(program)" and "(garbage collector)". */
  tree: FlameNode;
}

const IDLE = '(idle)';

/** Node's own modules keep their whole `node:` name; other files their last two path parts. */
export function frameKey(f: CallFrame): string {
  const file = f.url.startsWith('node:') ? f.url : f.url.split('/').slice(-2).join('/');
  const where = file === '' ? '' : f.lineNumber < 0 ? ` ${file}` : ` ${file}:${f.lineNumber + 1}:${f.columnNumber + 1}`;
  return `${f.functionName || '(anonymous)'}${where}`;
}

/** The function's name in a key: the key without its file and position (a getter's name keeps its `get `). */
export function frameName(key: string): string {
  return key.replace(/ [^ ]+:\d+:\d+$/, '').replace(/ node:[^ ]+$/, '');
}

/** V8's own entries: "(program)", "(garbage collector)", "(root)" and the like, with no file. */
export function isEngineFrame(key: string): boolean {
  return /^\([^)]*\)$/.test(key);
}

export function summarize(profile: CpuProfile): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

  // Each sample stands for the time until the next one (the last: until the profile ends). V8 may record a
  // sample out of order (a negative delta), so they are put in time order first, as DevTools does.
  let at = profile.startTime;
  const samples = profile.samples.map((id, i) => ({ id, time: (at += profile.timeDeltas[i] ?? 0) })).sort((a, b) => a.time - b.time);
  const sampledUs = new Map<number, number>();
  samples.forEach(({ id, time }, i) => {
    const until = i + 1 < samples.length ? samples[i + 1].time : profile.endTime;
    sampledUs.set(id, (sampledUs.get(id) ?? 0) + Math.max(0, until - time));
  });

  const self = new Map<string, number>();
  const total = new Map<string, number>();
  const root: FlameNode = { key: '(root)', totalUs: 0, children: [] };
  let busyUs = 0;
  for (const [id, us] of sampledUs) {
    const stack: string[] = [];
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const node = byId.get(cur);
      if (node && parent.has(cur)) stack.push(frameKey(node.callFrame)); // the profile's own root is not a frame
    }
    if (stack[0] === IDLE || us === 0) continue;
    busyUs += us;
    self.set(stack[0], (self.get(stack[0]) ?? 0) + us);
    for (const key of new Set(stack)) total.set(key, (total.get(key) ?? 0) + us);
    addPath(root, stack.reverse(), us);
  }
  const functions = [...self.keys(), ...[...total.keys()].filter((k) => !self.has(k))].map((key) => ({ key, selfUs: self.get(key) ?? 0, totalUs: total.get(key) ?? 0 }));
  functions.sort((a, b) => b.selfUs - a.selfUs || b.totalUs - a.totalUs);
  return { busyUs, wallUs: profile.endTime - profile.startTime, functions, tree: root };
}

/** Adds `us` along `path` (outermost frame first), merging frames with the same key under the same parent. */
function addPath(root: FlameNode, path: string[], us: number): void {
  root.totalUs += us;
  let node = root;
  for (const key of path) {
    let child = node.children.find((c) => c.key === key);
    if (!child) node.children.push((child = { key, totalUs: 0, children: [] }));
    child.totalUs += us;
    node = child;
  }
}
