// Churn: N sockets, each cycling subscribe → subscription_succeeded → unsubscribe + subscribe on a private
// (or presence) channel of its own, auth signed by the loader as an auth endpoint would. Reports
// subscribe+unsubscribe pairs per second and server CPU per pair: channel auth, channel creation and
// removal, and for presence the member bookkeeping (one member per channel, so no member_added audience).
// churn-presence-rooms puts `roomSize` sockets (users) in each presence channel, as in a chat room: every
// pair also sends member_removed and member_added to the room's other members, and the member list grows.
import { ChurnLoaders } from '../churnLoaders.ts';
import type { ChurnKind } from '../loaderMessages.ts';
import { type RunningTarget, sleep } from '../targets.ts';
import { MeasureWindow, type WindowCpu } from '../window.ts';
import { wsUrl } from './fanout.ts';

export interface ChurnOptions {
  kind: ChurnKind;
  /** presence-rooms: sockets to a channel. */
  roomSize: number;
  loaderProcesses: number;
  socketsPerProcess: number;
  warmupSeconds: number;
  durationSeconds: number;
}

export interface ChurnResult extends WindowCpu {
  scenario: 'churn-private' | 'churn-presence' | 'churn-presence-rooms';
  sockets: number;
  roomSize: number;
  connectSeconds: number;
  connectFailures: number;
  pairs: number;
  pairsPerSec: number;
  serverCpuUsPerPair: number;
  /** member_added / member_removed frames the loaders received, per second. */
  memberEventsPerSec: number;
  /** pusher:error frames answering a subscribe (each retried after 100 ms). */
  errors: number;
  lostSockets: number;
  firstError: string | null;
}

export async function runChurn(target: RunningTarget, o: ChurnOptions): Promise<ChurnResult> {
  const loaders = await ChurnLoaders.open(wsUrl(target.endpoint), o.loaderProcesses, o.socketsPerProcess, o.kind, o.roomSize, target.endpoint.app);
  try {
    if (loaders.connected === 0) throw new Error(`no socket could connect: ${loaders.firstError}`);
    loaders.start();
    await sleep(o.warmupSeconds * 1000);
    const before = await loaders.snapshot();
    const window = new MeasureWindow(target.pid, loaders.pids);
    await sleep(o.durationSeconds * 1000);
    const after = await loaders.snapshot();
    const cpu = window.end();
    const pairs = after.pairs - before.pairs;
    return {
      scenario: `churn-${o.kind}`,
      sockets: loaders.connected,
      roomSize: o.kind === 'presence-rooms' ? o.roomSize : 1,
      connectSeconds: loaders.connectSeconds,
      connectFailures: loaders.failed,
      pairs,
      pairsPerSec: pairs / cpu.seconds,
      serverCpuUsPerPair: pairs > 0 ? (cpu.serverCpuSeconds * 1e6) / pairs : Number.NaN,
      memberEventsPerSec: (after.memberEvents - before.memberEvents) / cpu.seconds,
      errors: after.errors - before.errors,
      lostSockets: after.lostSockets,
      firstError: after.firstError ?? loaders.firstError,
      ...cpu,
    };
  } finally {
    await loaders.stop();
  }
}
