// The node arguments `npm start` runs a checkout's server with: its package.json `start` script without the
// leading `node`. Tests and benchmarks start hosts this way, so they run with whatever flags users run with,
// and a benchmark of an older snapshot runs with that snapshot's own.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Arguments for `process.execPath` that start the server in `dir` as `npm start` does there. */
export function serverStartArgs(dir: string): string[] {
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { scripts?: { start?: string } };
  const words = (pkg.scripts?.start ?? '').trim().split(/\s+/);
  if (words[0] !== 'node' || words.length < 2) throw new Error(`${dir}/package.json: the start script does not run node: ${pkg.scripts?.start}`);
  return words.slice(1);
}
