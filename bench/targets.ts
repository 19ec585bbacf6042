// The servers under test: how to start each one on loopback, how to know it is ready, how to stop it.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { packageVersion } from './machine.ts';

export const TARGET_NAMES = ['sockudo-ts', 'soketi', 'bare'] as const;
export type TargetName = (typeof TARGET_NAMES)[number];

export interface TargetSpec {
  name: TargetName;
  port: number;
  /** Threads serving sockets (what "worker count" means for this server). */
  threads: number;
  description: string;
  command: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
  /** Package versions that identify the build measured. */
  versions: Record<string, string>;
  /** Names the log file when several instances of one target run (multi-host); the name otherwise. */
  label?: string;
}

/** Servers this process started and has not seen exit: killed if the benchmark itself dies. */
const started = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of started) child.kill('SIGTERM');
});

export const REPO_DIR = fileURLToPath(new URL('..', import.meta.url));

/** The only string the uWS package prints when its native binary did not load and it went pure-JS. */
const UWS_FALLBACK = 'Falling back to a NodeJS implementation';

/**
 * `sockudoDir` is the checkout to run (the repository by default; a `git archive` snapshot of a commit keeps
 * the measurement stable while the working tree changes).
 */
export function targetSpec(name: TargetName, peersDir: string, workers: number, sockudoDir = REPO_DIR): TargetSpec {
  const node = process.execPath;
  switch (name) {
    case 'sockudo-ts':
      return sockudoHostSpec(sockudoDir, 6201, 9201, workers);
    case 'soketi': {
      const dir = join(peersDir, 'soketi');
      return {
        name,
        port: 6101,
        threads: 1,
        description: 'soketi 1.6.1, single-threaded',
        command: node,
        args: [join(dir, 'node_modules/@soketi/soketi/bin/server.js'), 'start'],
        cwd: dir,
        env: {
          SOKETI_HOST: '127.0.0.1',
          SOKETI_PORT: '6101',
          SOKETI_METRICS_SERVER_PORT: '9101',
          SOKETI_DEFAULT_APP_ID: 'app-id',
          SOKETI_DEFAULT_APP_KEY: 'app-key',
          SOKETI_DEFAULT_APP_SECRET: 'app-secret',
        },
        versions: {
          soketi: packageVersion(dir, '@soketi/soketi'),
          uws: packageVersion(join(dir, 'node_modules/@soketi/soketi'), 'uWebSockets.js'),
        },
      };
    }
    case 'bare': {
      const dir = join(peersDir, 'bare');
      return {
        name,
        port: 6102,
        threads: workers,
        description: `bare uWS broadcast server, ${workers} threads`,
        command: node,
        args: [join(dir, 'bare-uws.mjs'), '--port', '6102', '--threads', String(workers)],
        cwd: dir,
        env: {},
        versions: { uws: packageVersion(dir, 'uWebSockets.js') },
      };
    }
  }
}

/**
 * One sockudo-ts process (a host): `workers` uWS worker threads + the primary, development mode. With
 * `redis`, it joins the hosts sharing that Redis (publishes accepted anywhere reach subscribers everywhere).
 */
export function sockudoHostSpec(sockudoDir: string, port: number, metricsPort: number, workers: number, redis?: { url: string; prefix: string }): TargetSpec {
  return {
    name: 'sockudo-ts',
    label: redis ? `sockudo-ts-host-${port}` : undefined,
    port,
    threads: workers,
    description: `sockudo-ts, ${workers} uWS worker thread${workers === 1 ? '' : 's'} + primary${redis ? `, sharing ${redis.url}` : ''}`,
    command: process.execPath,
    args: ['--import', 'tsx', 'src/main.ts'],
    cwd: sockudoDir,
    env: {
      SOCKUDO_PORT: String(port),
      SOCKUDO_METRICS_PORT: String(metricsPort),
      SOCKUDO_WORKERS: String(workers),
      SOCKUDO_LOG_LEVEL: 'warn',
      ...(redis ? { SOCKUDO_REDIS_URL: redis.url, SOCKUDO_REDIS_PREFIX: redis.prefix } : {}),
    },
    versions: { uws: packageVersion(sockudoDir, 'uWebSockets.js'), source: sourceRevision(sockudoDir) },
  };
}

export interface RunningTarget {
  spec: TargetSpec;
  pid: number;
  logFile: string;
  stop(): Promise<void>;
}

/** Starts the server, waits until it answers HTTP on its port, and refuses a pure-JS uWS. */
export async function startTarget(spec: TargetSpec, logDir: string): Promise<RunningTarget> {
  // uWS listens with SO_REUSEPORT: a second server on a busy port starts fine and silently takes half the
  // connections, so a leftover server would corrupt every figure. Refuse instead.
  if (await answersHttp(spec.port)) throw new Error(`something already answers on 127.0.0.1:${spec.port}; stop it first`);
  const logFile = join(logDir, `${spec.label ?? spec.name}.log`);
  const fd = openSync(logFile, 'a');
  const child = spawn(spec.command, spec.args, {
    cwd: spec.cwd,
    env: { ...process.env, ...spec.env },
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  started.add(child);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let alive = true;
  void exited.then(() => {
    alive = false;
    started.delete(child);
  });

  const stop = async () => {
    if (!alive) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => alive && child.kill('SIGKILL'), 20_000);
    await exited;
    clearTimeout(timer);
  };

  const deadline = Date.now() + 30_000;
  while (!(await answersHttp(spec.port))) {
    if (!alive) throw new Error(`${spec.name} exited during start-up; see ${logFile}:\n${tail(logFile)}`);
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`${spec.name} did not answer on 127.0.0.1:${spec.port} within 30 s; see ${logFile}`);
    }
    await sleep(200);
  }
  await sleep(300); // let the other threads of a multi-threaded server finish binding the port
  if (readFileSync(logFile, 'utf8').includes(UWS_FALLBACK)) {
    await stop();
    throw new Error(`${spec.name} loaded the pure-JS uWS fallback, its numbers would mean nothing; see ${logFile}`);
  }
  return { spec, pid: child.pid as number, logFile, stop };
}

/** The commit a checkout is at, "+dirty" if it has local changes; for a snapshot, what its REVISION file says. */
function sourceRevision(dir: string): string {
  try {
    const rev = execFileSync('git', ['-C', dir, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const dirty = execFileSync('git', ['-C', dir, 'status', '--porcelain', '--', 'src', 'workers'], { encoding: 'utf8' }).trim();
    return dirty ? `${rev}+dirty` : rev;
  } catch {
    try {
      return `snapshot ${readFileSync(join(dir, 'REVISION'), 'utf8').trim()}`;
    } catch {
      return 'unknown';
    }
  }
}

function answersHttp(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/', method: 'GET', timeout: 1000, agent: false }, (res) => {
      res.resume();
      resolve(true);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

function tail(file: string): string {
  return readFileSync(file, 'utf8').split('\n').slice(-20).join('\n');
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

