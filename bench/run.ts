// Benchmark CLI: starts the servers under test on loopback, runs the scenarios alternating targets, prints one
// JSON line per run and a markdown table of medians. Reports numbers; never fails on a machine's speed.
//
//   node --import tsx bench/run.ts --compare [--runs 3] [--target sockudo-ts,soketi,bare]
//   node --import tsx bench/run.ts --scenario fanout --target sockudo-ts --runs 3 [--subscribers 5000] [--duration 10]
import { appendFileSync, mkdtempSync } from 'node:fs';
import { tmpdir, homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { SubscriberClientKind } from './loaderMessages.ts';
import { machineInfo, packageVersion } from './machine.ts';
import { type RunRecord, markdownTable } from './report.ts';
import { runFanout } from './scenarios/fanout.ts';
import { runHttp } from './scenarios/http.ts';
import { type RunningTarget, TARGET_NAMES, type TargetName, sleep, startTarget, targetSpec } from './targets.ts';

const SCENARIOS = ['fanout', 'fanout-steady', 'http'] as const;
type Scenario = (typeof SCENARIOS)[number];

const { values: a } = parseArgs({
  options: {
    compare: { type: 'boolean', default: false },
    scenario: { type: 'string' },
    target: { type: 'string' },
    runs: { type: 'string', default: '3' },
    subscribers: { type: 'string', default: '5000' },
    duration: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '2' },
    window: { type: 'string', default: '64' },
    'steady-rate': { type: 'string', default: '10' },
    'fanout-http-connections': { type: 'string', default: '4' },
    'http-connections': { type: 'string', default: '64' },
    'loader-processes': { type: 'string', default: '2' },
    client: { type: 'string', default: 'raw' },
    workers: { type: 'string', default: '2' },
    padding: { type: 'string', default: '64' },
    peers: { type: 'string', default: process.env.PEERS ?? join(homedir(), 'peers') },
    'sockudo-dir': { type: 'string' },
    out: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
  strict: true,
});

function usage(message?: string): never {
  if (message) process.stderr.write(`bench: ${message}\n`);
  process.stderr.write(
    'usage: node --import tsx bench/run.ts (--compare | --scenario fanout|fanout-steady|http --target sockudo-ts|soketi|bare)\n' +
      '       [--runs 3] [--subscribers 5000] [--duration 10] [--warmup 2] [--window 64] [--steady-rate 10]\n' +
      '       [--http-connections 64] [--fanout-http-connections 4] [--loader-processes 2] [--client raw|ws]\n' +
      '       [--workers 2] [--padding 64] [--peers ~/peers] [--sockudo-dir DIR] [--out results.jsonl]\n' +
      'Lists are comma-separated; --compare defaults to every scenario and every target.\n',
  );
  process.exit(message ? 2 : 0);
}

function list<T extends string>(value: string | undefined, allowed: readonly T[], fallback: readonly T[], what: string): T[] {
  if (value === undefined) return [...fallback];
  const items = value.split(',').map((s) => s.trim()) as T[];
  for (const i of items) if (!allowed.includes(i)) usage(`unknown ${what} "${i}" (expected ${allowed.join(', ')})`);
  return items;
}

function positive(name: string, value: string, allowZero = false): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || (!allowZero && n === 0)) usage(`--${name} must be a ${allowZero ? 'non-negative' : 'positive'} number`);
  return n;
}

if (a.help) usage();
if (!a.compare && (a.scenario === undefined || a.target === undefined)) usage('give --compare, or both --scenario and --target');
const scenarios = list<Scenario>(a.scenario, SCENARIOS, SCENARIOS, 'scenario');
const targets = list<TargetName>(a.target, TARGET_NAMES, TARGET_NAMES, 'target');
const runs = positive('runs', a.runs);
const subscribers = positive('subscribers', a.subscribers);
if (subscribers > 15_000) usage('--subscribers is capped at 15000 (file descriptors on these machines)');
const duration = positive('duration', a.duration);
if (duration > 120) usage('--duration is capped at 120 seconds');
const warmup = positive('warmup', a.warmup, true);
const workers = positive('workers', a.workers);
const loaderProcesses = positive('loader-processes', a['loader-processes']);
const [client] = list<SubscriberClientKind>(a.client, ['raw', 'ws'], ['raw'], 'client');
const fanout = {
  subscribers,
  loaderProcesses,
  client,
  warmupSeconds: warmup,
  durationSeconds: duration,
  window: positive('window', a.window),
  rate: 0,
  httpConnections: positive('fanout-http-connections', a['fanout-http-connections']),
  padding: positive('padding', a.padding, true),
};
/** The same fan-out at a fixed publish rate every target sustains: CPU per delivery at equal load. */
const steady = { ...fanout, rate: positive('steady-rate', a['steady-rate']) };
const http = {
  loaderProcesses,
  connections: positive('http-connections', a['http-connections']),
  warmupSeconds: warmup,
  durationSeconds: duration,
  padding: fanout.padding,
};

const emit = (line: Record<string, unknown>) => {
  const text = JSON.stringify(line);
  process.stdout.write(`${text}\n`);
  if (a.out) appendFileSync(a.out, `${text}\n`);
};

const logDir = mkdtempSync(join(tmpdir(), 'sockudo-bench-'));
const running: RunningTarget[] = [];
const stopAll = () => Promise.all(running.map((t) => t.stop()));
process.on('SIGINT', () => {
  process.stderr.write('bench: interrupted; stopping the servers it started\n');
  void stopAll().then(() => process.exit(130));
});

const started = new Date();
emit({
  type: 'setup',
  startedAt: started.toISOString(),
  command: `node --import tsx bench/run.ts ${process.argv.slice(2).join(' ')}`,
  machine: machineInfo(),
  loader: { processes: loaderProcesses, ws: packageVersion(process.cwd(), 'ws') },
  fanout,
  steady,
  http,
  runs,
  logDir,
});

const records: RunRecord[] = [];
try {
  for (const name of targets) {
    const spec = targetSpec(name, a.peers, workers, a['sockudo-dir'] === undefined ? undefined : resolve(a['sockudo-dir']));
    const t = await startTarget(spec, logDir);
    running.push(t);
    emit({ type: 'target', target: name, pid: t.pid, port: spec.port, threads: spec.threads, description: spec.description, versions: spec.versions, log: t.logFile });
  }
  for (const scenario of scenarios) {
    for (let run = 1; run <= runs; run++) {
      // Rotate the order each round so no target always runs first (or right after a heavy neighbour).
      const order = running.map((_, i) => running[(i + run - 1) % running.length]);
      for (const t of order) {
        const at = new Date().toISOString();
        try {
          const result = scenario === 'http' ? await runHttp(t, http) : await runFanout(t, scenario === 'fanout' ? fanout : steady);
          records.push({ target: t.spec.name, scenario, result: result as unknown as Record<string, unknown> });
          emit({ type: 'run', target: t.spec.name, run, at, ...result });
        } catch (err) {
          emit({ type: 'run-error', target: t.spec.name, scenario, run, at, error: (err as Error).message });
        }
        await sleep(1500); // let the server finish closing the last run's sockets before the next one starts
      }
    }
  }
} finally {
  await stopAll();
}

const table = markdownTable(records, targets);
emit({ type: 'done', finishedAt: new Date().toISOString(), minutes: (Date.now() - started.getTime()) / 60_000 });
process.stdout.write(`\n${table}\n`);
if (a.out) appendFileSync(a.out.replace(/\.jsonl$/, '') + '.md', `${table}\n`);
process.exit(0);
