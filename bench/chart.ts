// The chart of a benchmark session, written next to its markdown table: one small bar panel per figure
// (each with its own scale, since the units differ), the targets side by side: each scenario's throughput,
// the memory per idle connection, and latency p50/p99 where measured. Bars are medians, whiskers min–max.
// Hand-written SVG text: no dependency, and the file diffs and renders anywhere (GitHub shows it inline).
import { type RunRecord, fmt, median, variantLabel } from './report.ts';

export interface Bar {
  /** Under the bar when a group holds several (p50, p99); empty for one bar per group. */
  label: string;
  values: number[];
  color: string;
}

export interface Group {
  label: string;
  bars: Bar[];
}

export interface Panel {
  title: string;
  groups: Group[];
  /** A horizontal line to read the bars against (a target figure). */
  reference?: { value: number; label: string };
}

/** What each scenario's throughput panel shows (the figure compared first in the tables). */
const THROUGHPUT: Record<string, { title: string; pick: (r: Record<string, unknown>) => number }> = {
  fanout: { title: 'fan-out: deliveries/s at saturation', pick: (r) => r.deliveriesPerSec as number },
  'fanout-steady': { title: 'fan-out at a fixed rate: deliveries/s', pick: (r) => r.deliveriesPerSec as number },
  v2: { title: 'V2 fan-out: deliveries/s at saturation', pick: (r) => r.deliveriesPerSec as number },
  http: { title: 'HTTP: signed publishes/s', pick: (r) => r.publishesPerSec as number },
  'many-channels': { title: 'many channels: deliveries/s', pick: (r) => r.deliveriesPerSec as number },
  'churn-private': { title: 'private subscribe+unsubscribe pairs/s', pick: (r) => r.pairsPerSec as number },
  'churn-presence': { title: 'presence subscribe+unsubscribe pairs/s', pick: (r) => r.pairsPerSec as number },
  'churn-presence-rooms': { title: 'presence pairs/s, members sharing rooms', pick: (r) => r.pairsPerSec as number },
  connect: { title: 'connections established/s', pick: (r) => r.acceptPerSec as number },
  'multi-host': { title: 'multi-host: publishes/s', pick: (r) => r.publishesPerSec as number },
};

/** The idle-connection memory target of issue #8, drawn on the memory panels. */
const MEMORY_TARGET_KIB = 2;

const PEER_COLORS: Record<string, string> = { soketi: '#e8903a', bare: '#8c8c8c', url: '#4f9d69' };
const OURS = ['#2f6db5', '#5b93d6', '#1d4a80', '#8db7ea'];
const P50 = '#7fa7d9';
const P99 = '#1d4a80';

/** A colour per target label: sockudo-ts in blues (one shade per worker count), each peer its own. */
function colorOf(label: string, labels: readonly string[]): string {
  const name = label.split(' ')[0];
  if (name === 'sockudo-ts') return OURS[labels.filter((l) => l.startsWith('sockudo-ts')).indexOf(label) % OURS.length];
  return PEER_COLORS[name] ?? '#6a5acd';
}

/** The panels of a session: throughput per scenario and variant, memory per idle connection, latency. */
export function chartPanels(records: readonly RunRecord[], targets: readonly string[]): Panel[] {
  const panels: Panel[] = [];
  const scenarios = [...new Set(records.map((r) => r.scenario))];
  const values = (rs: readonly RunRecord[], pick: (r: Record<string, unknown>) => number) => rs.map((r) => pick(r.result)).filter(Number.isFinite);
  for (const scenario of scenarios) {
    const own = records.filter((r) => r.scenario === scenario);
    const variants = [...new Set(own.map((r) => r.variant))];
    if (scenario === 'multi-host') {
      // One target, two layouts: the layouts are the groups.
      const groups = (pick: (r: Record<string, unknown>) => number) =>
        variants.map((v, i) => ({ label: v, bars: [{ label: '', values: values(own.filter((r) => r.variant === v), pick), color: OURS[i % OURS.length] }] }));
      panels.push({ title: THROUGHPUT[scenario].title, groups: groups(THROUGHPUT[scenario].pick) });
      panels.push({ title: 'multi-host: publish→receive ms, p50 / p99', groups: latencyGroups(variants.map((v) => ({ label: v, rs: own.filter((r) => r.variant === v) }))) });
      continue;
    }
    for (const variant of variants) {
      const rs = own.filter((r) => r.variant === variant);
      const label = variantLabel(scenario, variant);
      const suffix = label ? ` (${label})` : '';
      const perTarget = (pick: (r: Record<string, unknown>) => number) =>
        targets
          .map((t) => ({ label: t, bars: [{ label: '', values: values(rs.filter((r) => r.target === t), pick), color: colorOf(t, targets) }] }))
          .filter((g) => g.bars[0].values.length > 0);
      if (scenario === 'fanout-latency') {
        panels.push({ title: `latency ms, p50 / p99${suffix}`, groups: latencyGroups(targets.map((t) => ({ label: t, rs: rs.filter((r) => r.target === t) }))) });
        continue;
      }
      const throughput = THROUGHPUT[scenario];
      if (throughput) panels.push({ title: `${throughput.title}${suffix}`, groups: perTarget(throughput.pick) });
      if (scenario === 'connect') {
        panels.push({
          title: `KiB per idle connection (marginal RSS)${suffix}`,
          groups: perTarget((r) => (r.bytesPerConnection as number) / 1024),
          reference: { value: MEMORY_TARGET_KIB, label: `target ≤ ${MEMORY_TARGET_KIB} KiB` },
        });
      }
    }
  }
  return panels.filter((p) => p.groups.some((g) => g.bars.some((b) => b.values.length > 0)));
}

/** One group per target (or layout): its p50 and p99 bars. */
function latencyGroups(groups: readonly { label: string; rs: readonly RunRecord[] }[]): Group[] {
  return groups
    .map((g) => ({
      label: g.label,
      bars: [
        { label: 'p50', values: g.rs.map((r) => r.result.p50Ms as number).filter(Number.isFinite), color: P50 },
        { label: 'p99', values: g.rs.map((r) => r.result.p99Ms as number).filter(Number.isFinite), color: P99 },
      ],
    }))
    .filter((g) => g.bars.some((b) => b.values.length > 0));
}

const WIDTH = 1000;
const PANEL_W = 480;
const PANEL_H = 250;
const GAP = 20;
const PLOT = { left: 56, right: 12, top: 34, bottom: 46 };

function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** A round step for about four gridlines up to `max` (1, 2 or 5 × a power of ten). */
function niceStep(max: number): number {
  const raw = max / 4;
  const power = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw) ?? raw;
}

/** A group label in at most two lines that fit `width` px (about 5.5 px per character at 10 px), broken before "(" or at a space. */
function labelLines(label: string, width: number): string[] {
  const fits = Math.max(6, Math.floor((width - 6) / 5.5));
  if (label.length <= fits) return [label];
  const paren = label.indexOf(' (');
  const at = paren > 0 && paren <= fits ? paren : label.lastIndexOf(' ', fits);
  const [first, rest] = at > 0 ? [label.slice(0, at), label.slice(at + 1)] : [label.slice(0, fits), label.slice(fits)];
  return [first, rest.length > fits ? `${rest.slice(0, fits - 1)}…` : rest];
}

function panelSvg(p: Panel, x0: number, y0: number): string {
  const out: string[] = [];
  const w = PANEL_W - PLOT.left - PLOT.right;
  const h = PANEL_H - PLOT.top - PLOT.bottom;
  const px = x0 + PLOT.left;
  const py = y0 + PLOT.top;
  const all = p.groups.flatMap((g) => g.bars.flatMap((b) => b.values));
  const top = Math.max(...all, p.reference?.value ?? 0) * 1.15 || 1;
  const step = niceStep(top);
  const y = (v: number) => py + h - (Math.min(v, top) / top) * h;
  out.push(`<rect x="${x0}" y="${y0}" width="${PANEL_W}" height="${PANEL_H}" fill="#fff" stroke="#ddd"/>`);
  out.push(`<text x="${x0 + 10}" y="${y0 + 20}" font-size="13" font-weight="bold">${esc(p.title)}</text>`);
  for (let v = 0; v <= top; v += step) {
    out.push(`<line x1="${px}" x2="${px + w}" y1="${y(v)}" y2="${y(v)}" stroke="#eee"/>`);
    const tick = fmt(v).replace(/\.0+(?=[kM]?$)/, ''); // "4.00k" → "4k"
    out.push(`<text x="${px - 6}" y="${y(v) + 4}" font-size="10" text-anchor="end" fill="#666">${esc(tick)}</text>`);
  }
  const slot = w / Math.max(1, p.groups.length);
  p.groups.forEach((g, gi) => {
    const barW = Math.min(60, (slot * 0.7) / g.bars.length);
    const start = px + gi * slot + (slot - barW * g.bars.length) / 2;
    g.bars.forEach((b, bi) => {
      if (b.values.length === 0) return;
      const m = median(b.values);
      const bx = start + bi * barW;
      out.push(`<rect x="${bx + 1}" y="${y(m)}" width="${barW - 2}" height="${py + h - y(m)}" fill="${b.color}"><title>${esc(`${g.label} ${b.label}: ${fmt(m)} (${fmt(Math.min(...b.values))}–${fmt(Math.max(...b.values))}, ${b.values.length} runs)`)}</title></rect>`);
      if (b.values.length > 1) {
        const cx = bx + barW / 2;
        const lo = y(Math.min(...b.values));
        const hi = y(Math.max(...b.values));
        out.push(`<line x1="${cx}" x2="${cx}" y1="${lo}" y2="${hi}" stroke="#333"/>`);
        out.push(`<line x1="${cx - 4}" x2="${cx + 4}" y1="${lo}" y2="${lo}" stroke="#333"/><line x1="${cx - 4}" x2="${cx + 4}" y1="${hi}" y2="${hi}" stroke="#333"/>`);
      }
      out.push(`<text x="${bx + barW / 2}" y="${Math.min(y(Math.max(...b.values)), y(m)) - 4}" font-size="10" text-anchor="middle">${esc(fmt(m))}</text>`);
      if (b.label) out.push(`<text x="${bx + barW / 2}" y="${py + h + 12}" font-size="9" text-anchor="middle" fill="#444">${esc(b.label)}</text>`);
    });
    const labelY = py + h + (g.bars.some((b) => b.label) ? 26 : 16);
    const cx = px + gi * slot + slot / 2;
    const lines = labelLines(g.label, slot);
    const spans = lines.map((l, i) => `<tspan x="${cx}" dy="${i === 0 ? 0 : 12}">${esc(l)}</tspan>`).join('');
    out.push(`<text x="${cx}" y="${labelY}" font-size="10" text-anchor="middle">${spans}</text>`);
  });
  if (p.reference) {
    const ry = y(p.reference.value);
    out.push(`<line x1="${px}" x2="${px + w}" y1="${ry}" y2="${ry}" stroke="#c0392b" stroke-dasharray="5,4"/>`);
    out.push(`<text x="${px + w}" y="${ry - 4}" font-size="10" text-anchor="end" fill="#c0392b">${esc(p.reference.label)}</text>`);
  }
  out.push(`<line x1="${px}" x2="${px + w}" y1="${py + h}" y2="${py + h}" stroke="#999"/>`);
  return out.join('\n');
}

/** The whole chart: title, caption lines (machine, Node, uWS, workers), then the panels two per row. */
export function chartSvg(title: string, caption: readonly string[], panels: readonly Panel[]): string {
  const head = 30 + caption.length * 15 + 10;
  const rows = Math.ceil(panels.length / 2);
  const height = head + rows * (PANEL_H + GAP) + 10;
  const body = panels.map((p, i) => panelSvg(p, GAP + (i % 2) * (PANEL_W + GAP), head + Math.floor(i / 2) * (PANEL_H + GAP)));
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH + GAP}" height="${height}" font-family="Helvetica, Arial, sans-serif">`,
    `<rect width="100%" height="100%" fill="#fafafa"/>`,
    `<text x="${GAP}" y="24" font-size="16" font-weight="bold">${esc(title)}</text>`,
    ...caption.map((line, i) => `<text x="${GAP}" y="${44 + i * 15}" font-size="11" fill="#333">${esc(line)}</text>`),
    ...body,
    panels.length === 0 ? `<text x="${GAP}" y="${head + 20}" font-size="12">no figures recorded</text>` : '',
    '</svg>',
    '',
  ].join('\n');
}
