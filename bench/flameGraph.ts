// A flame graph of one thread's CPU profile (cpuProfile.ts) as an SVG file: each frame a box as wide as its
// share of the thread's busy time, its callees stacked on it, the entry points at the bottom. Hover a box for
// its function, file and time. Hand-written SVG text like chart.ts: it opens in any browser.
import { type FlameNode, frameName, isEngineFrame } from './cpuProfile.ts';

const WIDTH = 1200;
const ROW = 17;
const MARGIN = 10;
const TITLE = 40;
/** Narrower boxes are left out (their time still counts in their callers' width). */
const MIN_BOX = 0.5;
/** About the width of one 11px character: labels are cut to fit their box. */
const CHAR = 6.6;

export function flameGraphSvg(tree: FlameNode, title: string): string {
  const boxes: string[] = [];
  const inner = WIDTH - 2 * MARGIN;
  const scale = tree.totalUs > 0 ? inner / tree.totalUs : 0;
  let depth = 0;
  const place = (node: FlameNode, x: number, level: number) => {
    let cx = x;
    for (const child of [...node.children].sort((a, b) => a.key.localeCompare(b.key))) {
      const w = child.totalUs * scale;
      if (w >= MIN_BOX) {
        depth = Math.max(depth, level + 1);
        boxes.push(box(child, cx, level, w, tree.totalUs));
        place(child, cx, level + 1);
      }
      cx += w;
    }
  };
  place(tree, MARGIN, 0);
  const height = TITLE + (depth + 1) * ROW + MARGIN;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="monospace" font-size="11">`,
    `<rect width="100%" height="100%" fill="#fdfdf6"/>`,
    `<text x="${MARGIN}" y="22" font-size="14">${escape(title)}</text>`,
    // Rows count up from the bottom: level 0 (the entry points) on the last row.
    `<g transform="translate(0 ${height - MARGIN}) scale(1 -1)">`,
    ...boxes,
    '</g>',
    '</svg>',
    '',
  ].join('\n');
}

/** One frame's box and label; drawn in a flipped group, so its text is flipped back. */
function box(node: FlameNode, x: number, level: number, w: number, totalUs: number): string {
  const y = level * ROW;
  const share = ((100 * node.totalUs) / totalUs).toFixed(1);
  const tip = `${node.key}: ${(node.totalUs / 1000).toFixed(1)} ms, ${share} %`;
  const chars = Math.floor((w - 4) / CHAR);
  const name = frameName(node.key);
  const label = chars >= 3 ? (name.length <= chars ? name : `${name.slice(0, chars - 1)}…`) : '';
  const text = label ? `<text x="${(x + 2).toFixed(1)}" y="${-(y + 4)}" transform="scale(1 -1)">${escape(label)}</text>` : '';
  return `<g><title>${escape(tip)}</title><rect x="${x.toFixed(1)}" y="${y}" width="${w.toFixed(1)}" height="${ROW - 1}" fill="${color(node.key)}"/>${text}</g>`;
}

/** Warm colours for the server's own code, grey-blue for Node's, red for V8's own work (GC, compiled code). */
function color(key: string): string {
  const hash = [...key].reduce((h, c) => (h * 31 + c.charCodeAt(0)) >>> 0, 7);
  const vary = hash % 40;
  if (isEngineFrame(key)) return `rgb(${215 + (vary % 30)},${70 + vary},${60})`;
  if (key.includes(' node:') || key.includes('internal/')) return `rgb(${150 + vary},${170 + vary},${200})`;
  return `rgb(${230 + (vary % 25)},${120 + 2 * vary},${40 + vary})`;
}

function escape(s: string): string {
  return s.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;');
}
