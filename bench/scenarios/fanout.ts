// Fan-out: one public channel, N subscribers (optionally a share of them on Protocol V2, optionally
// filtering on a tag every publish carries), signed HTTP publishes. Reports deliveries per second counted
// by the subscribers, with the clock stopped only once every accepted publish has reached every
// subscriber. The closed loop is shared with many-channels.
import type { SubscriberClientKind } from '../loaderMessages.ts';
import { PublishClient, publishBody } from '../publishClient.ts';
import { SubscriberFleet } from '../subscribers.ts';
import { type Endpoint, type RunningTarget, serverPids, sleep } from '../targets.ts';
import { V2_FILTER, V2_FILTER_MARKER, V2_FILTER_TAGS } from '../v2Filter.ts';
import { MeasureWindow, type WindowCpu } from '../window.ts';

export interface FanoutOptions extends ClosedLoopOptions {
  subscribers: number;
  loaderProcesses: number;
  client: SubscriberClientKind;
  /** Bytes of padding in each event's data (the frame is about 60 bytes more). */
  padding: number;
  /** Fraction of the subscribers that connect with `?protocol=2` and subscribe with `sockudo:subscribe`. */
  v2Share: number;
  /** Publishes carry a tag and the V2 subscribers subscribe with a filter it matches (bench/v2Filter.ts). */
  v2Filter: boolean;
}

export interface ClosedLoopOptions {
  warmupSeconds: number;
  durationSeconds: number;
  /** Publishes whose deliveries may be outstanding at once (the closed loop's window). */
  window: number;
  /** Publishes per second; 0 = as fast as the window allows (saturation). */
  rate: number;
  /** HTTP publish requests in flight at most. */
  httpConnections: number;
}

export interface ClosedLoopResult extends WindowCpu {
  publishes: number;
  expectedDeliveries: number;
  deliveries: number;
  deliveriesPerSec: number;
  publishesPerSec: number;
  serverCpuUsPerDelivery: number;
  drained: boolean;
  lostSockets: number;
  publishFailures: number;
  firstError: string | null;
}

export interface FanoutResult extends ClosedLoopResult {
  scenario: 'fanout' | 'fanout-steady';
  client: SubscriberClientKind;
  subscribers: number;
  v2Share: number;
  v2Filter: boolean;
  v2Subscribers: number;
  connectSeconds: number;
  connectFailures: number;
  frameBytes: number;
}

const CHANNEL = 'bench';
const MARKER = 'bench-fanout';
const DRAIN_TIMEOUT_MS = 20_000;

/** The URL a pusher-js 8.4 client opens for the endpoint's app (V1: protocol 7; V2: `?protocol=2`). */
export function wsUrl(endpoint: Endpoint, protocol: 1 | 2 = 1): string {
  return `${endpoint.wsOrigin}/app/${endpoint.app.key}?protocol=${protocol === 2 ? 2 : 7}&client=js&version=8.4.0&flash=false`;
}

export async function runFanout(target: RunningTarget, o: FanoutOptions): Promise<FanoutResult> {
  const fleet = await SubscriberFleet.open({
    url: wsUrl(target.endpoint),
    v2Url: wsUrl(target.endpoint, 2),
    subscribers: o.subscribers,
    processes: o.loaderProcesses,
    channel: CHANNEL,
    channels: 0,
    v2Share: o.v2Share,
    marker: MARKER,
    v2Filter: o.v2Filter ? { filter: V2_FILTER, marker: V2_FILTER_MARKER } : undefined,
    client: o.client,
  });
  const body = publishBody(CHANNEL, MARKER, o.padding, o.v2Filter ? V2_FILTER_TAGS : undefined);
  const client = new PublishClient(target.endpoint.httpOrigin, o.httpConnections, body, { app: target.endpoint.app });
  try {
    const subs = fleet.subscribed;
    if (subs === 0) throw new Error(`no subscriber could subscribe: ${fleet.firstError}`);
    const loop = await closedLoop({ server: serverPids(target), loader: fleet.pids }, fleet, client, subs, o);
    return {
      scenario: o.rate > 0 ? 'fanout-steady' : 'fanout',
      client: o.client,
      subscribers: subs,
      v2Share: o.v2Share,
      v2Filter: o.v2Filter,
      v2Subscribers: fleet.v2Subscribed,
      connectSeconds: fleet.connectSeconds,
      connectFailures: fleet.failed,
      frameBytes: frameBytes(body),
      ...loop,
    };
  } finally {
    await client.close();
    await fleet.close();
  }
}

/** What the closed loop publishes through: one PublishClient, or several hosts' in turn. */
export interface LoopPublisher {
  readonly ok: number;
  readonly failed: number;
  readonly inFlight: number;
  readonly firstError: string | null;
  /** One publish; resolves true if accepted. Never rejects. */
  publish(): Promise<boolean>;
}

/** Whose CPU the measured window reads: the server's process(es), the loader's, Redis's if the hosts share one. */
export interface LoopPids {
  server: readonly number[];
  loader: readonly number[];
  redis?: readonly number[];
}

/** Called when the measured phase starts publishing, and when it stops (before its deliveries drain). */
export interface LoopHooks {
  measureStart?(): void;
  measureStop?(): void;
}

/**
 * Publishes through `client` while HTTP slots are free and the deliveries not yet seen stay within the
 * window (`perPublish` deliveries expected per accepted publish); a warm-up phase, fully drained, then the
 * measured phase, whose clock stops once its deliveries have all arrived (or DRAIN_TIMEOUT_MS passed).
 */
export async function closedLoop(
  pids: LoopPids,
  fleet: SubscriberFleet,
  client: LoopPublisher,
  perPublish: number,
  o: ClosedLoopOptions,
  hooks: LoopHooks = {},
): Promise<ClosedLoopResult> {
  let running = false;
  let phaseStart = 0;
  let phaseIssued = 0;
  const pump = (): void => {
    while (running && client.inFlight < o.httpConnections) {
      const outstanding = (client.ok + client.inFlight) * perPublish - fleet.deliveries;
      if (outstanding >= o.window * perPublish) return;
      if (o.rate > 0 && phaseIssued >= ((performance.now() - phaseStart) / 1000) * o.rate) return;
      phaseIssued++;
      void client.publish().then(pump);
    }
  };
  fleet.onDeliveries(pump);
  const pacer = o.rate > 0 ? setInterval(pump, Math.max(1, Math.floor(1000 / o.rate / 2))) : undefined;

  const phase = async (seconds: number, measured = false): Promise<boolean> => {
    running = true;
    phaseStart = performance.now();
    phaseIssued = 0;
    if (measured) hooks.measureStart?.();
    pump();
    await sleep(seconds * 1000);
    running = false;
    if (measured) hooks.measureStop?.();
    while (client.inFlight > 0) await sleep(2);
    const drained = await fleet.waitFor(client.ok * perPublish, DRAIN_TIMEOUT_MS);
    fleet.onDeliveries(pump);
    return drained;
  };

  try {
    await phase(o.warmupSeconds);
    const okBefore = client.ok;
    const failedBefore = client.failed;
    const deliveredBefore = fleet.deliveries;
    const window = new MeasureWindow(pids.server, pids.loader, pids.redis);
    const drained = await phase(o.durationSeconds, true);
    const cpu = window.end();
    const publishes = client.ok - okBefore;
    const deliveries = fleet.deliveries - deliveredBefore;
    return {
      publishes,
      expectedDeliveries: publishes * perPublish,
      deliveries,
      deliveriesPerSec: deliveries / cpu.seconds,
      publishesPerSec: publishes / cpu.seconds,
      serverCpuUsPerDelivery: deliveries > 0 ? (cpu.serverCpuSeconds * 1e6) / deliveries : Number.NaN,
      drained,
      lostSockets: fleet.lostSockets,
      publishFailures: client.failed - failedBefore,
      firstError: client.firstError ?? fleet.firstError,
      ...cpu,
    };
  } finally {
    clearInterval(pacer);
  }
}

/** Size of the V1 frame subscribers receive for `body`, as the Pusher protocol shapes it. */
function frameBytes(body: string): number {
  const { name, channel, data } = JSON.parse(body) as { name: string; channel: string; data: string };
  return Buffer.byteLength(JSON.stringify({ event: name, channel, data }));
}
