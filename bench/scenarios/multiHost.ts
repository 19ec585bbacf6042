// Several hosts sharing one Redis against one host: S subscribers spread evenly over C public channels and
// over the hosts (subscriber i on channel i % C and host floor(i / C) % hosts, so every channel has the same
// number of subscribers on every host), signed HTTP publishes to random channels sent to the hosts in turn,
// in the closed loop of fan-out. Every publish has to reach the subscribers of its channel on every host,
// so with several hosts it goes through Redis (a Lua script appends it to one stream, every host reads it
// back) before any subscriber sees it.
//
// Latency is measured on probes in a process of their own: on a few channels, one probe per host (with one
// host, as many probes on that host), receiving timed publishes sent at a low fixed rate, to the hosts in
// turn, while the closed loop keeps the hosts saturated. It is latency *under full load*: within a closed
// loop of W publishes outstanding, deliveries queue behind up to W others, so it measures how the two
// layouts behave at saturation, not what a lightly loaded cluster would show.
import type { SubscriberClientKind } from '../loaderMessages.ts';
import { type LatencySummary, probeLatency } from '../probeLatency.ts';
import { ProbeFleet } from '../probes.ts';
import { PublishClient, publishBody } from '../publishClient.ts';
import { SubscriberFleet } from '../subscribers.ts';
import { localEndpoint } from '../targets.ts';
import { TimedPublisher } from '../timedPublisher.ts';
import { type ClosedLoopOptions, type ClosedLoopResult, type LoopPublisher, closedLoop, wsUrl } from './fanout.ts';

export interface MultiHostOptions extends ClosedLoopOptions {
  channels: number;
  subscribers: number;
  loaderProcesses: number;
  client: SubscriberClientKind;
  padding: number;
  /** Channels carrying probes (spread over the C channels). */
  probeChannels: number;
  /** Probes per probe channel: one per host with `hosts` hosts. */
  probesPerChannel: number;
  /** Timed publishes per second (to the probe channels, the hosts in turn). */
  probeRate: number;
}

/** The servers of one layout: the hosts' ports and pids, and Redis's pid when they share one. */
export interface Layout {
  label: string;
  hosts: { port: number; pid: number }[];
  workersPerHost: number;
  redisPid?: number;
}

export interface MultiHostResult extends ClosedLoopResult, LatencySummary {
  scenario: 'multi-host';
  layout: string;
  hosts: number;
  workersPerHost: number;
  channels: number;
  subscribers: number;
  probes: number;
  probeRate: number;
  connectSeconds: number;
  connectFailures: number;
  /** Server CPU per delivery counting Redis's CPU too. */
  serverAndRedisCpuUsPerDelivery: number;
}

const CHANNEL = 'mh';
const LOAD_MARKER = 'bench-mh-load';
const PROBE_MARKER = 'bench-mh-probe';
/** How long, after the measured window, the probes may take to receive its timed publishes. */
const PROBE_WAIT_MS = 10_000;

/** Hands each publish to the next host's client in turn. */
class RoundRobin implements LoopPublisher {
  private turn = 0;
  constructor(private readonly clients: readonly PublishClient[]) {}
  get ok() {
    return this.clients.reduce((a, c) => a + c.ok, 0);
  }
  get failed() {
    return this.clients.reduce((a, c) => a + c.failed, 0);
  }
  get inFlight() {
    return this.clients.reduce((a, c) => a + c.inFlight, 0);
  }
  get firstError() {
    return this.clients.find((c) => c.firstError !== null)?.firstError ?? null;
  }
  publish(): Promise<boolean> {
    const c = this.clients[this.turn];
    this.turn = (this.turn + 1) % this.clients.length;
    return c.publish();
  }
}

export async function runMultiHost(layout: Layout, o: MultiHostOptions): Promise<MultiHostResult> {
  const perChannel = o.subscribers / o.channels;
  const hostUrls = layout.hosts.map((h) => ({ url: wsUrl(localEndpoint(h.port)), v2Url: wsUrl(localEndpoint(h.port), 2) }));
  const origins = layout.hosts.map((h) => `http://127.0.0.1:${h.port}`);
  const probes = ProbeFleet.start();
  let fleet: SubscriberFleet | null = null;
  // One body per channel for each host's client (a random one per request, each signed once per second).
  const bodies = Array.from({ length: o.channels }, (_, c) => publishBody(`${CHANNEL}-${c}`, LOAD_MARKER, o.padding));
  const clients = origins.map((origin) => new PublishClient(origin, Math.ceil(o.httpConnections / origins.length), bodies));
  const probeChannels = Array.from({ length: o.probeChannels }, (_, k) => `${CHANNEL}-${Math.floor((k * o.channels) / o.probeChannels)}`);
  const timed = new TimedPublisher(origins, 2, probeChannels, PROBE_MARKER, o.padding);
  try {
    fleet = await SubscriberFleet.open({
      url: hostUrls[0].url,
      v2Url: hostUrls[0].v2Url,
      hosts: hostUrls.length > 1 ? hostUrls : undefined,
      subscribers: o.subscribers,
      processes: o.loaderProcesses,
      channel: CHANNEL,
      channels: o.channels,
      v2Share: 0,
      marker: LOAD_MARKER,
      client: o.client,
    });
    if (fleet.subscribed === 0) throw new Error(`no subscriber could subscribe: ${fleet.firstError}`);
    for (const channel of probeChannels) {
      for (let h = 0; h < o.probesPerChannel; h++) await probes.open(hostUrls[h % hostUrls.length].url, channel, 1, PROBE_MARKER);
    }
    if (probes.subscribed !== probeChannels.length * o.probesPerChannel) throw new Error(`not every probe could subscribe: ${probes.firstError}`);
    let from = 0;
    let to = 0;
    const loop = await closedLoop(
      { server: layout.hosts.map((h) => h.pid), loader: [...fleet.pids, probes.pid], redis: layout.redisPid === undefined ? undefined : [layout.redisPid] },
      fleet,
      new RoundRobin(clients),
      perChannel,
      o,
      {
        measureStart: () => {
          from = timed.next;
          timed.start(o.probeRate);
        },
        measureStop: () => {
          timed.stop();
          to = timed.next;
        },
      },
    );
    // A timed publish goes to one probe channel: the probes of that channel receive it.
    const latency = await probeLatency(timed, probes, from, to, PROBE_WAIT_MS, o.probesPerChannel);
    const totalCpu = loop.serverCpuSeconds + (loop.redisCores ?? 0) * loop.seconds;
    return {
      scenario: 'multi-host',
      layout: layout.label,
      hosts: layout.hosts.length,
      workersPerHost: layout.workersPerHost,
      channels: o.channels,
      subscribers: fleet.subscribed,
      probes: probes.subscribed,
      probeRate: o.probeRate,
      connectSeconds: fleet.connectSeconds,
      connectFailures: fleet.failed + probes.failed,
      serverAndRedisCpuUsPerDelivery: loop.deliveries > 0 ? (totalCpu * 1e6) / loop.deliveries : Number.NaN,
      ...loop,
      ...latency,
      firstError: loop.firstError ?? timed.firstError ?? probes.firstError,
    };
  } finally {
    timed.close();
    for (const c of clients) await c.close();
    await fleet?.close();
    await probes.close();
  }
}
