// A redis-server of the benchmark's own for the multi-host scenario: on a free loopback port, no
// persistence, stopped with the session. Readiness is a PING answered with +PONG.
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { sleep } from './targets.ts';

export interface RunningRedis {
  pid: number;
  port: number;
  url: string;
  version: string;
  logFile: string;
  stop(): Promise<void>;
}

/** A port nothing listens on right now (the kernel's pick for an ephemeral bind). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(1000, () => done(false));
    s.once('error', () => done(false));
    s.once('connect', () => s.write('PING\r\n'));
    s.once('data', (d) => done(d.toString().startsWith('+PONG')));
  });
}

export async function startRedis(logDir: string): Promise<RunningRedis> {
  const port = await freePort();
  const logFile = join(logDir, `redis-${port}.log`);
  const fd = openSync(logFile, 'a');
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', fd, fd] });
  closeSync(fd);
  let alive = true;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  void exited.then(() => (alive = false));
  const kill = () => alive && child.kill('SIGTERM');
  process.on('exit', kill);
  const stop = async () => {
    if (!alive) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => alive && child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
    process.off('exit', kill);
  };
  const deadline = Date.now() + 10_000;
  while (!(await ping(port))) {
    if (!alive || Date.now() > deadline) {
      await stop();
      throw new Error(`redis-server did not answer on 127.0.0.1:${port}; see ${logFile}:\n${readFileSync(logFile, 'utf8').slice(-2000)}`);
    }
    await sleep(100);
  }
  const version = /version=([^,\s]+)/.exec(readFileSync(logFile, 'utf8'))?.[1] ?? 'unknown';
  return { pid: child.pid as number, port, url: `redis://127.0.0.1:${port}`, version: `redis-server ${version}`, logFile, stop };
}
