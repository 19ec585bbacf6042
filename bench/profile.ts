// Summarizes CPU profiles of the server: for each `.cpuprofile` (one per thread; `bench/run.ts --cpu-prof DIR`
// takes them during a benchmark), its busy time, the functions that took most of it as a markdown table, and a
// flame graph written next to it (`FILE.svg`). Threads with almost nothing sampled are named only.
//   node --import tsx bench/profile.ts DIR_OR_FILE... [--top 25]
import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';
import { type CpuProfile, type FunctionTime, type ProfileSummary, summarize } from './cpuProfile.ts';
import { flameGraphSvg } from './flameGraph.ts';

/** Under this much busy time a thread (a logger, an idle worker) gets one line, not a table. */
const QUIET_MS = 50;

const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '25' } } });
const top = Number(values.top);
if (positionals.length === 0 || !Number.isInteger(top) || top < 1) {
  console.error('usage: node --import tsx bench/profile.ts DIR_OR_FILE... [--top 25]');
  process.exit(2);
}

const files = positionals.flatMap((p) =>
  statSync(p).isDirectory()
    ? readdirSync(p)
        .filter((f) => f.endsWith('.cpuprofile'))
        .sort()
        .map((f) => join(p, f))
    : [p],
);
if (files.length === 0) {
  console.error(`no .cpuprofile files in ${positionals.join(', ')}`);
  process.exit(1);
}

for (const file of files) {
  const summary = summarize(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile);
  const busyMs = summary.busyUs / 1000;
  const heading = `${basename(file)} (${threadName(file)}, ${role(summary)}): busy ${busyMs.toFixed(0)} ms of ${(summary.wallUs / 1000).toFixed(0)} ms profiled`;
  if (busyMs < QUIET_MS) {
    console.log(`${heading}\n`);
    continue;
  }
  const svg = `${file}.svg`;
  writeFileSync(svg, flameGraphSvg(summary.tree, heading));
  console.log(`### ${heading}\n\nFlame graph: ${svg}\n`);
  console.log(table('self time (the function itself)', summary.functions.slice(0, top), summary.busyUs));
  const byTotal = [...summary.functions].sort((a, b) => b.totalUs - a.totalUs).slice(0, top);
  console.log(table('total time (with what it calls)', byTotal, summary.busyUs));
}

/** Node names profiles `CPU.<date>.<time>.<pid>.<thread id>.<n>.cpuprofile`; thread 0 is the main thread. */
function threadName(file: string): string {
  const parts = basename(file).split('.');
  const thread = parts.length >= 7 ? parts[4] : undefined;
  if (thread === undefined) return 'thread unknown';
  return thread === '0' ? `pid ${parts[3]}, main thread` : `pid ${parts[3]}, worker thread ${thread}`;
}

/** What the thread runs, told by whose code took most of its time (files appear as their last two path parts). */
function role(s: ProfileSummary): string {
  const roles: [string, string][] = [
    ['the primary', ' primary/'],
    ['a uWS worker', ' worker/'],
    ["tsx's module loader", ' node:internal/modules/esm/worker:'],
  ];
  let best = 'other';
  let bestUs = 0;
  for (const [name, marker] of roles) {
    for (const f of s.functions) {
      if (f.totalUs > bestUs && f.key.includes(marker)) {
        best = name;
        bestUs = f.totalUs;
      }
    }
  }
  return best;
}

function table(what: string, rows: FunctionTime[], busyUs: number): string {
  const pct = (us: number) => `${((100 * us) / busyUs).toFixed(1)} %`;
  const lines = rows.map((r) => `| ${pct(r.selfUs)} | ${pct(r.totalUs)} | \`${r.key.replaceAll('|', '\\|').replaceAll('`', "'")}\` |`);
  return [`Busiest by ${what}, shares of the busy time:\n`, '| self | total | function |', '|---|---|---|', ...lines, ''].join('\n');
}
