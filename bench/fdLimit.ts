// Open-file limits: a server holding N idle connections needs N file descriptors, and so do the loader
// processes holding the other ends. Reads RLIMIT_NOFILE from /proc, plans how many sockets a process may
// hold, and starts child processes through `sh -c 'ulimit -Sn <hard>'` when the soft limit is below the
// hard one (Node has no setrlimit; `exec` keeps the pid, so the child is still the process started).
import { readFileSync } from 'node:fs';

export interface FdLimit {
  soft: number;
  hard: number;
}

/** Descriptors a process needs besides its sockets (stdio, IPC, libuv, V8, log files). */
export const FD_MARGIN = 256;

/** RLIMIT_NOFILE of `pid` ("self" by default); "unlimited" counts as a very large number. */
export function fdLimit(pid: number | 'self' = 'self'): FdLimit {
  const line = readFileSync(`/proc/${pid}/limits`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('Max open files'));
  const [soft, hard] = (line ?? '').slice('Max open files'.length).trim().split(/\s+/);
  const n = (v: string | undefined) => (v === 'unlimited' ? Number.MAX_SAFE_INTEGER : Number(v));
  return { soft: n(soft), hard: n(hard) };
}

/** The most sockets one process started by this benchmark can hold (the soft limit is raised to the hard one). */
export function socketsPerProcess(): number {
  return fdLimit().hard - FD_MARGIN;
}

/**
 * `command args` run with the soft open-file limit raised to the hard one, when it is lower; unchanged
 * otherwise. For spawn(): the returned command is `/bin/sh` and the pid it gets is the final process's.
 */
export function withRaisedFdLimit(command: string, args: readonly string[]): { command: string; args: string[] } {
  const { soft, hard } = fdLimit();
  if (soft >= hard) return { command, args: [...args] };
  const limit = hard === Number.MAX_SAFE_INTEGER ? 'unlimited' : String(hard);
  return { command: '/bin/sh', args: ['-c', `ulimit -Sn ${limit} && exec "$0" "$@"`, command, ...args] };
}

/** fork() options doing the same for a Node child (fork runs `execPath ...execArgv module`). */
export function forkWithRaisedFdLimit(execArgv: readonly string[]): { execPath?: string; execArgv: string[] } {
  const raised = withRaisedFdLimit(process.execPath, execArgv);
  return raised.command === process.execPath ? { execArgv: [...execArgv] } : { execPath: raised.command, execArgv: raised.args };
}

/** Ephemeral ports for outgoing connections (net.ipv4.ip_local_port_range): one per socket to one server port. */
export function ephemeralPorts(): number {
  try {
    const [lo, hi] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    return hi - lo + 1;
  } catch {
    return 28_232; // the Linux default range, 32768–60999
  }
}
