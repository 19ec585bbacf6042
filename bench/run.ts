// Benchmark CLI: starts the servers under test on loopback, runs the scenarios alternating targets, prints one
// JSON line per run and a markdown table of medians. Reports numbers; never fails on a machine's speed.
//
//   node --import tsx bench/run.ts --compare [--runs 3] [--target sockudo-ts,soketi,bare]
//   node --import tsx bench/run.ts --scenario fanout --target sockudo-ts --runs 3 [--subscribers 5000] [--duration 10]
//   node --import tsx bench/run.ts --compare --scenario fanout --v2-share 0,0.5   (V1-only and mixed V1+V2 fan-out)
//   node --import tsx bench/run.ts --compare --scenario latency [--latency-phases 0:50,5000:10,5000:50]
//   node --import tsx bench/run.ts --scenario multi-host --target sockudo-ts   (3 hosts + Redis against 1 host)
import { appendFileSync, mkdtempSync } from 'node:fs';
import { tmpdir, homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { SubscriberClientKind } from './loaderMessages.ts';
import { machineInfo, packageVersion } from './machine.ts';
import { startRedis } from './redis.ts';
import { type RunRecord, markdownTable, multiHostTable, variantTable } from './report.ts';
import { runChurn } from './scenarios/churn.ts';
import { runFanout } from './scenarios/fanout.ts';
import { runHttp } from './scenarios/http.ts';
import { type LatencyPhase, runLatency } from './scenarios/latency.ts';
import { runManyChannels } from './scenarios/manyChannels.ts';
import { type Layout, runMultiHost } from './scenarios/multiHost.ts';
import { REPO_DIR, type RunningTarget, TARGET_NAMES, type TargetName, sleep, sockudoHostSpec, startTarget, targetSpec } from './targets.ts';

const SCENARIOS = ['fanout', 'fanout-steady', 'fanout-latency', 'http', 'many-channels', 'churn-private', 'churn-presence', 'multi-host'] as const;
type Scenario = (typeof SCENARIOS)[number];
/** What --compare runs without --scenario: everything but multi-host (which needs redis-server). */
const DEFAULT_SCENARIOS = SCENARIOS.filter((s) => s !== 'multi-host');
/** Names accepted by --scenario that stand for other scenarios. */
const ALIASES: Record<string, readonly Scenario[]> = { churn: ['churn-private', 'churn-presence'], latency: ['fanout-latency'] };
/** The hosts of multi-host listen on these ports and the next ones (metrics on METRICS_PORT + i). */
const MULTI_HOST_PORT = 6211;
const MULTI_HOST_METRICS_PORT = 9211;

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
    'v2-share': { type: 'string', default: '0' },
    channels: { type: 'string', default: '2000' },
    'channel-subscribers': { type: 'string', default: '2' },
    batch: { type: 'string', default: '10' },
    'many-http-connections': { type: 'string', default: '16' },
    'churn-sockets': { type: 'string', default: '200' },
    'latency-phases': { type: 'string', default: '0:50,5000:10,5000:50' },
    'latency-probes': { type: 'string', default: '10' },
    'multi-hosts': { type: 'string', default: '3' },
    'multi-host-workers': { type: 'string', default: '1' },
    'multi-subscribers': { type: 'string', default: '900' },
    'multi-channels': { type: 'string', default: '100' },
    'multi-http-connections': { type: 'string', default: '16' },
    'multi-probe-channels': { type: 'string', default: '3' },
    'multi-probe-rate': { type: 'string', default: '30' },
    'multi-warmup-runs': { type: 'string', default: '1' },
    'noisy-cores': { type: 'string', default: '0.25' },
    'noisy-retries': { type: 'string', default: '0' },
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
    'usage: node --import tsx bench/run.ts (--compare | --scenario SCENARIOS --target sockudo-ts|soketi|bare)\n' +
      '       [--runs 3] [--subscribers 5000] [--duration 10] [--warmup 2] [--window 64] [--steady-rate 10]\n' +
      '       [--v2-share 0[,0.5]] [--http-connections 64] [--fanout-http-connections 4]\n' +
      '       [--channels 2000] [--channel-subscribers 2] [--batch 10] [--many-http-connections 16]\n' +
      '       [--churn-sockets 200] [--loader-processes 2] [--client raw|ws] [--noisy-retries 0] [--noisy-cores 0.25]\n' +
      '       [--latency-phases 0:50,5000:10,5000:50] [--latency-probes 10]\n' +
      '       [--multi-hosts 3] [--multi-host-workers 1] [--multi-subscribers 900] [--multi-channels 100]\n' +
      '       [--multi-http-connections 16] [--multi-probe-channels 3] [--multi-probe-rate 30] [--multi-warmup-runs 1]\n' +
      '       [--workers 2] [--padding 64] [--peers ~/peers] [--sockudo-dir DIR] [--out results.jsonl]\n' +
      `Scenarios: ${SCENARIOS.join(', ')} (churn = churn-private,churn-presence; latency = fanout-latency).\n` +
      'Lists are comma-separated; --compare defaults to every scenario but multi-host and every target.\n' +
      '--latency-phases: bulk subscribers:publishes per second, one phase each (0 = the probes alone).\n' +
      'multi-host starts its own redis-server and hosts (ports 6211...) and compares them with the sockudo-ts\n' +
      'target (one host, --workers workers, no Redis), which must be among the targets. --v2-share (fraction of\n' +
      'fan-out subscribers on Protocol V2, one run per value) applies to sockudo-ts only. --noisy-retries N repeats,\n' +
      'up to N times, a run during which other processes kept more than --noisy-cores cores busy; the table keeps\n' +
      'the quietest attempt, the JSON lines keep them all.\n',
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
const scenarios = [
  ...new Set(list<Scenario | string>(a.scenario, [...SCENARIOS, ...Object.keys(ALIASES)], DEFAULT_SCENARIOS, 'scenario').flatMap((s) => ALIASES[s] ?? [s as Scenario])),
];
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
const v2Shares = [...new Set(a['v2-share'].split(',').map((v) => Number(v.trim())))];
for (const v of v2Shares) if (!Number.isFinite(v) || v < 0 || v > 1) usage('--v2-share takes fractions between 0 and 1');
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
  v2Share: 0,
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
const manyChannels = {
  channels: positive('channels', a.channels),
  subscribersPerChannel: positive('channel-subscribers', a['channel-subscribers']),
  batch: positive('batch', a.batch),
  loaderProcesses,
  client,
  warmupSeconds: warmup,
  durationSeconds: duration,
  window: fanout.window,
  rate: 0,
  httpConnections: positive('many-http-connections', a['many-http-connections']),
  padding: fanout.padding,
};
if (manyChannels.channels * manyChannels.subscribersPerChannel > 15_000) usage('--channels × --channel-subscribers is capped at 15000');
if (manyChannels.batch > 10) usage('--batch is capped at 10 (the Pusher limit every target enforces)');
const noisyCores = positive('noisy-cores', a['noisy-cores'], true);
const noisyRetries = positive('noisy-retries', a['noisy-retries'], true);
const churn = { loaderProcesses, socketsPerProcess: positive('churn-sockets', a['churn-sockets']), warmupSeconds: warmup, durationSeconds: duration };
if (churn.socketsPerProcess * loaderProcesses > 15_000) usage('--churn-sockets × --loader-processes is capped at 15000');
const latencyPhases: LatencyPhase[] = a['latency-phases'].split(',').map((p) => {
  const [subs, rate] = p.split(':').map((v) => Number(v.trim()));
  if (!Number.isInteger(subs) || subs < 0 || subs > 15_000 || !Number.isFinite(rate) || rate <= 0 || rate > 1000) {
    usage('--latency-phases takes subscribers:rate pairs (0..15000 subscribers, up to 1000 publishes/s)');
  }
  return { subscribers: subs, rate };
});
const latency = {
  phases: latencyPhases,
  probes: positive('latency-probes', a['latency-probes']),
  loaderProcesses,
  client,
  warmupSeconds: warmup,
  durationSeconds: duration,
  padding: fanout.padding,
  httpConnections: fanout.httpConnections,
};
if (latency.probes > 50) usage('--latency-probes is capped at 50');
const multiHosts = positive('multi-hosts', a['multi-hosts']);
const multi = {
  hosts: multiHosts,
  hostWorkers: positive('multi-host-workers', a['multi-host-workers']),
  subscribers: positive('multi-subscribers', a['multi-subscribers']),
  channels: positive('multi-channels', a['multi-channels']),
  probeChannels: positive('multi-probe-channels', a['multi-probe-channels']),
  probesPerChannel: multiHosts,
  probeRate: positive('multi-probe-rate', a['multi-probe-rate']),
  loaderProcesses,
  client,
  warmupSeconds: warmup,
  durationSeconds: duration,
  window: fanout.window,
  rate: 0,
  httpConnections: positive('multi-http-connections', a['multi-http-connections']),
  padding: fanout.padding,
};
/** Unrecorded runs of each layout before the measured ones: freshly started hosts are still warming up. */
const multiWarmupRuns = positive('multi-warmup-runs', a['multi-warmup-runs'], true);
if (multi.hosts > 8) usage('--multi-hosts is capped at 8');
if (multi.subscribers > 15_000) usage('--multi-subscribers is capped at 15000');
if (multi.subscribers % (multi.channels * multi.hosts) !== 0) usage('--multi-subscribers must be a multiple of --multi-channels × --multi-hosts');
if (multi.probeChannels > multi.channels) usage('--multi-probe-channels cannot exceed --multi-channels');
const sockudoDir = a['sockudo-dir'] === undefined ? REPO_DIR : resolve(a['sockudo-dir']);

/** The runs one round holds for a target: fan-out once per V2 share the target speaks, the rest once. */
function variants(scenario: Scenario, target: TargetName): { v2Share: number; variant: string }[] {
  if (scenario !== 'fanout' && scenario !== 'fanout-steady') return [{ v2Share: 0, variant: '' }];
  return v2Shares
    .filter((v2Share) => v2Share === 0 || target === 'sockudo-ts')
    .map((v2Share) => ({ v2Share, variant: v2Share === 0 ? '' : `${Math.round(v2Share * 100)} % V2` }));
}

/** One measured result; a run may give several (one per latency phase), each with its own variant label. */
interface Part {
  variant?: string;
  result: { otherCores: number } & object;
}

async function runScenario(scenario: Exclude<Scenario, 'multi-host'>, t: RunningTarget, v2Share: number): Promise<Part[]> {
  switch (scenario) {
    case 'fanout':
      return [{ result: await runFanout(t, { ...fanout, v2Share }) }];
    case 'fanout-steady':
      return [{ result: await runFanout(t, { ...steady, v2Share }) }];
    case 'fanout-latency':
      return (await runLatency(t, latency)).map((result) => ({ variant: result.phase, result }));
    case 'http':
      return [{ result: await runHttp(t, http) }];
    case 'many-channels':
      return [{ result: await runManyChannels(t, manyChannels) }];
    case 'churn-private':
      return [{ result: await runChurn(t, { ...churn, kind: 'private' }) }];
    case 'churn-presence':
      return [{ result: await runChurn(t, { ...churn, kind: 'presence' }) }];
  }
}

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
  manyChannels,
  churn,
  ...(scenarios.includes('fanout-latency') ? { latency } : {}),
  ...(scenarios.includes('multi-host') ? { multiHost: { ...multi, warmupRuns: multiWarmupRuns } } : {}),
  v2Shares,
  scenarios,
  noisy: { cores: noisyCores, retries: noisyRetries },
  runs,
  logDir,
});
if (v2Shares.some((v) => v > 0) && targets.some((t) => t !== 'sockudo-ts')) {
  emit({ type: 'note', note: 'only sockudo-ts speaks Protocol V2: --v2-share > 0 fan-out runs are skipped for soketi and bare' });
}
if (scenarios.some((s) => s.startsWith('churn')) && targets.includes('bare')) {
  emit({ type: 'note', note: 'the bare server answers subscriptions without checking auth and keeps no presence state' });
}

const records: RunRecord[] = [];

/**
 * One run (of one target or layout), repeated up to --noisy-retries times while other processes kept more
 * than --noisy-cores cores busy; every attempt is printed, the quietest is recorded.
 */
async function measured(target: TargetName, scenario: Scenario, run: number, variant: string, attemptRun: () => Promise<Part[]>): Promise<void> {
  // Other work on the machine (someone's test suite) takes cores from server and loader alike: such a
  // run may be repeated, and the quietest attempt is the one that counts.
  let quietest: Part[] | undefined;
  let quietestOther = Number.POSITIVE_INFINITY;
  for (let attempt = 0; ; attempt++) {
    if (attempt > 0) await sleep(1500);
    const at = new Date().toISOString();
    try {
      const parts = await attemptRun();
      const other = Math.max(...parts.map((p) => p.result.otherCores));
      for (const p of parts) emit({ type: 'run', target, run, attempt, at, variant: p.variant ?? variant, ...p.result });
      if (!quietest || other < quietestOther) {
        quietest = parts;
        quietestOther = other;
      }
      if (other <= noisyCores || attempt >= noisyRetries) break;
    } catch (err) {
      emit({ type: 'run-error', target, scenario, variant, run, attempt, at, error: (err as Error).message });
      break;
    }
  }
  for (const p of quietest ?? []) records.push({ target, scenario, variant: p.variant ?? variant, result: p.result as Record<string, unknown> });
  await sleep(1500); // let the server finish closing the last run's sockets before the next one starts
}

let multiHostLabels: { layout: string; baseline: string } | undefined;

/** Multi-host: starts redis-server and the hosts, alternates them with the one-host sockudo-ts target, stops them. */
async function multiHostSession(): Promise<void> {
  const single = running.find((t) => t.spec.name === 'sockudo-ts');
  if (!single) {
    emit({ type: 'note', note: 'multi-host compares with the sockudo-ts target (one host, no Redis): add sockudo-ts to --target' });
    return;
  }
  const redis = await startRedis(logDir);
  const hosts: RunningTarget[] = [];
  try {
    emit({ type: 'target', target: 'redis', pid: redis.pid, port: redis.port, versions: { redis: redis.version }, log: redis.logFile });
    for (let h = 0; h < multi.hosts; h++) {
      const spec = sockudoHostSpec(sockudoDir, MULTI_HOST_PORT + h, MULTI_HOST_METRICS_PORT + h, multi.hostWorkers, { url: redis.url, prefix: 'bench:' });
      const t = await startTarget(spec, logDir);
      hosts.push(t);
      emit({ type: 'target', target: 'sockudo-ts', host: h, pid: t.pid, port: spec.port, threads: spec.threads, description: spec.description, versions: spec.versions, log: t.logFile });
    }
    const plural = (n: number, w: string) => `${n} ${w}${n === 1 ? '' : 's'}`;
    const layouts: Layout[] = [
      {
        label: `${plural(multi.hosts, 'host')} × ${plural(multi.hostWorkers, 'worker')} + Redis`,
        hosts: hosts.map((t) => ({ port: t.spec.port, pid: t.pid })),
        workersPerHost: multi.hostWorkers,
        redisPid: redis.pid,
      },
      { label: `1 host × ${plural(single.spec.threads, 'worker')}, no Redis`, hosts: [{ port: single.spec.port, pid: single.pid }], workersPerHost: single.spec.threads },
    ];
    multiHostLabels = { layout: layouts[0].label, baseline: layouts[1].label };
    await sleep(2000); // let the hosts see each other in Redis
    // The first runs on fresh processes are slower (JIT, three processes warming up on two cores): these
    // are printed as `warmup-run` lines and left out of the table.
    for (let i = 0; i < multiWarmupRuns; i++) {
      for (const layout of layouts) {
        try {
          const r = await runMultiHost(layout, multi);
          emit({ type: 'warmup-run', target: 'sockudo-ts', variant: layout.label, publishesPerSec: r.publishesPerSec, deliveriesPerSec: r.deliveriesPerSec, p99Ms: r.p99Ms });
        } catch (err) {
          emit({ type: 'warmup-run-error', target: 'sockudo-ts', variant: layout.label, error: (err as Error).message });
        }
        await sleep(1500);
      }
    }
    for (let run = 1; run <= runs; run++) {
      const order = run % 2 === 1 ? layouts : [...layouts].reverse();
      for (const layout of order) {
        await measured('sockudo-ts', 'multi-host', run, layout.label, async () => [{ variant: layout.label, result: await runMultiHost(layout, multi) }]);
      }
    }
  } finally {
    await Promise.all(hosts.map((t) => t.stop()));
    await redis.stop();
  }
}

try {
  for (const name of targets) {
    const spec = targetSpec(name, a.peers, workers, sockudoDir);
    const t = await startTarget(spec, logDir);
    running.push(t);
    emit({ type: 'target', target: name, pid: t.pid, port: spec.port, threads: spec.threads, description: spec.description, versions: spec.versions, log: t.logFile });
  }
  for (const scenario of scenarios) {
    if (scenario === 'multi-host') {
      await multiHostSession();
      continue;
    }
    for (let run = 1; run <= runs; run++) {
      // Rotate the order each round so no target always runs first (or right after a heavy neighbour).
      const order = running.map((_, i) => running[(i + run - 1) % running.length]);
      for (const t of order) {
        const own = variants(scenario, t.spec.name);
        // Alternate the variants' order too (V1-only first in odd rounds, last in even ones).
        for (const { v2Share, variant } of run % 2 === 1 ? own : own.reverse()) {
          await measured(t.spec.name, scenario, run, variant, () => runScenario(scenario, t, v2Share));
        }
      }
    }
  }
} finally {
  await stopAll();
}

const variantsCompared = variantTable(records, targets);
const multiHost = multiHostLabels ? multiHostTable(records, multiHostLabels.layout, multiHostLabels.baseline) : '';
const table = [markdownTable(records, targets), variantsCompared, multiHost].filter((t) => t !== '').join('\n\n');
emit({ type: 'done', finishedAt: new Date().toISOString(), minutes: (Date.now() - started.getTime()) / 60_000 });
process.stdout.write(`\n${table}\n`);
if (a.out) appendFileSync(a.out.replace(/\.jsonl$/, '') + '.md', `${table}\n`);
process.exit(0);
