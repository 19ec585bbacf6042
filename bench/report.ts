// Turns run results into medians and markdown tables: ratios against soketi and bare uWS, and for scenario
// variants (fan-out with a share of V2 subscribers) the ratio to the plain scenario.
import type { TargetName } from './targets.ts';

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

export const METRICS: Metric[] = [
  { scenario: 'fanout', label: 'deliveries/s at saturation', pick: (r) => r.deliveriesPerSec as number, ratio: true },
  { scenario: 'fanout', label: 'publishes/s accepted during fan-out', pick: (r) => r.publishesPerSec as number, ratio: true },
  { scenario: 'fanout', label: 'server CPU µs per delivery', pick: (r) => r.serverCpuUsPerDelivery as number, ratio: true },
  { scenario: 'fanout', label: 'server cores busy', pick: (r) => r.serverCores as number, ratio: false },
  { scenario: 'fanout', label: 'server CPU share in kernel', pick: (r) => r.serverKernelShare as number, ratio: false },
  { scenario: 'fanout', label: 'loader cores busy', pick: (r) => r.loaderCores as number, ratio: false },
  { scenario: 'fanout', label: 'other cores busy (not server, not loader)', pick: (r) => r.otherCores as number, ratio: false },
  { scenario: 'fanout-steady', label: 'deliveries/s (fixed publish rate)', pick: (r) => r.deliveriesPerSec as number, ratio: false },
  { scenario: 'fanout-steady', label: 'server CPU µs per delivery', pick: (r) => r.serverCpuUsPerDelivery as number, ratio: true },
  { scenario: 'fanout-steady', label: 'server cores busy', pick: (r) => r.serverCores as number, ratio: false },
  { scenario: 'fanout-steady', label: 'server CPU share in kernel', pick: (r) => r.serverKernelShare as number, ratio: false },
  { scenario: 'fanout-steady', label: 'loader cores busy', pick: (r) => r.loaderCores as number, ratio: false },
  { scenario: 'fanout-steady', label: 'other cores busy (not server, not loader)', pick: (r) => r.otherCores as number, ratio: false },
  { scenario: 'http', label: 'signed publishes/s (empty channel)', pick: (r) => r.publishesPerSec as number, ratio: true },
  { scenario: 'http', label: 'server CPU µs per publish', pick: (r) => r.serverCpuUsPerPublish as number, ratio: true },
  { scenario: 'http', label: 'server cores busy', pick: (r) => r.serverCores as number, ratio: false },
  { scenario: 'http', label: 'server CPU share in kernel', pick: (r) => r.serverKernelShare as number, ratio: false },
  { scenario: 'http', label: 'loader cores busy', pick: (r) => r.loaderCores as number, ratio: false },
  { scenario: 'http', label: 'other cores busy (not server, not loader)', pick: (r) => r.otherCores as number, ratio: false },
  { scenario: 'many-channels', label: 'deliveries/s at saturation', pick: (r) => r.deliveriesPerSec as number, ratio: true },
  { scenario: 'many-channels', label: 'batch publishes/s accepted', pick: (r) => r.publishesPerSec as number, ratio: true },
  { scenario: 'many-channels', label: 'server CPU µs per delivery', pick: (r) => r.serverCpuUsPerDelivery as number, ratio: true },
  { scenario: 'many-channels', label: 'server CPU µs per batch request', pick: (r) => r.serverCpuUsPerBatch as number, ratio: true },
  { scenario: 'many-channels', label: 'server cores busy', pick: (r) => r.serverCores as number, ratio: false },
  { scenario: 'many-channels', label: 'server CPU share in kernel', pick: (r) => r.serverKernelShare as number, ratio: false },
  { scenario: 'many-channels', label: 'loader cores busy', pick: (r) => r.loaderCores as number, ratio: false },
  { scenario: 'many-channels', label: 'other cores busy (not server, not loader)', pick: (r) => r.otherCores as number, ratio: false },
  ...(['churn-private', 'churn-presence'] as const).flatMap((scenario): Metric[] => [
    { scenario, label: 'subscribe+unsubscribe pairs/s', pick: (r) => r.pairsPerSec as number, ratio: true },
    { scenario, label: 'server CPU µs per pair', pick: (r) => r.serverCpuUsPerPair as number, ratio: true },
    { scenario, label: 'subscribe errors in window', pick: (r) => r.errors as number, ratio: false },
    { scenario, label: 'server cores busy', pick: (r) => r.serverCores as number, ratio: false },
    { scenario, label: 'server CPU share in kernel', pick: (r) => r.serverKernelShare as number, ratio: false },
    { scenario, label: 'loader cores busy', pick: (r) => r.loaderCores as number, ratio: false },
    { scenario, label: 'other cores busy (not server, not loader)', pick: (r) => r.otherCores as number, ratio: false },
  ]),
];

export interface RunRecord {
  target: TargetName;
  scenario: string;
  /** '' for the scenario as is; otherwise a label such as "50 % V2" (same metrics, compared with ''). */
  variant: string;
  result: Record<string, unknown>;
}

function valuesOf(records: readonly RunRecord[], t: TargetName, m: Metric, variant: string): number[] {
  return records.filter((r) => r.target === t && r.scenario === m.scenario && r.variant === variant).map((r) => m.pick(r.result)).filter(Number.isFinite);
}

function cell(values: readonly number[]): string {
  return values.length === 0 ? 'n/a' : `${fmt(median(values))} (${fmt(Math.min(...values))}–${fmt(Math.max(...values))})`;
}

/** Median (min–max) per target, and the ratios of medians sockudo-ts / soketi and sockudo-ts / bare where both ran. */
export function markdownTable(records: readonly RunRecord[], targets: readonly TargetName[]): string {
  const head = ['scenario', 'metric', ...targets.map((t) => `${t} median (min–max)`)];
  const against = (['soketi', 'bare'] as const).filter((t) => targets.includes('sockudo-ts') && targets.includes(t));
  for (const t of against) head.push(`sockudo-ts / ${t}`);
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
  for (const m of METRICS) {
    const variants = [...new Set(records.filter((r) => r.scenario === m.scenario).map((r) => r.variant))].sort();
    for (const variant of variants) {
      const medians = new Map<TargetName, number>();
      const cells = targets.map((t) => {
        const values = valuesOf(records, t, m, variant);
        if (values.length > 0) medians.set(t, median(values));
        return cell(values);
      });
      const row = [variant ? `${m.scenario} (${variant})` : m.scenario, m.label, ...cells];
      for (const t of against) {
        const ours = medians.get('sockudo-ts');
        const theirs = medians.get(t);
        row.push(m.ratio && ours !== undefined && theirs !== undefined && theirs !== 0 ? `${(ours / theirs).toFixed(2)}×` : '');
      }
      lines.push(`| ${row.join(' | ')} |`);
    }
  }
  return lines.join('\n');
}

/** Each variant against its plain scenario, per target that ran both: medians and the ratio variant / plain. */
export function variantTable(records: readonly RunRecord[], targets: readonly TargetName[]): string {
  const head = ['scenario', 'metric', 'target', 'plain median (min–max)', 'variant median (min–max)', 'variant / plain'];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
  for (const m of METRICS) {
    const variants = [...new Set(records.filter((r) => r.scenario === m.scenario && r.variant !== '').map((r) => r.variant))].sort();
    for (const variant of variants) {
      for (const t of targets) {
        const plain = valuesOf(records, t, m, '');
        const other = valuesOf(records, t, m, variant);
        if (plain.length === 0 || other.length === 0) continue;
        const ratio = median(plain) !== 0 ? `${(median(other) / median(plain)).toFixed(2)}×` : '';
        lines.push(`| ${m.scenario} (${variant}) | ${m.label} | ${t} | ${cell(plain)} | ${cell(other)} | ${ratio} |`);
      }
    }
  }
  return lines.length > 2 ? lines.join('\n') : '';
}
