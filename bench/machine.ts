// What the numbers were measured on: cores, CPU model, Node, the uWS builds of each target.
// `node --import tsx bench/machine.ts` prints it, with the open-file limit and the repository's uWS build.
import { readFileSync } from 'node:fs';
import { availableParallelism, totalmem } from 'node:os';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ephemeralPorts, fdLimit } from './fdLimit.ts';

export interface MachineInfo {
  nproc: number;
  cpuModel: string;
  memoryGiB: number;
  node: string;
  kernel: string;
  loadAverage: string;
}

export function machineInfo(): MachineInfo {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? 'unknown';
  return {
    nproc: availableParallelism(),
    cpuModel: model.trim(),
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    kernel: readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim(),
    loadAverage: readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' '),
  };
}

/** "name@version" of a package as resolved from `fromDir` (a target's install), or "not installed". */
export function packageVersion(fromDir: string, name: string): string {
  try {
    const require = createRequire(`${fromDir}/`);
    const pkg = JSON.parse(readFileSync(require.resolve(`${name}/package.json`), 'utf8')) as { name: string; version: string };
    return `${pkg.name}@${pkg.version}`;
  } catch {
    return 'not installed';
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const repo = fileURLToPath(new URL('..', import.meta.url));
  const info = { ...machineInfo(), openFiles: fdLimit(), ephemeralPorts: ephemeralPorts(), uws: packageVersion(repo, 'uWebSockets.js') };
  process.stdout.write(`${JSON.stringify(info, null, 2)}\n`);
}
