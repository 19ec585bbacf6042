// Connect: open N WebSocket connections, each done when the server's `connection_established` arrives
// (no subscription), spread over the loader processes, a bounded number of handshakes in flight in each.
// Reports the accept rate (connections established per second while opening them) and the memory an idle
// connection costs the server: the marginal RSS of its whole process, (RSS with N idle connections − RSS
// with none) / N, each reading taken once RSS has stayed flat for a quiet window (20 s by default). The baseline is only a true "0 connections"
// on a freshly started process: run.ts restarts the servers it started before every connect run (after a
// first burst of sockets, freed memory stays in the allocator and a second burst would look free).
import { FD_MARGIN, ephemeralPorts, fdLimit, socketsPerProcess } from '../fdLimit.ts';
import type { SubscriberClientKind } from '../loaderMessages.ts';
import { type SettledRss, childPids, settledRss } from '../rss.ts';
import { IDLE } from '../subscriberClient.ts';
import { SubscriberFleet } from '../subscribers.ts';
import type { RunningTarget } from '../targets.ts';
import { MeasureWindow, type WindowCpu } from '../window.ts';
import { wsUrl } from './fanout.ts';

export interface ConnectOptions {
  connections: number;
  /** Loader processes at least; more when one process could not hold its share of the sockets. */
  loaderProcesses: number;
  /** Handshakes in flight at once per loader process. */
  concurrency: number;
  client: SubscriberClientKind;
  /** RSS counts as settled once it stayed within 1 % for this long (see rss.ts for why it is long)... */
  settleQuietSeconds: number;
  /** ...or, unsettled, after this long; for each of the two readings. */
  settleSeconds: number;
  /** Whether the target was (re)started for this run: only then is the baseline a process with no connection yet. */
  freshProcess: boolean;
}

export interface ConnectResult extends WindowCpu {
  scenario: 'connect';
  client: SubscriberClientKind;
  requested: number;
  /** Connections established (connection_established received). */
  connections: number;
  connectFailures: number;
  firstError: string | null;
  loaderProcesses: number;
  concurrencyPerProcess: number;
  connectSeconds: number;
  /** Connections established per second while opening them (wall time from the first connect to the last). */
  acceptPerSec: number;
  serverCpuUsPerConnection: number;
  freshProcess: boolean;
  /** Server RSS before connecting and with the connections idle (bytes); NaN when the process is unknown. */
  rssBaselineBytes: number;
  rssBytes: number;
  rssSettled: boolean;
  rssBaselineSettleSeconds: number;
  rssSettleSeconds: number;
  /** Marginal RSS per idle connection (bytes), and its anonymous-memory part. */
  bytesPerConnection: number;
  anonBytesPerConnection: number;
  /** Sockets closed before the memory was read (a server closing idle sockets early would show here). */
  lostSockets: number;
  /** Child processes of the server process (their memory would not be in its RSS); null when the process is unknown. */
  serverChildProcesses: number | null;
}

const UNKNOWN: SettledRss = { rssBytes: Number.NaN, anonBytes: Number.NaN, settled: false, seconds: 0 };

/** Refuses a connection count the machine cannot hold (open files of the server, ephemeral ports). */
export function checkConnectionCount(connections: number): void {
  const limit = fdLimit().hard - FD_MARGIN;
  if (connections > limit) {
    throw new Error(
      `${connections} connections need as many open files in the server; the hard limit here allows about ${limit} ` +
        '(docs/benchmarks.md shows how to plan beyond it from the per-connection figure)',
    );
  }
  if (connections > ephemeralPorts()) throw new Error(`${connections} connections exceed the ${ephemeralPorts()} ephemeral ports to one server port`);
}

export async function runConnect(target: RunningTarget, o: ConnectOptions): Promise<ConnectResult> {
  checkConnectionCount(o.connections);
  const processes = Math.max(o.loaderProcesses, Math.ceil(o.connections / socketsPerProcess()));
  const fleet = await SubscriberFleet.spawn(processes);
  try {
    const settle = { quietSeconds: o.settleQuietSeconds, deadlineSeconds: o.settleSeconds };
    const baseline = target.pid === null ? UNKNOWN : await settledRss(target.pid, settle);
    const window = new MeasureWindow(target.pid, fleet.pids);
    await fleet.connect({
      url: wsUrl(target.endpoint),
      v2Url: wsUrl(target.endpoint, 2),
      subscribers: o.connections,
      channel: IDLE,
      channels: 0,
      v2Share: 0,
      marker: 'bench-connect',
      client: o.client,
      concurrency: o.concurrency,
    });
    const cpu = window.end();
    const loaded = target.pid === null ? UNKNOWN : await settledRss(target.pid, settle);
    const n = fleet.subscribed;
    return {
      scenario: 'connect',
      client: o.client,
      requested: o.connections,
      connections: n,
      connectFailures: fleet.failed,
      firstError: fleet.firstError,
      loaderProcesses: processes,
      concurrencyPerProcess: o.concurrency,
      connectSeconds: fleet.connectSeconds,
      acceptPerSec: n / fleet.connectSeconds,
      serverCpuUsPerConnection: n > 0 ? (cpu.serverCpuSeconds * 1e6) / n : Number.NaN,
      freshProcess: o.freshProcess,
      rssBaselineBytes: baseline.rssBytes,
      rssBytes: loaded.rssBytes,
      rssSettled: baseline.settled && loaded.settled,
      rssBaselineSettleSeconds: baseline.seconds,
      rssSettleSeconds: loaded.seconds,
      bytesPerConnection: n > 0 ? (loaded.rssBytes - baseline.rssBytes) / n : Number.NaN,
      anonBytesPerConnection: n > 0 ? (loaded.anonBytes - baseline.anonBytes) / n : Number.NaN,
      lostSockets: fleet.lostSockets,
      serverChildProcesses: target.pid === null ? null : childPids(target.pid).length,
      ...cpu,
    };
  } finally {
    await fleet.close();
  }
}
