// A throwaway PostgreSQL cluster (Debian's server binaries) for the push-store tests: initdb into a fresh temp
// dir, a free port on 127.0.0.1 only, fsync off, its unix socket inside the dir. `stop()` kills it and removes
// the dir. PostgreSQL refuses to run as root, so under root the server runs as the `postgres` system user.
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from './ports.ts';

export interface PostgresProcess {
  /** `postgres://postgres@127.0.0.1:<port>/postgres`, trust authentication. */
  url: string;
  port: number;
  stop(): Promise<void>;
}

/** The newest /usr/lib/postgresql/<version>/bin holding initdb, else whatever PATH finds. */
function binary(name: string): string {
  const root = '/usr/lib/postgresql';
  if (existsSync(root)) {
    const versions = readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', name))).sort((a, b) => Number(b) - Number(a));
    if (versions.length > 0) return join(root, versions[0], 'bin', name);
  }
  return name;
}

/** Under root, the uid/gid of `postgres` (Node's spawn switches user itself, and the PID is the server's own). */
function runAs(): { uid: number; gid: number } | null {
  if (process.getuid?.() !== 0) return null;
  try {
    return { uid: Number(execFileSync('id', ['-u', 'postgres']).toString().trim()), gid: Number(execFileSync('id', ['-g', 'postgres']).toString().trim()) };
  } catch {
    throw new Error('running as root needs the `postgres` system user (Debian\'s postgresql package creates it; npm test installs it via scripts/ensure-postgres.sh)');
  }
}

function run(file: string, args: string[], user: { uid: number; gid: number } | null, cwd: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { cwd, ...(user ?? {}) }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${file} failed (npm test installs PostgreSQL via scripts/ensure-postgres.sh): ${err.message}\n${stdout}${stderr}`));
      else resolve();
    });
  });
}

async function ready(url: string, child: ChildProcess, log: () => string, deadlineMs: number): Promise<void> {
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`postgres exited during start-up:\n${log()}`);
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1000 });
    try {
      await client.connect();
      await client.query('SELECT 1');
      return;
    } catch (err) {
      if (Date.now() > deadlineMs) throw new Error(`postgres not ready in time: ${(err as Error).message}\n${log()}`);
    } finally {
      await client.end().catch(() => {});
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function startPostgres(): Promise<PostgresProcess> {
  const user = runAs();
  const dir = mkdtempSync(join(tmpdir(), 'sockudo-pg-'));
  const data = join(dir, 'data');
  let child: ChildProcess | null = null;
  try {
    if (user) chownSync(dir, user.uid, user.gid);
    // -N: no fsync of the new files; trust auth, C locale (byte order, like SQLite's).
    await run(binary('initdb'), ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C', '-N', '--no-instructions'], user, dir);
    const port = await freePort();
    const server = spawn(
      binary('postgres'),
      ['-D', data, '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off', '-c', 'synchronous_commit=off',
        '-c', 'full_page_writes=off', '-c', 'shared_buffers=16MB', '-c', 'max_connections=40', '-c', 'logging_collector=off'],
      { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], ...(user ?? {}) },
    );
    child = server;
    // Should the test process end without stop(), the server must not outlive it.
    const orphanGuard = () => server.kill('SIGQUIT');
    process.once('exit', orphanGuard);
    let out = '';
    const collect = (d: Buffer) => {
      out = (out + d.toString()).slice(-4000);
    };
    server.stdout?.on('data', collect);
    server.stderr?.on('data', collect);
    const spawnError = new Promise<never>((_, reject) => server.once('error', (err) => reject(new Error(`postgres could not be run: ${err.message}`))));
    const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
    await Promise.race([ready(url, server, () => out, Date.now() + 20000), spawnError]);
    const stop = async () => {
      process.removeListener('exit', orphanGuard);
      if (server.exitCode === null && server.signalCode === null) {
        const exited = new Promise<void>((resolve) => server.once('exit', () => resolve()));
        server.kill('SIGQUIT'); // immediate shutdown: the data dir is thrown away anyway
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    };
    return { url, port, stop };
  } catch (err) {
    child?.kill('SIGQUIT');
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}
