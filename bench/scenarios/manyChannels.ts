// Many channels: C public channels with S subscribers each (every subscriber on one channel), signed
// POST /apps/{id}/batch_events of B events to random channels, in the same closed loop as fan-out.
// Reports deliveries per second and server CPU per delivery: per-request work is amortized over only
// B × S deliveries here, against 5,000 per publish in fan-out.
import type { SubscriberClientKind } from '../loaderMessages.ts';
import { PublishClient, batchBody } from '../publishClient.ts';
import { SubscriberFleet } from '../subscribers.ts';
import { type RunningTarget, serverPids } from '../targets.ts';
import { type ClosedLoopOptions, type ClosedLoopResult, closedLoop, wsUrl } from './fanout.ts';

export interface ManyChannelsOptions extends ClosedLoopOptions {
  channels: number;
  subscribersPerChannel: number;
  /** Events per batch_events request (Pusher's limit is 10). */
  batch: number;
  loaderProcesses: number;
  client: SubscriberClientKind;
  padding: number;
}

export interface ManyChannelsResult extends ClosedLoopResult {
  scenario: 'many-channels';
  channels: number;
  subscribers: number;
  batch: number;
  connectSeconds: number;
  connectFailures: number;
  /** Events accepted per second (batches × events per batch). */
  eventsPerSec: number;
  serverCpuUsPerBatch: number;
}

const CHANNEL = 'many';
const MARKER = 'bench-many';
/** Distinct batch bodies; each is signed once per second by the loader, the server verifies every request. */
const BODY_POOL = 500;

export async function runManyChannels(target: RunningTarget, o: ManyChannelsOptions): Promise<ManyChannelsResult> {
  const fleet = await SubscriberFleet.open({
    url: wsUrl(target.endpoint),
    v2Url: wsUrl(target.endpoint, 2),
    subscribers: o.channels * o.subscribersPerChannel,
    processes: o.loaderProcesses,
    channel: CHANNEL,
    channels: o.channels,
    v2Share: 0,
    marker: MARKER,
    client: o.client,
  });
  const bodies = Array.from({ length: BODY_POOL }, () =>
    batchBody(
      Array.from({ length: o.batch }, () => `${CHANNEL}-${Math.floor(Math.random() * o.channels)}`),
      MARKER,
      o.padding,
    ),
  );
  const client = new PublishClient(target.endpoint.httpOrigin, o.httpConnections, bodies, { kind: 'batch_events', app: target.endpoint.app });
  try {
    if (fleet.subscribed === 0) throw new Error(`no subscriber could subscribe: ${fleet.firstError}`);
    // Exact when every subscriber subscribed; with failures the run reports drained: false.
    const loop = await closedLoop({ server: serverPids(target), loader: fleet.pids }, fleet, client, o.batch * o.subscribersPerChannel, o);
    return {
      scenario: 'many-channels',
      channels: o.channels,
      subscribers: fleet.subscribed,
      batch: o.batch,
      connectSeconds: fleet.connectSeconds,
      connectFailures: fleet.failed,
      eventsPerSec: loop.publishesPerSec * o.batch,
      serverCpuUsPerBatch: loop.publishes > 0 ? (loop.serverCpuSeconds * 1e6) / loop.publishes : Number.NaN,
      ...loop,
    };
  } finally {
    await client.close();
    await fleet.close();
  }
}
