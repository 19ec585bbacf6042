// Entry of one uWS worker thread: builds the uWS app, listens on the shared public port (SO_REUSEPORT),
// and follows the primary's messages (publish, API answers, drain, stop).
import { parentPort, workerData } from 'node:worker_threads';
import { ApiRateBudget } from '../apps/apiRateBudget.ts';
import { ConnectionQuota } from '../apps/connectionQuota.ts';
import { ChannelCounts } from '../channels/channelCounts.ts';
import { IpQuota } from '../apps/ipQuota.ts';
import { type PresenceJoin, type PresenceLeave, type PrimaryToWorker, type WorkerInit, type WorkerToPrimary, assertNever } from '../ipc/messages.ts';
import { createLogger } from '../log.ts';
import { Outbox } from '../ipc/outbox.ts';
import { forEachInOrder } from '../ipc/frameColumns.ts';
import { appendPresenceChange, emptyPresenceChanges } from '../ipc/presenceColumns.ts';
import { forEachTaken } from '../ipc/publishesTaken.ts';
import { RequestSequence } from '../ipc/requestOrder.ts';
import { threadTotals } from '../metrics/threadTotals.ts';
import { WorkerCounters } from '../metrics/workerCounters.ts';
import { type us_listen_socket, uws } from '../transport/uws.ts';
import { ApiRateGate } from './apiRateGate.ts';
import { HttpBridge } from './httpBridge.ts';
import { LocalPublishOrder, LoopLoad, STREAMING_MS } from './localPublishOrder.ts';
import { WsServer } from './wsServer.ts';

const init = workerData as WorkerInit;
const port = parentPort as NonNullable<typeof parentPort>;
const { config, index } = init;
const log = createLogger(config, `worker-${index}`);
const outbox = new Outbox<WorkerToPrimary>((m) => port.postMessage(m));
// A channel's first subscriber is news the primary's queries must see before the client can act on its
// subscription_succeeded, so it is not held back for batching.
// An API request the primary answers is awaited by its client, as a presence join is: it leaves in chunks.
const toPrimary = (m: WorkerToPrimary) => {
  if (m.type === 'channel-occupied') return outbox.postNow(m);
  outbox.post(m);
  if (m.type === 'http-request') outbox.awaitedAdded();
};
/** Joins and leaves go into the `presence-changes` at the end of the queue, if any (ipc/presenceColumns.ts). */
const presenceToPrimary = (c: PresenceJoin | PresenceLeave) => {
  appendPresenceChange(outbox.addTo('presence-changes', () => emptyPresenceChanges(index)), c);
  if (c.type === 'presence-join') outbox.awaitedAdded();
};

let draining = false;
const quota = new ConnectionQuota(init.connectionCounts);
const counters = new WorkerCounters(init.metricCounters, init.workerCount, config.apps.length, index);
const channelCounts = new ChannelCounts(init.channelCounts, config.max_channels_per_worker, index);
const ipQuota = new IpQuota(init.ipCounts);
const ws = new WsServer({ config, workerIndex: index, quota, ipQuota, counters, channelCounts, log, toPrimary, presenceToPrimary, isDraining: () => draining });
const localOrder = new LocalPublishOrder();
const loopLoad = new LoopLoad();
/** Its own window: whether hand-overs of the primary's stream in (ChannelDelivery.publishColumns may hold them). */
const framesLoad = new LoopLoad();
const http = new HttpBridge({
  config,
  log,
  counters,
  toPrimary,
  sequence: new RequestSequence(init.requestSequence),
  rateGate: new ApiRateGate(config, new ApiRateBudget(init.rateBudgets), counters),
  localOrder,
  deliverV1: (seq, app, events, hold, local) => {
    if (!hold) return ws.delivery.deliverAdmitted(app, events, local);
    // Held until the primary's answer: the primary hears of it now, not after uWS wrote this turn's fan-outs.
    if (ws.delivery.holdAdmitted(seq, app, events, local)) outbox.flushSoon();
  },
  assignPositions: (app, events) => ws.delivery.assignPositions(app, events),
  mayHold: (app, events) => ws.delivery.mayHold(app, events),
  deliverTaken: (admitted, taken, i, first) =>
    ws.delivery.deliverOwnPublish(admitted.seq, admitted.app, admitted.events, admitted.deliveredV1, taken, i, first, admitted.local),
  broadcasting: () => loopLoad.busy() || ws.delivery.broadcastWithin(STREAMING_MS),
  isDraining: () => draining,
});

const app = uws().App();
ws.attach(app);
http.attach(app);

const listenSockets: us_listen_socket[] = [];
function listen(host: string, p: number): Promise<number> {
  return new Promise((resolve, reject) => {
    app.listen(host, p, (ls) => {
      if (!ls) return reject(new Error(`worker ${index} cannot listen on ${host}:${p}`));
      listenSockets.push(ls);
      resolve(uws().us_socket_local_port(ls as never));
    });
  });
}

const publicPort = await listen(config.host, init.port);
const workerPort = config.worker_ports ? await listen(config.host, 0) : undefined;
log.debug({ port: publicPort, workerPort }, 'listening');
port.postMessage({ type: 'ready', index, port: publicPort, workerPort } satisfies WorkerToPrimary); // alone, for the start-up handshake

port.on('message', onMessage);

function onMessage(m: PrimaryToWorker): void {
  switch (m.type) {
    case 'batch':
      for (const inner of m.messages) onMessage(inner);
      return;
    case 'frames': {
      // Asked at most once per message: within it, a second reading would cover microseconds.
      let streaming: boolean | undefined;
      const handOversStream = () => (streaming ??= framesLoad.busy() || ws.delivery.broadcastWithin(STREAMING_MS));
      return forEachInOrder(
        m,
        (i, first, count) => {
          ws.delivery.publishColumns(m, first, count, m.at[i], handOversStream);
          localOrder.applied(m.through[i]);
        },
        (a) => ws.onPrimaryMessage(a),
      );
    }
    case 'terminate-user':
      // A publish stamped before the terminate and still held here reaches the user's sockets before they close.
      ws.delivery.flushHeld();
      return ws.onPrimaryMessage(m);
    case 'slot-released':
    case 'watchlist':
      return ws.onPrimaryMessage(m);
    case 'http-response':
      return http.respond(m);
    case 'publishes-taken':
      return forEachTaken(m, (i, first) => {
        http.publishTaken(m, i, first);
        localOrder.applied(m.through[i]);
      });
    case 'drain':
      return drain(m.windowMs);
    case 'stop':
      return stop();
    case 'health':
      http.degraded = m.degraded;
      return;
    case 'cache-entries':
      for (let k = 0; k < m.topics.length; k++) ws.cache.store(m.topics[k], m.frames[k], m.ttlMs[k]);
      return;
    case 'stream-opened':
      ws.replay.open(config.apps[m.app].id, m.channel, m.streamId, m.serial, Date.now());
      return;
    case 'thread-stats-request':
      // At once, not at the end of the turn: how long the answer took is itself a reading (a busy loop's lag).
      return outbox.postNow({ type: 'thread-stats', id: m.id, worker: index, ...threadTotals() });
    default:
      assertNever(m);
  }
}

/** Closes every socket with 4200, spread evenly over the window so clients do not all reconnect at once. */
function drain(windowMs: number): void {
  draining = true;
  ws.delivery.flushHeld();
  const sockets = [...ws.sockets.values()];
  const started = Date.now();
  let next = 0;
  const tick = () => {
    const due = windowMs <= 0 ? sockets.length : Math.ceil((sockets.length * (Date.now() - started)) / windowMs);
    for (const end = Math.min(sockets.length, Math.max(due, 1)); next < end; next++) ws.closeWith(sockets[next], 'shuttingDown');
    if (next < sockets.length) return void setTimeout(tick, 50);
    waitForHttp();
  };
  const waitForHttp = () => {
    if (http.inFlight > 0 || ws.sockets.size > 0) return void setTimeout(waitForHttp, 20);
    // Every channel is empty now: those still lingering (LINGER_MS) are vacated now, before `drained`, so the
    // primary takes this host out of them (other hosts' occupancy webhooks) before it stops.
    ws.channels.sweep(Number.POSITIVE_INFINITY);
    toPrimary({ type: 'drained', index });
  };
  tick();
}

function stop(): void {
  ws.delivery.flushHeld();
  ws.stop();
  for (const ls of listenSockets) uws().us_listen_socket_close(ls);
  listenSockets.length = 0;
  (app as typeof app & { close(): void }).close(); // in the binary, missing from its typings
  port.close();
}
