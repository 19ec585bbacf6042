// Turns run results into medians and markdown tables: ratios against soketi and bare uWS, for scenario
// variants (fan-out with a share of V2 subscribers, the v2 scenario's V2 runs) the ratio to the plain one
// (V1-only), for the latency phases and connection counts one row per phase or count, for multi-host the
// hosts sharing Redis against the one host, for several sockudo-ts instances (worker counts, source trees,
// configuration variants) each scenario's figures against the first; and the caption saying what was measured on (machine, Node, uWS builds, worker counts).
import type { MachineInfo } from './machine.ts';

export function median(values: readonly number[]): number {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return Number.NaN;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

/** 1234567 → "1.23M", 45678 → "45.7k", 12.345 → "12.3". */
export function fmt(x: number): string {
  if (!Number.isFinite(x)) return 'n/a';
  const a = Math.abs(x);
  if (a >= 1e6) return `${(x / 1e6).toPrecision(3)}M`;
  if (a >= 1e3) return `${(x / 1e3).toPrecision(3)}k`;
  return String(Number(x.toPrecision(3)));
}

export interface Metric {
  scenario: string;
  label: string;
  /** Reads the figure out of one run's result. */
  pick: (r: Record<string, unknown>) => number;
  /** Whether a ratio ours/soketi is worth printing for this row. */
  ratio: boolean;
}

/** Deliveries counted against publishes × subscribers: below 1, some never arrived (or failed a filtered subscriber's check). */
function deliveredShare(r: Record<string, unknown>): number {
  const expected = r.expectedDeliveries as number;
  return expected > 0 ? (r.deliveries as number) / expected : Number.NaN;
}

/** The two busiest server threads (per-thread CPU from /proc/PID/task): which thread limits, or whether they take turns. */
function threadRows(scenario: string): Metric[] {
  const nth = (r: Record<string, unknown>, i: number) => (r.serverThreadCores as number[] | undefined)?.[i] ?? Number.NaN;
  return [
    { scenario, label: "server's busiest thread, cores", pick: (r) => nth(r, 0), ratio: false },
    { scenario, label: "server's second-busiest thread, cores", pick: (r) => nth(r, 1), ratio: false },
  ];
}

export const METRICS: Metric[] = [
  { scenario: 'fanout', label: 'deliveries/s at saturation', pick: (r) => r.deliveriesPerSec as number, ratio: true },
  { scenario: 'fanout', label: 'publishes/s accepted during fan-out', pick: (r) => r.publishesPerSec as number, ratio: true },
  { scenario: 'fanout', label: 'server CPU µs per delivery', pick: (r) => r.serverCpuUsPerDelivery as number, ratio: true },
  { scenario: 'fanout', label: 'server cores busy', pick: (r) => r.serverCores as number, ratio: false },
  ...threadRows('fanout'),
  { scenario: 'fanout', label: 'server CPU share in kernel', pick: (r) => r.serverKernelShare as number, ratio: false },
  { scenario: 'fanout', label: 'loader cores busy', pick: (r) => r.loaderCores as number, ratio: false },
  { scenario: 'fanout', label: 'other cores busy (not server, not loader)', pick: (r) => r.otherCores as number, ratio: false },
  { scenario: 'fanout', label: 'machine cores busy (all processes)', pick: (r) => r.machineCores as number, ratio: false },
  { scenario: 'v2', label: 'deliveries/s at saturation', pick: (r) => r.deliveriesPerSec as number, ratio: true },
  { scenario: 'v2', label: 'publishes/s accepted during fan-out', pick: (r) => r.publishesPerSec as number, ratio: true },
  { scenario: 'v2', label: 'server CPU µs per delivery', pick: (r) => r.serverCpuUsPerDelivery as number, ratio: true },
  { scenario: 'v2', label: 'deliveries / expected (1 = every publish reached every subscriber)', pick: deliveredShare, ratio: false },
  { scenario: 'v2', label: 'server cores busy', pick: (r) => r.serverCores as number, ratio: false },
  ...threadRows('v2'),
  { scenario: 'v2', label: 'server CPU share in kernel', pick: (r) => r.serverKernelShare as number, ratio: false },
  { scenario: 'v2', label: 'loader cores busy', pick: (r) => r.loaderCores as number, ratio: false },
  { scenario: 'v2', label: 'other cores busy (not server, not loader)', pick: (r) => r.otherCores as number, ratio: false },
  { scenario: 'v2', label: 'machine cores busy (all processes)', pick: (r) => r.machineCores as number, ratio: false },
  { scenario: 'fanout-steady', label: 'deliveries/s (fixed publish rate)', pick: (r) => r.deliveriesPerSec as number, ratio: false },
  { scenario: 'fanout-steady', label: 'server CPU µs per delivery', pick: (r) => r.serverCpuUsPerDelivery as number, ratio: true },
  { scenario: 'fanout-steady', label: 'server cores busy', pick: (r) => r.serverCores as number, ratio: false },
  ...threadRows('fanout-steady'),
  { scenario: 'fanout-steady', label: 'server CPU share in kernel', pick: (r) => r.serverKernelShare as number, ratio: false },
  { scenario: 'fanout-steady', label: 'loader cores busy', pick: (r) => r.loaderCores as number, ratio: false },
  { scenario: 'fanout-steady', label: 'other cores busy (not server, not loader)', pick: (r) => r.otherCores as number, ratio: false },
  { scenario: 'fanout-steady', label: 'machine cores busy (all processes)', pick: (r) => r.machineCores as number, ratio: false },
  { scenario: 'http', label: 'signed publishes/s (empty channel)', pick: (r) => r.publishesPerSec as number, ratio: true },
  { scenario: 'http', label: 'server CPU µs per publish', pick: (r) => r.serverCpuUsPerPublish as number, ratio: true },
  { scenario: 'http', label: 'server cores busy', pick: (r) => r.serverCores as number, ratio: false },
  ...threadRows('http'),
  { scenario: 'http', label: 'server CPU share in kernel', pick: (r) => r.serverKernelShare as number, ratio: false },
  { scenario: 'http', label: 'loader cores busy', pick: (r) => r.loaderCores as number, ratio: false },
  { scenario: 'http', label: 'other cores busy (not server, not loader)', pick: (r) => r.otherCores as number, ratio: false },
  { scenario: 'http', label: 'machine cores busy (all processes)', pick: (r) => r.machineCores as number, ratio: false },
  { scenario: 'many-channels', label: 'deliveries/s at saturation', pick: (r) => r.deliveriesPerSec as number, ratio: true },
  { scenario: 'many-channels', label: 'batch publishes/s accepted', pick: (r) => r.publishesPerSec as number, ratio: true },
  { scenario: 'many-channels', label: 'server CPU µs per delivery', pick: (r) => r.serverCpuUsPerDelivery as number, ratio: true },
  { scenario: 'many-channels', label: 'server CPU µs per batch request', pick: (r) => r.serverCpuUsPerBatch as number, ratio: true },
  { scenario: 'many-channels', label: 'server cores busy', pick: (r) => r.serverCores as number, ratio: false },
  ...threadRows('many-channels'),
  { scenario: 'many-channels', label: 'server CPU share in kernel', pick: (r) => r.serverKernelShare as number, ratio: false },
  { scenario: 'many-channels', label: 'loader cores busy', pick: (r) => r.loaderCores as number, ratio: false },
  { scenario: 'many-channels', label: 'other cores busy (not server, not loader)', pick: (r) => r.otherCores as number, ratio: false },
  { scenario: 'many-channels', label: 'machine cores busy (all processes)', pick: (r) => r.machineCores as number, ratio: false },
  // Throughput here is the machine's CPU per batch times how busy the machine stays (docs/benchmarks.md, Session 12).
  { scenario: 'many-channels', label: 'machine CPU µs per batch (all processes)', pick: (r) => ((r.machineCores as number) / (r.publishesPerSec as number)) * 1e6, ratio: true },
  { scenario: 'fanout-latency', label: 'publish→receive p50 ms', pick: (r) => r.p50Ms as number, ratio: true },
  { scenario: 'fanout-latency', label: 'publish→receive p95 ms', pick: (r) => r.p95Ms as number, ratio: true },
  { scenario: 'fanout-latency', label: 'publish→receive p99 ms', pick: (r) => r.p99Ms as number, ratio: true },
  { scenario: 'fanout-latency', label: 'publish→receive max ms', pick: (r) => r.maxMs as number, ratio: false },
  { scenario: 'fanout-latency', label: 'samples never received (counted at their lower bound)', pick: (r) => r.censoredSamples as number, ratio: false },
  { scenario: 'fanout-latency', label: 'samples', pick: (r) => r.expectedSamples as number, ratio: false },
  { scenario: 'fanout-latency', label: 'publisher waiting for a connection p99 ms (included)', pick: (r) => r.connectionWaitP99Ms as number, ratio: false },
  { scenario: 'fanout-latency', label: 'publisher timer lag p99 ms (excluded)', pick: (r) => r.timerLagP99Ms as number, ratio: false },
  { scenario: 'fanout-latency', label: 'bulk deliveries/s', pick: (r) => r.deliveriesPerSec as number, ratio: false },
  { scenario: 'fanout-latency', label: 'server cores busy', pick: (r) => r.serverCores as number, ratio: false },
  { scenario: 'fanout-latency', label: 'loader cores busy', pick: (r) => r.loaderCores as number, ratio: false },
  { scenario: 'fanout-latency', label: 'other cores busy (not server, not loader)', pick: (r) => r.otherCores as number, ratio: false },
  { scenario: 'connect', label: 'connections established/s while opening them', pick: (r) => r.acceptPerSec as number, ratio: true },
  { scenario: 'connect', label: 'KiB per idle connection (marginal server RSS)', pick: (r) => (r.bytesPerConnection as number) / 1024, ratio: true },
  { scenario: 'connect', label: 'of which anonymous memory, KiB', pick: (r) => (r.anonBytesPerConnection as number) / 1024, ratio: false },
  { scenario: 'connect', label: 'server RSS with no connection, MiB', pick: (r) => (r.rssBaselineBytes as number) / 2 ** 20, ratio: false },
  { scenario: 'connect', label: 'server RSS with the connections idle, MiB', pick: (r) => (r.rssBytes as number) / 2 ** 20, ratio: false },
  { scenario: 'connect', label: 'server CPU µs per connection', pick: (r) => r.serverCpuUsPerConnection as number, ratio: true },
  { scenario: 'connect', label: 'server cores busy while connecting', pick: (r) => r.serverCores as number, ratio: false },
  { scenario: 'connect', label: 'loader cores busy', pick: (r) => r.loaderCores as number, ratio: false },
  { scenario: 'connect', label: 'other cores busy (not server, not loader)', pick: (r) => r.otherCores as number, ratio: false },
  { scenario: 'connect', label: 'connections refused or timed out', pick: (r) => r.connectFailures as number, ratio: false },
  ...(['churn-private', 'churn-presence', 'churn-presence-rooms'] as const).flatMap((scenario): Metric[] => [
    { scenario, label: 'subscribe+unsubscribe pairs/s', pick: (r) => r.pairsPerSec as number, ratio: true },
    { scenario, label: 'server CPU µs per pair', pick: (r) => r.serverCpuUsPerPair as number, ratio: true },
    ...(scenario === 'churn-presence-rooms'
      ? [
          { scenario, label: 'member_added / member_removed frames received/s', pick: (r: Record<string, unknown>) => r.memberEventsPerSec as number, ratio: true },
          // At most 2 × (room size − 1): fewer when sockets spend longer between unsubscribe and subscription_succeeded.
          { scenario, label: 'member frames received per pair', pick: (r: Record<string, unknown>) => (r.memberEventsPerSec as number) / (r.pairsPerSec as number), ratio: false },
        ]
      : []),
    { scenario, label: 'subscribe errors in window', pick: (r) => r.errors as number, ratio: false },
    { scenario, label: 'server cores busy', pick: (r) => r.serverCores as number, ratio: false },
    ...threadRows(scenario),
    { scenario, label: 'server CPU share in kernel', pick: (r) => r.serverKernelShare as number, ratio: false },
    { scenario, label: 'loader cores busy', pick: (r) => r.loaderCores as number, ratio: false },
    { scenario, label: 'other cores busy (not server, not loader)', pick: (r) => r.otherCores as number, ratio: false },
    { scenario, label: 'machine cores busy (all processes)', pick: (r) => r.machineCores as number, ratio: false },
  ]),
];

/** Multi-host: the same figures for both layouts, in a table of their own (multiHostTable). */
export const MULTI_HOST_METRICS: Metric[] = [
  { scenario: 'multi-host', label: 'publishes/s accepted', pick: (r) => r.publishesPerSec as number, ratio: true },
  { scenario: 'multi-host', label: 'deliveries/s', pick: (r) => r.deliveriesPerSec as number, ratio: true },
  { scenario: 'multi-host', label: 'publish→receive p50 ms (probes, under load)', pick: (r) => r.p50Ms as number, ratio: true },
  { scenario: 'multi-host', label: 'publish→receive p99 ms (probes, under load)', pick: (r) => r.p99Ms as number, ratio: true },
  { scenario: 'multi-host', label: 'probe samples never received', pick: (r) => r.censoredSamples as number, ratio: false },
  { scenario: 'multi-host', label: 'server cores busy (all hosts)', pick: (r) => r.serverCores as number, ratio: true },
  { scenario: 'multi-host', label: 'redis-server cores busy', pick: (r) => r.redisCores as number, ratio: false },
  { scenario: 'multi-host', label: 'server CPU µs per delivery (hosts)', pick: (r) => r.serverCpuUsPerDelivery as number, ratio: true },
  { scenario: 'multi-host', label: 'server + Redis CPU µs per delivery', pick: (r) => r.serverAndRedisCpuUsPerDelivery as number, ratio: true },
  { scenario: 'multi-host', label: 'loader cores busy', pick: (r) => r.loaderCores as number, ratio: false },
  { scenario: 'multi-host', label: 'other cores busy', pick: (r) => r.otherCores as number, ratio: false },
];

/** What the plain variant ('') of a scenario is, where it is not the scenario as is. */
const PLAIN_VARIANT: Record<string, string> = { v2: 'V1 only' };

/** A variant's name in tables and charts: its label, or what the scenario's plain run is ('' if the scenario as is). */
export function variantLabel(scenario: string, variant: string): string {
  return variant || (PLAIN_VARIANT[scenario] ?? '');
}

/** A scenario and variant as table rows name them: "fanout", "fanout (50 % V2)", "v2 (V1 only)". */
export function scenarioLabel(scenario: string, variant: string): string {
  const v = variantLabel(scenario, variant);
  return v ? `${scenario} (${v})` : scenario;
}

export interface RunRecord {
  /** The target's label: its name, with the worker count in a sweep ("sockudo-ts (1 worker)"). */
  target: string;
  /** The target's name (sockudo-ts, soketi, bare, url) and its threads serving sockets (null: unknown). */
  name: string;
  threads: number | null;
  scenario: string;
  /** '' for the scenario as is; otherwise a label such as "50 % V2" (same metrics, compared with ''). */
  variant: string;
  result: Record<string, unknown>;
}

function valuesOf(records: readonly RunRecord[], t: string, m: Metric, variant: string): number[] {
  return records.filter((r) => r.target === t && r.scenario === m.scenario && r.variant === variant).map((r) => m.pick(r.result)).filter(Number.isFinite);
}

/** A scenario's variants: the plain one ('') first, then in the order they were first recorded. */
function variantsOf(records: readonly RunRecord[], scenario: string): string[] {
  const seen = [...new Set(records.filter((r) => r.scenario === scenario).map((r) => r.variant))];
  return seen.includes('') ? ['', ...seen.filter((v) => v !== '')] : seen;
}

function cell(values: readonly number[]): string {
  return values.length === 0 ? 'n/a' : `${fmt(median(values))} (${fmt(Math.min(...values))}–${fmt(Math.max(...values))})`;
}

/** Median (min–max) per target, and the ratios of medians sockudo-ts / soketi and sockudo-ts / bare where both ran. */
export function markdownTable(records: readonly RunRecord[], targets: readonly string[]): string {
  const head = ['scenario', 'metric', ...targets.map((t) => `${t} median (min–max)`)];
  const against = (['soketi', 'bare'] as const).filter((t) => targets.includes('sockudo-ts') && targets.includes(t));
  for (const t of against) head.push(`sockudo-ts / ${t}`);
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
  for (const m of METRICS) {
    for (const variant of variantsOf(records, m.scenario)) {
      const medians = new Map<string, number>();
      const cells = targets.map((t) => {
        const values = valuesOf(records, t, m, variant);
        if (values.length > 0) medians.set(t, median(values));
        return cell(values);
      });
      const row = [scenarioLabel(m.scenario, variant), m.label, ...cells];
      for (const t of against) {
        const ours = medians.get('sockudo-ts');
        const theirs = medians.get(t);
        row.push(m.ratio && ours !== undefined && theirs !== undefined && theirs !== 0 ? `${(ours / theirs).toFixed(2)}×` : '');
      }
      lines.push(`| ${row.join(' | ')} |`);
    }
  }
  return lines.length > 2 ? lines.join('\n') : '';
}

/** Each variant against its plain scenario, per target that ran both: medians and the ratio variant / plain. */
export function variantTable(records: readonly RunRecord[], targets: readonly string[]): string {
  const head = ['scenario', 'metric', 'target', 'plain median (min–max)', 'variant median (min–max)', 'variant / plain'];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
  for (const m of METRICS) {
    // Latency phases and connection counts are not variations of one plain run.
    if (m.scenario === 'fanout-latency' || m.scenario === 'connect') continue;
    for (const variant of variantsOf(records, m.scenario).filter((v) => v !== '')) {
      for (const t of targets) {
        const plain = valuesOf(records, t, m, '');
        const other = valuesOf(records, t, m, variant);
        if (plain.length === 0 || other.length === 0) continue;
        const ratio = median(plain) !== 0 ? `${(median(other) / median(plain)).toFixed(2)}×` : '';
        lines.push(`| ${scenarioLabel(m.scenario, variant)} | ${m.label} | ${t} | ${cell(plain)} | ${cell(other)} | ${ratio} |`);
      }
    }
  }
  return lines.length > 2 ? lines.join('\n') : '';
}

/** Multi-host: median (min–max) of each layout, and the ratio `layout` / `baseline` (medians). */
export function multiHostTable(records: readonly RunRecord[], layout: string, baseline: string): string {
  const rows = records.filter((r) => r.scenario === 'multi-host');
  if (rows.length === 0) return '';
  const head = ['metric', `${baseline} median (min–max)`, `${layout} median (min–max)`, `${layout} / ${baseline}`];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
  const of = (m: Metric, variant: string) => rows.filter((r) => r.variant === variant).map((r) => m.pick(r.result)).filter(Number.isFinite);
  for (const m of MULTI_HOST_METRICS) {
    const base = of(m, baseline);
    const other = of(m, layout);
    const ratio = m.ratio && base.length > 0 && other.length > 0 && median(base) !== 0 ? `${(median(other) / median(base)).toFixed(2)}×` : '';
    lines.push(`| ${m.label} | ${cell(base)} | ${cell(other)} | ${ratio} |`);
  }
  return lines.join('\n');
}

/**
 * Several sockudo-ts instances (a worker sweep, source trees, configuration variants): per scenario (and
 * variant), one row per instance with the scenario's main figures (those compared with peers, and server
 * cores), and the first figure's ratio to the first instance's. `labels` gives the instances' order.
 */
export function instancesTable(records: readonly RunRecord[], labels: readonly string[]): string {
  const ours = records.filter((r) => r.name === 'sockudo-ts');
  const instances = labels.filter((l) => ours.some((r) => r.target === l));
  if (instances.length < 2) return '';
  const short = (label: string) => label.replace(/^sockudo-ts \((.*)\)$/, '$1');
  const tables: string[] = [];
  for (const scenario of [...new Set(ours.map((r) => r.scenario))]) {
    const metrics = METRICS.filter((m) => m.scenario === scenario && (m.ratio || m.label.startsWith('server cores busy')));
    if (metrics.length === 0) continue;
    const head = ['scenario', 'sockudo-ts', ...metrics.map((m) => `${m.label} median (min–max)`), `${metrics[0].label}: / ${short(instances[0])}`];
    const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
    for (const variant of variantsOf(ours, scenario)) {
      const of = (m: Metric, label: string) =>
        ours.filter((r) => r.scenario === scenario && r.variant === variant && r.target === label).map((r) => m.pick(r.result)).filter(Number.isFinite);
      const first = median(of(metrics[0], instances[0]));
      for (const label of instances) {
        const headline = median(of(metrics[0], label));
        const ratio = Number.isFinite(first) && first !== 0 && Number.isFinite(headline) ? `${(headline / first).toFixed(2)}×` : '';
        lines.push(`| ${scenarioLabel(scenario, variant)} | ${short(label)} | ${metrics.map((m) => cell(of(m, label))).join(' | ')} | ${ratio} |`);
      }
    }
    tables.push(lines.join('\n'));
  }
  return tables.join('\n\n');
}

/** What a target was, for the caption: its label, description and package versions. */
export interface TargetInfo {
  label: string;
  description: string;
  threads: number | null;
  versions: Record<string, string>;
}

/** The uWS build(s) of the targets, e.g. "@trufflesuite/uws-js-unofficial@20.30.0-unofficial.0". */
export function uwsBuilds(targets: readonly TargetInfo[]): string {
  const builds = [...new Set(targets.map((t) => t.versions.uws).filter((v): v is string => v !== undefined))];
  return builds.length > 0 ? builds.join(', ') : 'unknown';
}

/** Markdown lines saying what the tables were measured on: machine, Node, uWS, each target's threads, the loader. */
export function settingsCaption(machine: MachineInfo, targets: readonly TargetInfo[], loader: string): string {
  const workers = targets.map((t) => `${t.label}: ${t.threads === null ? 'unknown' : t.threads}`).join(', ');
  return [
    `- **Machine:** ${machine.nproc} cores, ${machine.cpuModel}, ${machine.memoryGiB} GiB, Linux ${machine.kernel}, load ${machine.loadAverage} at the start`,
    `- **Node:** ${machine.node}; **uWS:** ${uwsBuilds(targets)}`,
    `- **Threads serving sockets (worker count):** ${workers}`,
    ...targets.map((t) => `- **${t.label}:** ${t.description}${Object.keys(t.versions).length > 0 ? ` (${Object.entries(t.versions).map(([k, v]) => `${k} ${v}`).join(', ')})` : ''}`),
    `- **Loader:** ${loader}`,
  ].join('\n');
}
