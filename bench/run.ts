// Benchmark CLI: starts the servers under test on loopback (or measures one already running, given by URL),
// runs the scenarios alternating targets, prints one JSON line per run, a markdown table of medians with
// the settings it was measured with and, with --out, an SVG chart next to the table. Reports numbers;
// never fails on a machine's speed.
//
//   node --import tsx bench/run.ts --compare [--runs 3] [--target sockudo-ts,soketi,bare]
//   node --import tsx bench/run.ts --scenario fanout --target sockudo-ts --runs 3 [--subscribers 5000] [--duration 10]
//   node --import tsx bench/run.ts --compare --scenario fanout --v2-share 0,0.5   (V1-only and mixed V1+V2 fan-out)
//   node --import tsx bench/run.ts --scenario v2 --target sockudo-ts   (V1-only, all-V2, all-V2 filtered fan-out)
//   node --import tsx bench/run.ts --compare --scenario latency [--latency-phases 0:50,5000:10,5000:50]
//   node --import tsx bench/run.ts --scenario multi-host --target sockudo-ts   (3 hosts + Redis against 1 host)
//   node --import tsx bench/run.ts --compare --scenario connect [--connections 10000,18000]   (accept rate, RSS per idle connection)
//   node --import tsx bench/run.ts --scenario fanout --target sockudo-ts --workers 1,2   (a worker sweep)
//   node --import tsx bench/run.ts --scenario http --target sockudo-ts --sockudo-dir ~/snap/abc1234,.   (an A/B of two builds)
//   node --import tsx bench/run.ts --scenario many-channels --target sockudo-ts --sockudo-env 'default;SOCKUDO_CONNECTION_RECOVERY_ENABLED=true'
//   node --import tsx bench/run.ts --scenario http --target-url ws://127.0.0.1:6001 --app-id I --app-key K --app-secret S
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { availableParallelism, homedir, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { resolveWorkerCount } from '../src/primary/workerCount.ts';
import { chartPanels, chartSvg } from './chart.ts';
import type { SubscriberClientKind } from './loaderMessages.ts';
import { machineInfo, packageVersion } from './machine.ts';
import { startRedis } from './redis.ts';
import { type RunRecord, type TargetInfo, instancesTable, markdownTable, multiHostTable, settingsCaption, uwsBuilds, variantTable } from './report.ts';
import { runChurn } from './scenarios/churn.ts';
import { checkConnectionCount, runConnect } from './scenarios/connect.ts';
import { runFanout } from './scenarios/fanout.ts';
import { runHttp } from './scenarios/http.ts';
import { type LatencyPhase, runLatency } from './scenarios/latency.ts';
import { runManyChannels } from './scenarios/manyChannels.ts';
import { type Layout, runMultiHost } from './scenarios/multiHost.ts';
import {
  REPO_DIR,
  type RunningTarget,
  TARGET_NAMES,
  type TargetName,
  type TargetSpec,
  checkTargetUrls,
  sleep,
  sockudoHostSpec,
  startTarget,
  targetSpec,
  urlTarget,
} from './targets.ts';

const SCENARIOS = ['fanout', 'fanout-steady', 'fanout-latency', 'http', 'many-channels', 'churn-private', 'churn-presence', 'churn-presence-rooms', 'connect', 'multi-host', 'v2'] as const;
type Scenario = (typeof SCENARIOS)[number];
/**
 * What --compare runs without --scenario: everything but multi-host (which needs redis-server), connect
 * (which restarts the servers before every run and holds up to ~20k sockets) and v2 (sockudo-ts against
 * itself: nothing to compare with the peers).
 */
const DEFAULT_SCENARIOS = SCENARIOS.filter((s) => s !== 'multi-host' && s !== 'connect' && s !== 'v2');
/** Names accepted by --scenario that stand for other scenarios. */
const ALIASES: Record<string, readonly Scenario[]> = { churn: ['churn-private', 'churn-presence', 'churn-presence-rooms'], latency: ['fanout-latency'] };
/** The hosts of multi-host listen on these ports and the next ones (metrics on METRICS_PORT + i). */
const MULTI_HOST_PORT = 6211;
const MULTI_HOST_METRICS_PORT = 9211;
/** sockudo-ts listens on this port (metrics on SOCKUDO_METRICS_PORT); in a worker sweep, one instance per count on the next ones. */
const SOCKUDO_PORT = 6201;
const SOCKUDO_METRICS_PORT = 9201;
/** A sweep's instances must stay below the multi-host ports. */
const MAX_SWEEP = MULTI_HOST_PORT - SOCKUDO_PORT;

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
    'http-idempotency': { type: 'boolean', default: false },
    'v2-share': { type: 'string', default: '0' },
    'v2-filter': { type: 'boolean', default: false },
    channels: { type: 'string', default: '2000' },
    'channel-subscribers': { type: 'string', default: '2' },
    batch: { type: 'string', default: '10' },
    'many-http-connections': { type: 'string', default: '16' },
    'churn-sockets': { type: 'string', default: '200' },
    'room-size': { type: 'string', default: '10' },
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
    connections: { type: 'string', default: '10000,18000' },
    'connect-concurrency': { type: 'string', default: '64' },
    'settle-quiet': { type: 'string', default: '20' },
    'settle-seconds': { type: 'string', default: '90' },
    client: { type: 'string', default: 'raw' },
    // Both default to what each server runs with on this machine: sockudo-ts its own default (cores − 1),
    // the bare server one thread per core.
    workers: { type: 'string', default: String(resolveWorkerCount(0)) },
    'bare-threads': { type: 'string', default: String(availableParallelism()) },
    'target-url': { type: 'string' },
    'http-url': { type: 'string' },
    'app-id': { type: 'string' },
    'app-key': { type: 'string' },
    'app-secret': { type: 'string' },
    'target-pid': { type: 'string' },
    padding: { type: 'string', default: '64' },
    peers: { type: 'string', default: process.env.PEERS ?? join(homedir(), 'peers') },
    'sockudo-dir': { type: 'string' },
    'sockudo-env': { type: 'string' },
    'cpu-prof': { type: 'string' },
    out: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
  strict: true,
});

function usage(message?: string): never {
  if (message) process.stderr.write(`bench: ${message}\n`);
  process.stderr.write(
    'usage: node --import tsx bench/run.ts (--compare | --scenario SCENARIOS (--target sockudo-ts|soketi|bare | --target-url URL))\n' +
      '       [--runs 3] [--subscribers 5000] [--duration 10] [--warmup 2] [--window 64] [--steady-rate 10]\n' +
      '       [--v2-share 0[,0.5]] [--v2-filter] [--http-connections 64] [--http-idempotency] [--fanout-http-connections 4]\n' +
      '       [--channels 2000] [--channel-subscribers 2] [--batch 10] [--many-http-connections 16]\n' +
      '       [--churn-sockets 200] [--room-size 10] [--loader-processes 2] [--client raw|ws] [--noisy-retries 0] [--noisy-cores 0.25]\n' +
      '       [--latency-phases 0:50,5000:10,5000:50] [--latency-probes 10]\n' +
      '       [--multi-hosts 3] [--multi-host-workers 1] [--multi-subscribers 900] [--multi-channels 100]\n' +
      '       [--multi-http-connections 16] [--multi-probe-channels 3] [--multi-probe-rate 30] [--multi-warmup-runs 1]\n' +
      '       [--connections 10000,18000] [--connect-concurrency 64] [--settle-quiet 20] [--settle-seconds 90]\n' +
      '       [--workers N | --workers 1,2,...] [--bare-threads N] [--padding 64] [--peers ~/peers] [--out results.jsonl]\n' +
      "       [--sockudo-dir DIR | --sockudo-dir DIR,DIR,...] [--sockudo-env 'default;NAME=VALUE,NAME=VALUE;...'] [--cpu-prof DIR]\n" +
      '       [--target-url ws://127.0.0.1:PORT --app-id ID --app-key KEY --app-secret SECRET [--http-url http://127.0.0.1:PORT] [--target-pid PID]]\n' +
      `Scenarios: ${SCENARIOS.join(', ')} (churn = churn-private,churn-presence,churn-presence-rooms; latency = fanout-latency).\n` +
      'churn-presence-rooms: the presence churn with --room-size sockets (users) to a channel, so every pair also\n' +
      "sends member_removed and member_added to the room's other members.\n" +
      'Lists are comma-separated; --compare defaults to every scenario but multi-host and connect, and every target.\n' +
      'connect: per --connections count, a fresh server (restarted before each run), N idle connections opened\n' +
      '(--connect-concurrency handshakes in flight per loader process); accept rate and marginal RSS per connection,\n' +
      'each RSS reading once it stayed within 1 % for --settle-quiet seconds (at most --settle-seconds).\n' +
      '--workers: sockudo-ts uWS workers (default: its own default here, cores - 1); with several counts sockudo-ts runs\n' +
      'once per count (ports 6201...) and a table of the figures against the worker count follows. --bare-threads:\n' +
      'the bare server\'s threads (default: one per core). soketi is single-threaded.\n' +
      '--sockudo-dir: the sockudo-ts source tree to run (default: this one); with several, one instance each (an A/B\n' +
      'of two builds in one session). --sockudo-env: configuration variants, separated by ";", each "default" or\n' +
      'comma-separated SOCKUDO_* settings or NODE_OPTIONS (e.g. "default;SOCKUDO_CONNECTION_RECOVERY_ENABLED=true"), one instance\n' +
      'each. Only one of --workers, --sockudo-dir and --sockudo-env may list several; a table of each instance\n' +
      'against the first follows.\n' +
      '--target-url measures a Pusher-compatible server already running on loopback (never started or stopped\n' +
      'here); its CPU and memory are read only with --target-pid. Without --target, it is the only target.\n' +
      '--latency-phases: bulk subscribers:publishes per second, one phase each (0 = the probes alone).\n' +
      'multi-host starts its own redis-server and hosts (ports 6211...) and compares them with the sockudo-ts\n' +
      'target (one host, --workers workers, no Redis), which must be among the targets. --v2-share (fraction of\n' +
      'fan-out subscribers on Protocol V2, one run per value) applies to sockudo-ts only; with --v2-filter the\n' +
      'publishes carry a tag and the V2 subscribers filter on it (every publish matches). v2 (sockudo-ts only) is\n' +
      'fanout three times per round: V1-only, all V2, all V2 with that filter. --http-idempotency runs http\n' +
      'twice per round on sockudo-ts or a --target-url: as usual, then with a fresh X-Idempotency-Key on each publish (what\n' +
      'idempotent publishing costs; such publishes go through the primary). --noisy-retries N repeats,\n' +
      'up to N times, a run during which other processes kept more than --noisy-cores cores busy; the table keeps\n' +
      'the quietest attempt, the JSON lines keep them all.\n' +
      '--cpu-prof DIR runs every sockudo-ts under Node\'s CPU profiler (slower: profile, do not compare): each thread\n' +
      'writes a .cpuprofile into DIR when its server stops; bench/profile.ts DIR summarizes them and draws flame graphs.\n',
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

/** Users to a presence room: a whole number within the servers' default member limit (100). */
function roomSize(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 100) usage('--room-size must be a whole number from 1 to 100 (the default max_presence_members_per_channel)');
  return n;
}

if (a.help) usage();
if (!a.compare && (a.scenario === undefined || (a.target === undefined && a['target-url'] === undefined))) {
  usage('give --compare, or --scenario with --target or --target-url');
}
const scenarios = [
  ...new Set(list<Scenario | string>(a.scenario, [...SCENARIOS, ...Object.keys(ALIASES)], DEFAULT_SCENARIOS, 'scenario').flatMap((s) => ALIASES[s] ?? [s as Scenario])),
];
/** The servers to start: --target, or every one unless a URL target stands alone. */
const targets = list<TargetName>(a.target, TARGET_NAMES, a['target-url'] === undefined ? TARGET_NAMES : [], 'target');
const runs = positive('runs', a.runs);
const subscribers = positive('subscribers', a.subscribers);
if (subscribers > 15_000) usage('--subscribers is capped at 15000 (file descriptors on these machines)');
const duration = positive('duration', a.duration);
if (duration > 120) usage('--duration is capped at 120 seconds');
const warmup = positive('warmup', a.warmup, true);
/** sockudo-ts worker counts: one instance each (a sweep when there are several). */
const workerCounts = [...new Set(a.workers.split(',').map((w) => Number(w.trim())))].sort((x, y) => x - y);
for (const w of workerCounts) if (!Number.isInteger(w) || w < 1 || w > 64) usage('--workers takes worker counts from 1 to 64');
if (workerCounts.length > MAX_SWEEP) usage(`--workers takes at most ${MAX_SWEEP} counts`);
const sweep = workerCounts.length > 1;
const bareThreads = positive('bare-threads', a['bare-threads']);
if (sweep && !targets.includes('sockudo-ts')) usage('--workers with several counts sweeps sockudo-ts: add it to --target');
const loaderProcesses = positive('loader-processes', a['loader-processes']);
const [client] = list<SubscriberClientKind>(a.client, ['raw', 'ws'], ['raw'], 'client');
const v2Shares = [...new Set(a['v2-share'].split(',').map((v) => Number(v.trim())))];
for (const v of v2Shares) if (!Number.isFinite(v) || v < 0 || v > 1) usage('--v2-share takes fractions between 0 and 1');
if (a['v2-filter'] && !v2Shares.some((v) => v > 0) && !scenarios.includes('v2')) usage('--v2-filter filters the V2 subscribers: give a --v2-share above 0');
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
  v2Filter: false,
};
/** The same fan-out at a fixed publish rate every target sustains: CPU per delivery at equal load. */
const steady = { ...fanout, rate: positive('steady-rate', a['steady-rate']) };
const http = {
  loaderProcesses,
  connections: positive('http-connections', a['http-connections']),
  warmupSeconds: warmup,
  durationSeconds: duration,
  padding: fanout.padding,
  idempotencyKeys: false,
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
const churn = { loaderProcesses, socketsPerProcess: positive('churn-sockets', a['churn-sockets']), roomSize: roomSize(a['room-size']), warmupSeconds: warmup, durationSeconds: duration };
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
const connectLevels = [...new Set(a.connections.split(',').map((n) => Number(n.trim())))];
for (const n of connectLevels) {
  if (!Number.isInteger(n) || n < 1) usage('--connections takes positive connection counts');
  if (!scenarios.includes('connect')) continue; // the open-file limit only matters when connect runs
  try {
    checkConnectionCount(n);
  } catch (err) {
    usage(`--connections: ${(err as Error).message}`);
  }
}
const connect = {
  loaderProcesses,
  concurrency: positive('connect-concurrency', a['connect-concurrency']),
  client,
  settleQuietSeconds: positive('settle-quiet', a['settle-quiet']),
  settleSeconds: positive('settle-seconds', a['settle-seconds']),
};
if (connect.settleQuietSeconds >= connect.settleSeconds) usage('--settle-quiet must be shorter than --settle-seconds');
/** Settings the benchmark itself needs (where the server listens, its app credentials, one host): not variants. */
const FIXED_SETTINGS = /^SOCKUDO_(HOST|PORT|METRICS_PORT|METRICS_HOST|METRICS_ENABLED|WORKERS|REDIS_URL|REDIS_PREFIX|(DEFAULT_)?APP_(ID|KEY|SECRET)|DEFAULT_APP_ENABLED)$/;

/** sockudo-ts source trees: one instance each (an A/B of builds when there are several). */
const sockudoDirs = a['sockudo-dir'] === undefined ? [REPO_DIR] : a['sockudo-dir'].split(',').map(sourceTree);
/** sockudo-ts configuration variants (environment settings): one instance each when there are several. */
const sockudoEnvs = a['sockudo-env'] === undefined ? [{}] : a['sockudo-env'].split(';').map(parseEnvVariant);
const sockudoDir = sockudoDirs[0];
/** Settings every sockudo-ts started here runs with (a single --sockudo-env variant). */
const sockudoEnv = sockudoEnvs.length === 1 ? sockudoEnvs[0] : {};
const instances = sockudoDirs.length * sockudoEnvs.length;
if ([workerCounts.length, sockudoDirs.length, sockudoEnvs.length].filter((n) => n > 1).length > 1) usage('only one of --workers, --sockudo-dir and --sockudo-env may list several');
if (new Set(sockudoDirs).size < sockudoDirs.length) usage('--sockudo-dir names a tree twice');
if (new Set(sockudoEnvs.map((e) => JSON.stringify(Object.entries(e).sort()))).size < sockudoEnvs.length) usage('--sockudo-env gives the same variant twice');
if (instances > MAX_SWEEP) usage(`at most ${MAX_SWEEP} sockudo-ts instances`);
if (instances > 1 && !targets.includes('sockudo-ts')) usage('--sockudo-dir and --sockudo-env run sockudo-ts: add it to --target');
if (instances > 1 && scenarios.includes('multi-host')) usage('multi-host compares its hosts with one sockudo-ts: give one --sockudo-dir and one --sockudo-env variant');

/** A sockudo-ts source tree to run: an existing directory with the server's entry point. */
function sourceTree(text: string): string {
  if (text.trim() === '') usage('--sockudo-dir has an empty item');
  const dir = resolve(text.trim());
  if (!existsSync(join(dir, 'src', 'main.ts'))) usage(`--sockudo-dir: ${dir} holds no src/main.ts (note that the shell expands ~ only at the start of a word)`);
  return dir;
}

/** "default", or NAME=VALUE settings separated by commas; only the server's own SOCKUDO_* settings. */
function parseEnvVariant(text: string): Record<string, string> {
  const variant: Record<string, string> = {};
  if (text.trim() === 'default') return variant;
  for (const item of text.split(',')) {
    const eq = item.indexOf('=');
    const name = item.slice(0, eq).trim();
    // NODE_OPTIONS too: Node's own flags (heap and GC sizes) are settings a user tunes as well.
    if (eq < 0 || !/^(SOCKUDO_[A-Z0-9_]+|NODE_OPTIONS)$/.test(name)) usage(`--sockudo-env takes "default" or SOCKUDO_NAME=VALUE and NODE_OPTIONS=FLAGS settings, not "${item.trim()}"`);
    if (FIXED_SETTINGS.test(name)) usage(`--sockudo-env cannot set ${name}: the benchmark sets where the server listens, its app and its workers (use --workers)`);
    variant[name] = item.slice(eq + 1).trim();
  }
  return variant;
}

/** A URL target's app: all three credentials are needed to connect, sign publishes and sign channel auth. */
function urlApp(): { id: string; key: string; secret: string } {
  const [id, key, secret] = [a['app-id'], a['app-key'], a['app-secret']];
  if (id === undefined || key === undefined || secret === undefined) usage('--target-url needs --app-id, --app-key and --app-secret');
  return { id, key, secret };
}
const targetPid = a['target-pid'] === undefined ? undefined : positive('target-pid', a['target-pid']);
if (targetPid !== undefined && a['target-url'] === undefined) usage('--target-pid goes with --target-url');
if (a['http-url'] !== undefined && a['target-url'] === undefined) usage('--http-url goes with --target-url');
if (a['target-url'] !== undefined && scenarios.includes('multi-host')) usage('multi-host starts its own sockudo-ts hosts; it cannot use --target-url');
if (a['target-url'] !== undefined) {
  try {
    checkTargetUrls(a['target-url'], a['http-url']);
  } catch (err) {
    usage((err as Error).message);
  }
  urlApp();
}

/** With --cpu-prof: where every sockudo-ts started here writes one CPU profile per thread when it stops. */
const cpuProfDir = a['cpu-prof'] === undefined ? undefined : resolve(a['cpu-prof']);
if (cpuProfDir !== undefined) mkdirSync(cpuProfDir, { recursive: true });

/** A sockudo-ts spec run under Node's CPU profiler when --cpu-prof asks for it (a flag NODE_OPTIONS refuses). */
function profiled(spec: TargetSpec): TargetSpec {
  if (cpuProfDir === undefined) return spec;
  return { ...spec, args: ['--cpu-prof', `--cpu-prof-dir=${cpuProfDir}`, ...spec.args], description: `${spec.description}, under --cpu-prof` };
}

/** What to start for each target: one sockudo-ts per worker count, with its label in tables and lines. */
const plans: { spec: TargetSpec; label: string }[] = targets.flatMap((name): { spec: TargetSpec; label: string }[] => {
  if (name === 'sockudo-ts' && sweep) {
    return workerCounts.map((w, i): { spec: TargetSpec; label: string } => ({
      spec: { ...withSettings(sockudoHostSpec(sockudoDir, SOCKUDO_PORT + i, SOCKUDO_METRICS_PORT + i, w), sockudoEnv), label: `sockudo-ts-${w}-workers` }, // its own log file
      label: `sockudo-ts (${w} worker${w === 1 ? '' : 's'})`,
    }));
  }
  if (name === 'sockudo-ts' && (sockudoDirs.length > 1 || sockudoEnvs.length > 1)) return sockudoInstances();
  const spec = targetSpec(name, a.peers, name === 'bare' ? bareThreads : workerCounts[0], sockudoDir);
  return [{ spec: name === 'sockudo-ts' ? withSettings(spec, sockudoEnv) : spec, label: name }];
}).map((p) => (p.spec.name === 'sockudo-ts' ? { ...p, spec: profiled(p.spec) } : p));

/** `NAME=VALUE, NAME=VALUE`: how a variant's settings are named in labels and descriptions ('' for none). */
function settingsText(env: Record<string, string>): string {
  return Object.entries(env).map(([k, v]) => `${k}=${v}`).join(', ');
}

/** A sockudo-ts spec with extra SOCKUDO_* settings, which its description names. */
function withSettings(spec: TargetSpec, env: Record<string, string>): TargetSpec {
  const settings = settingsText(env);
  return settings ? { ...spec, env: { ...spec.env, ...env }, description: `${spec.description}, ${settings}` } : spec;
}

/** One sockudo-ts per source tree or per configuration variant, labelled by its revision or its settings. */
function sockudoInstances(): { spec: TargetSpec; label: string }[] {
  const combos = sockudoDirs.flatMap((dir) => sockudoEnvs.map((env) => ({ dir, env })));
  const bases = combos.map(({ dir }, i) => sockudoHostSpec(dir, SOCKUDO_PORT + i, SOCKUDO_METRICS_PORT + i, workerCounts[0]));
  return combos.map(({ env }, i) => {
    const base = bases[i];
    const settings = settingsText(env);
    const source = base.versions.source;
    // Two trees at the same revision (a snapshot and its working copy, say) are told apart by position.
    const what = sockudoDirs.length === 1 ? settings || 'default' : bases.filter((b) => b.versions.source === source).length > 1 ? `${source} #${i + 1}` : source;
    return { spec: { ...withSettings(base, env), label: `sockudo-ts-${i + 1}` }, label: `sockudo-ts (${what})` }; // its own log file
  });
}

interface Variant {
  /** The http scenario's publishes each carry an X-Idempotency-Key. */
  idempotencyKeys?: boolean;
  v2Share: number;
  /** V2 subscribers filter on a tag every publish carries (bench/v2Filter.ts). */
  v2Filter: boolean;
  /** Connections to open (the connect scenario). */
  connections: number;
  variant: string;
}

/** A fan-out variant with this V2 share (filtered or not), labelled as the tables show it ('' = V1-only). */
function fanoutVariant(v2Share: number, v2Filter: boolean): Variant {
  const filter = v2Filter && v2Share > 0;
  return { v2Share, v2Filter: filter, connections: 0, variant: v2Share === 0 ? '' : `${Math.round(v2Share * 100)} % V2${filter ? ', filtered' : ''}` };
}

/**
 * The runs one round holds for a target: fan-out once per V2 share it speaks, v2 its three variants (none
 * for a server without Protocol V2), connect once per count, the rest once.
 */
function variants(scenario: Scenario, target: RunningTarget['name']): Variant[] {
  if (scenario === 'connect') {
    return connectLevels.map((connections) => ({ v2Share: 0, v2Filter: false, connections, variant: `${connections.toLocaleString('en')} connections` }));
  }
  if (scenario === 'v2') return target === 'sockudo-ts' ? [fanoutVariant(0, false), fanoutVariant(1, false), fanoutVariant(1, true)] : [];
  // soketi and the bare server would ignore the header: only sockudo-ts, or a server at --target-url (Sockudo has the feature).
  if (scenario === 'http' && a['http-idempotency'] && (target === 'sockudo-ts' || target === 'url')) {
    const plain = { v2Share: 0, v2Filter: false, connections: 0 };
    return [{ ...plain, variant: '' }, { ...plain, idempotencyKeys: true, variant: 'X-Idempotency-Key on each' }];
  }
  if (scenario !== 'fanout' && scenario !== 'fanout-steady') return [{ v2Share: 0, v2Filter: false, connections: 0, variant: '' }];
  return v2Shares.filter((v2Share) => v2Share === 0 || target === 'sockudo-ts').map((v2Share) => fanoutVariant(v2Share, a['v2-filter']));
}

/** One measured result; a run may give several (one per latency phase), each with its own variant label. */
interface Part {
  variant?: string;
  result: { otherCores: number } & object;
}

/** Runs one scenario against `running[index]` (connect first restarts it, so its process starts empty). */
async function runScenario(scenario: Exclude<Scenario, 'multi-host'>, index: number, v: Variant): Promise<Part[]> {
  const { v2Share, v2Filter } = v;
  const t = scenario === 'connect' ? await restart(index) : running[index];
  used.add(t);
  switch (scenario) {
    case 'connect':
      return [{ result: await runConnect(t, { ...connect, connections: v.connections, freshProcess: t.spec !== undefined }) }];
    case 'fanout':
      return [{ result: await runFanout(t, { ...fanout, v2Share, v2Filter }) }];
    case 'fanout-steady':
      return [{ result: await runFanout(t, { ...steady, v2Share, v2Filter }) }];
    case 'v2': {
      // The same fan-out, its JSON line named after the scenario it ran in.
      const result = { ...(await runFanout(t, { ...fanout, v2Share, v2Filter })), scenario: 'v2' };
      return [{ result }];
    }
    case 'fanout-latency':
      return (await runLatency(t, latency)).map((result) => ({ variant: result.phase, result }));
    case 'http':
      return [{ result: await runHttp(t, { ...http, idempotencyKeys: v.idempotencyKeys === true }) }];
    case 'many-channels':
      return [{ result: await runManyChannels(t, manyChannels) }];
    case 'churn-private':
      return [{ result: await runChurn(t, { ...churn, kind: 'private' }) }];
    case 'churn-presence':
      return [{ result: await runChurn(t, { ...churn, kind: 'presence' }) }];
    case 'churn-presence-rooms':
      return [{ result: await runChurn(t, { ...churn, kind: 'presence-rooms' }) }];
  }
}

const emit = (line: Record<string, unknown>) => {
  const text = JSON.stringify(line);
  process.stdout.write(`${text}\n`);
  if (a.out) appendFileSync(a.out, `${text}\n`);
};

const logDir = mkdtempSync(join(tmpdir(), 'sockudo-bench-'));
const running: RunningTarget[] = [];

/** Targets that have served a run since they started (the others are as fresh as a restart would make them). */
const used = new Set<RunningTarget>();

/** Stops `running[index]` and starts it again, if this benchmark started it and it has served a run; a URL target is left as it is. */
async function restart(index: number): Promise<RunningTarget> {
  const old = running[index];
  if (!old.spec || !used.has(old)) return old;
  await old.stop();
  const fresh = await startTarget(old.spec, logDir, old.label);
  running[index] = fresh;
  emit({ type: 'target-restart', target: fresh.label, pid: fresh.pid });
  return fresh;
}
const stopAll = () => Promise.all(running.map((t) => t.stop()));
process.on('SIGINT', () => {
  process.stderr.write('bench: interrupted; stopping the servers it started\n');
  void stopAll().then(() => process.exit(130));
});

const started = new Date();
const machine = machineInfo();
emit({
  type: 'setup',
  startedAt: started.toISOString(),
  command: `node --import tsx bench/run.ts ${process.argv.slice(2).join(' ')}`,
  machine,
  loader: { processes: loaderProcesses, ws: packageVersion(process.cwd(), 'ws') },
  fanout,
  steady,
  http,
  manyChannels,
  churn,
  ...(scenarios.includes('fanout-latency') ? { latency } : {}),
  ...(scenarios.includes('connect') ? { connect: { ...connect, levels: connectLevels } } : {}),
  workers: workerCounts,
  ...(scenarios.includes('multi-host') ? { multiHost: { ...multi, warmupRuns: multiWarmupRuns } } : {}),
  v2Shares,
  v2Filter: a['v2-filter'],
  scenarios,
  noisy: { cores: noisyCores, retries: noisyRetries },
  runs,
  logDir,
});
if (v2Shares.some((v) => v > 0) && (targets.some((t) => t !== 'sockudo-ts') || a['target-url'] !== undefined)) {
  emit({ type: 'note', note: 'only sockudo-ts speaks Protocol V2: --v2-share > 0 fan-out runs are skipped for the other targets' });
}
if (scenarios.includes('v2') && (targets.some((t) => t !== 'sockudo-ts') || a['target-url'] !== undefined)) {
  emit({ type: 'note', note: 'only sockudo-ts speaks Protocol V2: the v2 scenario is skipped for the other targets' });
}
if (scenarios.some((s) => s.startsWith('churn')) && targets.includes('bare')) {
  emit({ type: 'note', note: 'the bare server answers subscriptions without checking auth and keeps no presence state (so it sends no member frames)' });
}

if (scenarios.includes('connect') && a['target-url'] !== undefined) {
  emit({
    type: 'note',
    note: `the URL target is not restarted before connect runs: its "0 connections" baseline is whatever it holds now${targetPid === undefined ? '; without --target-pid its memory is not read' : ''}`,
  });
}

const records: RunRecord[] = [];

/** Who a run was against, as lines and records name it. */
interface Who {
  label: string;
  name: string;
  threads: number | null;
}
const whoOf = (t: RunningTarget): Who => ({ label: t.label, name: t.name, threads: t.threads });

/**
 * One run (of one target or layout), repeated up to --noisy-retries times while other processes kept more
 * than --noisy-cores cores busy; every attempt is printed, the quietest is recorded.
 */
async function measured(who: Who, scenario: Scenario, run: number, variant: string, attemptRun: () => Promise<Part[]>): Promise<void> {
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
      for (const p of parts) emit({ type: 'run', target: who.label, workers: who.threads, run, attempt, at, variant: p.variant ?? variant, ...p.result });
      if (!quietest || other < quietestOther) {
        quietest = parts;
        quietestOther = other;
      }
      if (other <= noisyCores || attempt >= noisyRetries) break;
    } catch (err) {
      emit({ type: 'run-error', target: who.label, scenario, variant, run, attempt, at, error: (err as Error).message });
      break;
    }
  }
  for (const p of quietest ?? []) {
    records.push({ target: who.label, name: who.name, threads: who.threads, scenario, variant: p.variant ?? variant, result: p.result as Record<string, unknown> });
  }
  await sleep(1500); // let the server finish closing the last run's sockets before the next one starts
}

let multiHostLabels: { layout: string; baseline: string } | undefined;

/** Multi-host: starts redis-server and the hosts, alternates them with the one-host sockudo-ts target, stops them. */
async function multiHostSession(): Promise<void> {
  const single = running.find((t) => t.name === 'sockudo-ts');
  if (!single?.spec || single.pid === null) {
    emit({ type: 'note', note: 'multi-host compares with the sockudo-ts target (one host, no Redis): add sockudo-ts to --target' });
    return;
  }
  const redis = await startRedis(logDir);
  const hosts: RunningTarget[] = [];
  const hostPorts: { port: number; pid: number }[] = [];
  try {
    emit({ type: 'target', target: 'redis', pid: redis.pid, port: redis.port, versions: { redis: redis.version }, log: redis.logFile });
    for (let h = 0; h < multi.hosts; h++) {
      const spec = profiled(withSettings(sockudoHostSpec(sockudoDir, MULTI_HOST_PORT + h, MULTI_HOST_METRICS_PORT + h, multi.hostWorkers, { url: redis.url, prefix: 'bench:' }), sockudoEnv));
      const t = await startTarget(spec, logDir);
      hosts.push(t);
      emit({ type: 'target', target: 'sockudo-ts', host: h, pid: t.pid, port: spec.port, threads: spec.threads, description: spec.description, versions: spec.versions, log: t.logFile });
      hostPorts.push({ port: spec.port, pid: t.pid as number });
    }
    const plural = (n: number, w: string) => `${n} ${w}${n === 1 ? '' : 's'}`;
    const layouts: Layout[] = [
      {
        label: `${plural(multi.hosts, 'host')} × ${plural(multi.hostWorkers, 'worker')} + Redis`,
        hosts: hostPorts,
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
          emit({ type: 'warmup-run', target: single.label, variant: layout.label, publishesPerSec: r.publishesPerSec, deliveriesPerSec: r.deliveriesPerSec, p99Ms: r.p99Ms });
        } catch (err) {
          emit({ type: 'warmup-run-error', target: single.label, variant: layout.label, error: (err as Error).message });
        }
        await sleep(1500);
      }
    }
    for (let run = 1; run <= runs; run++) {
      const order = run % 2 === 1 ? layouts : [...layouts].reverse();
      for (const layout of order) {
        await measured(whoOf(single), 'multi-host', run, layout.label, async () => [{ variant: layout.label, result: await runMultiHost(layout, multi) }]);
      }
    }
  } finally {
    await Promise.all(hosts.map((t) => t.stop()));
    await redis.stop();
  }
}

/** What each target was, for the caption of the table and the chart (filled as they start). */
const infos: TargetInfo[] = [];

try {
  for (const { spec, label } of plans) {
    const t = await startTarget(spec, logDir, label);
    running.push(t);
    infos.push(t);
    emit({ type: 'target', target: label, pid: t.pid, port: spec.port, threads: spec.threads, description: spec.description, versions: spec.versions, log: t.logFile });
  }
  if (a['target-url'] !== undefined) {
    const t = await urlTarget({ wsUrl: a['target-url'], httpUrl: a['http-url'], app: urlApp(), pid: targetPid });
    running.push(t);
    infos.push(t);
    emit({ type: 'target', target: t.label, pid: t.pid, endpoint: { ws: t.endpoint.wsOrigin, http: t.endpoint.httpOrigin, appId: t.endpoint.app.id }, description: t.description });
  }
  for (const scenario of scenarios) {
    if (scenario === 'multi-host') {
      await multiHostSession();
      continue;
    }
    for (let run = 1; run <= runs; run++) {
      // Rotate the order each round so no target always runs first (or right after a heavy neighbour).
      // Targets are taken by index: the connect scenario replaces a restarted target in `running`.
      const order = running.map((_, i) => (i + run - 1) % running.length);
      for (const index of order) {
        const who = whoOf(running[index]);
        const own = variants(scenario, running[index].name);
        // Alternate the variants' order too (V1-only first in odd rounds, last in even ones).
        for (const v of run % 2 === 1 ? own : own.reverse()) {
          await measured(who, scenario, run, v.variant, () => runScenario(scenario, index, v));
        }
      }
    }
  }
} catch (err) {
  // A target that would not start (port taken, pure-JS uWS, URL target not answering): nothing to report.
  emit({ type: 'error', error: (err as Error).message });
  process.stderr.write(`bench: ${(err as Error).message}\n`);
  process.exitCode = 1;
} finally {
  await stopAll();
}
if (cpuProfDir !== undefined) process.stderr.write(`bench: CPU profiles of sockudo-ts in ${cpuProfDir}; summary and flame graphs: node --import tsx bench/profile.ts ${cpuProfDir}\n`);
if (process.exitCode === 1) process.exit(1);

const labels = infos.map((t) => t.label);
const loaderText = `${loaderProcesses} processes (at least) on the same machine, ${client} client`;
const caption = settingsCaption(machine, infos, loaderText);
const multiHost = multiHostLabels ? multiHostTable(records, multiHostLabels.layout, multiHostLabels.baseline) : '';
const tables = [markdownTable(records, labels), variantTable(records, labels), instancesTable(records, labels), multiHost].filter((t) => t !== '');
const table = [caption, ...tables].join('\n\n');
emit({ type: 'done', finishedAt: new Date().toISOString(), minutes: (Date.now() - started.getTime()) / 60_000 });
process.stdout.write(`\n${table}\n`);
if (a.out) {
  const base = a.out.replace(/\.jsonl$/, '');
  const svg = `${base}.svg`;
  const threads = infos.map((t) => `${t.label} ${t.threads === null ? '?' : t.threads}`).join(', ');
  const chart = chartSvg(
    `sockudo-ts bench ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC: ${scenarios.join(', ')}`,
    [
      `${machine.nproc} cores, ${machine.cpuModel}, ${machine.memoryGiB} GiB, Linux ${machine.kernel}; Node ${machine.node}; uWS ${uwsBuilds(infos)}`,
      `threads serving sockets: ${threads}; loader: ${loaderText}`,
      `bars: medians of up to ${runs} run${runs === 1 ? '' : 's'}, whiskers min–max; one session, targets taking turns`,
    ],
    chartPanels(records, labels),
  );
  writeFileSync(svg, chart);
  appendFileSync(`${base}.md`, `${table}\n\nChart: ${svg.split('/').pop()}\n\n`);
  process.stderr.write(`bench: wrote ${a.out}, ${base}.md and ${svg}\n`);
}
process.exit(0);
