// Turns run results into medians and a markdown table with ratios against soketi.
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
];

export interface RunRecord {
  target: TargetName;
  scenario: string;
  result: Record<string, unknown>;
}

/** Median (min–max) per target, and the ratio of medians sockudo-ts / soketi where both ran. */
export function markdownTable(records: readonly RunRecord[], targets: readonly TargetName[]): string {
  const head = ['scenario', 'metric', ...targets.map((t) => `${t} median (min–max)`)];
  const withRatio = targets.includes('sockudo-ts') && targets.includes('soketi');
  if (withRatio) head.push('sockudo-ts / soketi');
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
  const scenarios = new Set(records.map((r) => r.scenario));
  for (const m of METRICS) {
    if (!scenarios.has(m.scenario)) continue;
    const medians = new Map<TargetName, number>();
    const cells = targets.map((t) => {
      const values = records.filter((r) => r.target === t && r.scenario === m.scenario).map((r) => m.pick(r.result)).filter(Number.isFinite);
      if (values.length === 0) return 'n/a';
      const med = median(values);
      medians.set(t, med);
      return `${fmt(med)} (${fmt(Math.min(...values))}–${fmt(Math.max(...values))})`;
    });
    const row = [m.scenario, m.label, ...cells];
    if (withRatio) {
      const ours = medians.get('sockudo-ts');
      const theirs = medians.get('soketi');
      row.push(m.ratio && ours !== undefined && theirs !== undefined && theirs !== 0 ? `${(ours / theirs).toFixed(2)}×` : '');
    }
    lines.push(`| ${row.join(' | ')} |`);
  }
  return lines.join('\n');
}
