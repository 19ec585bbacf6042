// The servers under test: how to start each one on loopback, how to know it is ready, how to stop it; and
// a server already running somewhere on loopback, given by URL, that the benchmark only measures.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { withRaisedFdLimit } from './fdLimit.ts';
import { loopbackHost } from './loopback.ts';
import { packageVersion } from './machine.ts';
import { type AppCredentials, BENCH_APP } from './signing.ts';
import { serverStartArgs } from './startCommand.ts';

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
  /** Names the log file when several instances of one target run (multi-host, a worker sweep); the name otherwise. */
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
    args: serverStartArgs(sockudoDir),
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

/** Where a target is reached and with which app: what every scenario needs to connect and publish. */
export interface Endpoint {
  /** `ws://host:port`, no path: subscribers connect to `${wsOrigin}/app/${app.key}`. */
  wsOrigin: string;
  /** `http://host:port` of the HTTP API (the same port for every server started here). */
  httpOrigin: string;
  app: AppCredentials;
}

/** The pids to read a target's CPU from: none when its process is unknown. */
export function serverPids(t: RunningTarget): number[] {
  return t.pid === null ? [] : [t.pid];
}

/** The endpoint of a server this benchmark started on 127.0.0.1:port with the bench app. */
export function localEndpoint(port: number): Endpoint {
  return { wsOrigin: `ws://127.0.0.1:${port}`, httpOrigin: `http://127.0.0.1:${port}`, app: BENCH_APP };
}

export interface RunningTarget {
  /** What tables and JSON lines call it: the target's name, with its worker count in a sweep. */
  label: string;
  name: TargetName | 'url';
  /** Threads serving sockets (sockudo-ts workers, bare threads, soketi 1); null when unknown (a URL target). */
  threads: number | null;
  /** The server process whose CPU and memory are read; null when unknown (a URL target without --target-pid). */
  pid: number | null;
  endpoint: Endpoint;
  description: string;
  versions: Record<string, string>;
  /** How it was started (absent for a URL target: the benchmark can neither restart nor stop it). */
  spec?: TargetSpec;
  logFile: string | null;
  stop(): Promise<void>;
}

/** Starts the server, waits until it answers HTTP on its port, and refuses a pure-JS uWS. */
export async function startTarget(spec: TargetSpec, logDir: string, label: string = spec.name): Promise<RunningTarget> {
  // uWS listens with SO_REUSEPORT: a second server on a busy port starts fine and silently takes half the
  // connections, so a leftover server would corrupt every figure. Refuse instead.
  if (await answersHttp(spec.port)) throw new Error(`something already answers on 127.0.0.1:${spec.port}; stop it first`);
  const logFile = join(logDir, `${spec.label ?? spec.name}.log`);
  const fd = openSync(logFile, 'a');
  // Idle-connection scenarios hold up to ~20k sockets in the server: give it the hard open-file limit.
  const { command, args } = withRaisedFdLimit(spec.command, spec.args);
  const child = spawn(command, args, {
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
  return {
    label,
    name: spec.name,
    threads: spec.threads,
    pid: child.pid as number,
    endpoint: localEndpoint(spec.port),
    description: spec.description,
    versions: spec.versions,
    spec,
    logFile,
    stop,
  };
}

export interface UrlTargetOptions {
  /** `ws://host:port` of a Pusher-compatible server already running on loopback. */
  wsUrl: string;
  /** Its HTTP API; the WebSocket port by default. */
  httpUrl?: string;
  app: AppCredentials;
  /** The server's process, if known: then its CPU (and memory, in the connect scenario) is read. */
  pid?: number;
}

/** The WebSocket and HTTP URLs of a URL target; throws unless both are plain ws:// and http:// on loopback. */
export function checkTargetUrls(wsUrl: string, httpUrl?: string): { ws: URL; http: URL } {
  const parse = (what: string, text: string) => {
    try {
      return new URL(text);
    } catch {
      throw new Error(`${what} is not a URL: ${text}`);
    }
  };
  const ws = parse('--target-url', wsUrl);
  if (ws.protocol !== 'ws:') throw new Error(`--target-url must be a ws:// URL (TLS is not measured), not ${wsUrl}`);
  if (ws.pathname !== '/' || ws.search) throw new Error('--target-url takes ws://host:port only; the benchmark adds /app/<key> itself');
  const http = parse('--http-url', httpUrl ?? `http://${ws.host}`);
  if (http.protocol !== 'http:') throw new Error(`--http-url must be an http:// URL, not ${httpUrl}`);
  loopbackHost(ws);
  loopbackHost(http);
  return { ws, http };
}

/** A server the benchmark did not start: checked to be on loopback and answering, never stopped. */
export async function urlTarget(o: UrlTargetOptions): Promise<RunningTarget> {
  const { ws, http } = checkTargetUrls(o.wsUrl, o.httpUrl);
  const port = (u: URL) => Number(u.port || 80);
  if (!(await answersHttp(port(http), loopbackHost(http)))) throw new Error(`nothing answers HTTP at ${http.origin}; start the server first`);
  if (o.pid !== undefined && !existsSync(`/proc/${o.pid}/stat`)) throw new Error(`--target-pid ${o.pid}: no such process`);
  return {
    label: `url ${ws.host}`,
    name: 'url',
    threads: null,
    pid: o.pid ?? null,
    endpoint: { wsOrigin: `ws://${ws.host}`, httpOrigin: http.origin, app: o.app },
    description: `a Pusher-compatible server at ${ws.origin} (HTTP ${http.origin}), app ${o.app.id}, ${o.pid === undefined ? 'process unknown' : `pid ${o.pid}`}`,
    versions: {},
    logFile: null,
    stop: () => Promise.resolve(),
  };
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

function answersHttp(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ host, port, path: '/', method: 'GET', timeout: 1000, agent: false }, (res) => {
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

