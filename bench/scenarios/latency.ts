// Fan-out latency: publish → receive time at a fixed, moderate publish rate, measured on a few probe
// subscribers held by a process of their own that does nothing else, so what they measure is the server's
// delay and not a loader's queue. Phases (as ../shared/PEERS.md measured the peers): the channel with the
// probes only, then with N bulk subscribers (held by the usual loader processes) at one or more rates.
//
// Where the probes sit in the server's send order matters (soketi walks a channel's sockets in subscription
// order, so a socket subscribed last waits for every other send): the bulk fleet connects in 2 × probes
// stages and a probe subscribes after every second stage, so the probes are spread evenly through the
// order (after 1/20, 3/20, ... 19/20 of the subscribers with 10 probes), the same way for every target.
import type { SubscriberClientKind } from '../loaderMessages.ts';
import { type LatencySummary, probeLatency } from '../probeLatency.ts';
import { ProbeFleet } from '../probes.ts';
import { SubscriberFleet } from '../subscribers.ts';
import { type RunningTarget, sleep } from '../targets.ts';
import { TimedPublisher } from '../timedPublisher.ts';
import { MeasureWindow, type WindowCpu } from '../window.ts';
import { wsUrl } from './fanout.ts';

export interface LatencyPhase {
  /** Bulk subscribers besides the probes (0: the probes alone). */
  subscribers: number;
  /** Publishes per second. */
  rate: number;
}

export interface LatencyOptions {
  phases: readonly LatencyPhase[];
  probes: number;
  loaderProcesses: number;
  client: SubscriberClientKind;
  warmupSeconds: number;
  durationSeconds: number;
  padding: number;
  /** HTTP connections of the timed publisher (requests in flight at most). */
  httpConnections: number;
}

export interface LatencyPhaseResult extends WindowCpu, LatencySummary {
  scenario: 'fanout-latency';
  phase: string;
  rate: number;
  subscribers: number;
  probes: number;
  connectSeconds: number;
  connectFailures: number;
  /** Deliveries per second the bulk subscribers counted in the measured window (0 with the probes alone). */
  deliveriesPerSec: number;
  lostSockets: number;
  firstError: string | null;
}

const CHANNEL = 'bench';
const MARKER = 'bench-latency';
/** How long, after the measured window, the probes may take to receive its publishes. */
const PROBE_WAIT_MS = 10_000;
/** How long the bulk subscribers may take to catch up before the next phase on the same fleet. */
const FLEET_DRAIN_MS = 15_000;

export function phaseLabel(p: LatencyPhase): string {
  return p.subscribers === 0 ? `probes only, ${p.rate}/s` : `${p.subscribers.toLocaleString('en')} subscribers, ${p.rate}/s`;
}

export async function runLatency(target: RunningTarget, o: LatencyOptions): Promise<LatencyPhaseResult[]> {
  const url = wsUrl(target.endpoint);
  const probes = ProbeFleet.start();
  const publisher = new TimedPublisher([target.endpoint.httpOrigin], o.httpConnections, [CHANNEL], MARKER, o.padding, target.endpoint.app);
  const results: LatencyPhaseResult[] = [];
  let fleet: SubscriberFleet | null = null;
  try {
    for (let i = 0; i < o.phases.length; ) {
      // Consecutive phases with the same audience share one fleet.
      const subscribers = o.phases[i].subscribers;
      let end = i;
      while (end < o.phases.length && o.phases[end].subscribers === subscribers) end++;
      if (subscribers === 0) await probes.open(url, CHANNEL, o.probes, MARKER);
      else {
        fleet = await SubscriberFleet.open({
          url,
          v2Url: wsUrl(target.endpoint, 2),
          subscribers,
          processes: o.loaderProcesses,
          channel: CHANNEL,
          channels: 0,
          v2Share: 0,
          marker: MARKER,
          client: o.client,
          stages: 2 * o.probes,
          betweenStages: (stage) => (stage % 2 === 0 ? probes.open(url, CHANNEL, 1, MARKER) : Promise.resolve()),
        });
        if (fleet.subscribed === 0) throw new Error(`no subscriber could subscribe: ${fleet.firstError}`);
      }
      if (probes.subscribed === 0) throw new Error(`no probe could subscribe: ${probes.firstError}`);
      const okAtOpen = publisher.ok;
      for (let k = i; k < end; k++) {
        const phase = o.phases[k];
        publisher.start(phase.rate);
        await sleep(o.warmupSeconds * 1000);
        const from = publisher.next;
        const deliveredBefore = fleet?.deliveries ?? 0;
        const window = new MeasureWindow(target.pid, [...(fleet?.pids ?? []), probes.pid]);
        await sleep(o.durationSeconds * 1000);
        const to = publisher.next;
        publisher.stop();
        const cpu = window.end();
        const delivered = (fleet?.deliveries ?? 0) - deliveredBefore;
        const latency = await probeLatency(publisher, probes, from, to, PROBE_WAIT_MS);
        results.push({
          scenario: 'fanout-latency',
          phase: phaseLabel(phase),
          rate: phase.rate,
          subscribers: fleet?.subscribed ?? 0,
          probes: probes.subscribed,
          connectSeconds: fleet?.connectSeconds ?? 0,
          connectFailures: (fleet?.failed ?? 0) + probes.failed,
          deliveriesPerSec: delivered / cpu.seconds,
          lostSockets: fleet?.lostSockets ?? 0,
          firstError: publisher.firstError ?? fleet?.firstError ?? probes.firstError,
          ...latency,
          ...cpu,
        });
        // Let the bulk subscribers catch up before the next rate (not after the last: the fleet closes).
        if (fleet && k + 1 < end) await fleet.waitFor((publisher.ok - okAtOpen) * fleet.subscribed, FLEET_DRAIN_MS);
      }
      await fleet?.close();
      fleet = null;
      await probes.drop();
      i = end;
    }
    return results;
  } finally {
    publisher.close();
    await fleet?.close();
    await probes.close();
  }
}
