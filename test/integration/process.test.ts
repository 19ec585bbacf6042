// The server as a process: `npm start`'s command line, configuration errors that stop start-up, and the
// SIGTERM shutdown protocol (readiness 503 at once, no new sockets, 4200 closes, clean exit).
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { request } from 'node:http';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { RawClient } from '../helpers/clients.ts';
import { eventually } from '../helpers/server.ts';
import { serverStartArgs } from '../../bench/startCommand.ts';

const ROOT = new URL('../../', import.meta.url).pathname;

interface Run {
  child: ChildProcess;
  stdout: string[];
  stderr: string[];
  exit: Promise<number | null>;
}

function startProcess(env: Record<string, string>, args: string[] = [], cwd = ROOT): Run {
  // From another directory, `npm start`'s arguments with the entry point and the tsx loader made absolute.
  const startArgs = cwd === ROOT ? serverStartArgs(ROOT) : serverStartArgs(ROOT).map((a) => (a === 'tsx' ? import.meta.resolve('tsx') : a.endsWith('.ts') ? join(ROOT, a) : a));
  const child = spawn(process.execPath, [...startArgs, ...args], {
    cwd,
    env: { PATH: process.env.PATH, SOCKUDO_LOG_PRETTY: 'false', SOCKUDO_PORT: '0', SOCKUDO_METRICS_PORT: '0', SOCKUDO_WORKERS: '2', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const run: Run = { child, stdout: [], stderr: [], exit: new Promise((resolve) => child.on('exit', (code) => resolve(code))) };
  child.stdout?.on('data', (d: Buffer) => run.stdout.push(d.toString()));
  child.stderr?.on('data', (d: Buffer) => run.stderr.push(d.toString()));
  return run;
}

async function listeningPort(run: Run): Promise<number> {
  const line = await eventually(
    () => run.stdout.join('').split('\n').find((l) => l.includes('sockudo-ts listening')),
    'the listening log line',
    15000,
  );
  return (JSON.parse(line) as { port: number }).port;
}

/** Status of a WebSocket upgrade request: 101 when accepted. */
function upgradeStatus(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({
      host: '127.0.0.1',
      port,
      path: '/app/app-key?protocol=7',
      headers: { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==' },
    });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve(res.statusCode ?? 0);
    });
    req.on('response', (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('start-up', () => {
  const refuses = async (env: Record<string, string>, pattern: RegExp, args: string[] = []) => {
    const run = startProcess(env, args);
    const code = await run.exit;
    assert.equal(code, 1);
    assert.match(run.stderr.join(''), pattern);
  };

  test('an invalid environment value stops start-up, naming the variable', () =>
    refuses({ SOCKUDO_PORT: 'abc' }, /SOCKUDO_PORT: expected an integer/));

  test('an out-of-range value names the key', () => refuses({ SOCKUDO_ACTIVITY_TIMEOUT: '0' }, /activity_timeout \(from SOCKUDO_ACTIVITY_TIMEOUT\)/));

  test('production mode refuses the well-known development secret', () =>
    refuses({ SOCKUDO_MODE: 'production' }, /development secret/));

  test('a broken config file stops start-up', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sockudo-cfg-'));
    const file = join(dir, 'bad.json');
    writeFileSync(file, JSON.stringify({ port: 6001, activty_timeout: 5 }));
    return refuses({}, /unrecognized key.*activty_timeout/i, ['--config', file]);
  });

  test('npm start and the Docker image run node with the same arguments', () => {
    const args = serverStartArgs(ROOT);
    assert.ok(args.includes('src/main.ts'));
    const cmd = readFileSync(join(ROOT, 'Dockerfile'), 'utf8').match(/^CMD (\[.*\])$/m);
    assert.ok(cmd, 'the Dockerfile has an exec-form CMD');
    assert.deepEqual(JSON.parse(cmd[1]), ['node', ...args]);
  });

  // Sockudo's load order (SOCKUDO-REFERENCE.md §0): config/config.toml if present, else config/config.json, when no
  // --config is given; its compose mounts its config directory at /app/config, our image's working directory.
  test('./config/config.json in the working directory is loaded when no --config is given, and the log says so', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'sockudo-cwd-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    mkdirSync(join(dir, 'config'));
    writeFileSync(
      join(dir, 'config', 'config.json'),
      JSON.stringify({ app_manager: { driver: 'memory', array: { apps: [{ id: 'mig-app', key: 'mig-key', secret: 'mig-secret' }] } }, cors: {} }),
    );
    const run = startProcess({ SOCKUDO_WORKERS: '1', SOCKUDO_PUSH_SQLITE_PATH: join(dir, 'push.sqlite') }, [], dir);
    t.after(async () => {
      if (run.child.exitCode === null) {
        run.child.kill('SIGTERM');
        await run.exit;
      }
    });
    const port = await listeningPort(run);
    const up = async (appId: string) => (await fetch(`http://127.0.0.1:${port}/up/${appId}`)).status;
    assert.equal(await up('mig-app'), 200, "the file's app is served");
    assert.equal(await up('app-id'), 404, 'the development app is not');
    const lines = run.stdout.join('').split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { msg: string; file?: string });
    assert.ok(lines.some((l) => l.msg === 'configuration file loaded' && l.file === join(dir, 'config', 'config.json')), 'the log names the file');
    assert.ok(lines.some((l) => l.msg.startsWith('configuration: cors: ')), 'an ignored Sockudo section is warned about');
  });

  test('the documented example config file is valid', async () => {
    const run = startProcess({}, ['--config', 'config/example.json']);
    const port = await listeningPort(run);
    assert.ok(port > 0);
    run.child.kill('SIGTERM');
    assert.equal(await run.exit, 0);
  });
});

describe('SIGTERM', () => {
  test('flips readiness, refuses new sockets, closes sockets with 4200 and exits cleanly', async () => {
    const run = startProcess({ SOCKUDO_SHUTDOWN_GRACE_PERIOD: '4' });
    const port = await listeningPort(run);
    const clients = await Promise.all([1, 2, 3].map(() => RawClient.open(port)));
    assert.equal((await fetch(`http://127.0.0.1:${port}/ready`)).status, 200);
    assert.equal(await upgradeStatus(port), 101);

    const signalledAt = Date.now();
    run.child.kill('SIGTERM');
    await eventually(async () => (await fetch(`http://127.0.0.1:${port}/ready`)).status === 503, 'readiness 503', 1000);
    assert.ok(Date.now() - signalledAt < 1000, 'readiness flips within a second');

    // While draining: no new WebSocket connections, and the API still answers.
    assert.equal(await upgradeStatus(port), 503);
    const publish = await fetch(`http://127.0.0.1:${port}/apps/app-id/events`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ name: 'late', channel: 'c', data: '1' }),
    });
    assert.equal(publish.status, 200);

    const codes = await Promise.all(clients.map((c) => c.closed(5000)));
    assert.deepEqual(codes, [4200, 4200, 4200]);
    for (const c of clients) assert.equal((c.frames.at(-1)?.data as { code: number }).code, 4200);
    assert.equal(await run.exit, 0);
    assert.ok(Date.now() - signalledAt < 4000, 'exits before the grace period ends');
  });
});

describe('ports in use', () => {
  test('a second server on a taken port refuses to start (exit 1), instead of sharing it', async () => {
    const first = startProcess({});
    const port = await listeningPort(first);
    const second = startProcess({ SOCKUDO_PORT: String(port) });
    assert.equal(await second.exit, 1);
    assert.match(second.stderr.join(''), new RegExp(`cannot listen on 127.0.0.1:${port}`));
    first.child.kill('SIGTERM');
    assert.equal(await first.exit, 0);
  });

  test('a taken metrics port stops start-up cleanly with exit 1', async () => {
    const first = startProcess({ SOCKUDO_METRICS_PORT: '0' });
    await listeningPort(first);
    const line = first.stdout.join('').split('\n').find((l) => l.includes('sockudo-ts listening')) as string;
    const metricsPort = (JSON.parse(line) as { metricsPort: number }).metricsPort;
    const second = startProcess({ SOCKUDO_METRICS_PORT: String(metricsPort) });
    assert.equal(await second.exit, 1);
    assert.match(second.stderr.join(''), /EADDRINUSE/);
    first.child.kill('SIGTERM');
    assert.equal(await first.exit, 0);
  });
});
