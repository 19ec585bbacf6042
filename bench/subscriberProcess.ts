// One loader child process: holds a share of the WebSocket subscribers (of one channel, or spread over many,
// on one host or several) and counts the frames that carry the benchmark's marker, reporting the running
// total to the parent every 10 ms. It may be told to connect several times (the fleet connects in stages
// when latency probes are to be spread through the subscription order).
import type { SubscriberCommand, SubscriberReport } from './loaderMessages.ts';
import { openRawSubscriber } from './rawSubscriber.ts';
import type { OpenSubscriber, Subscriber, SubscriberCounts } from './subscriberClient.ts';
import { openWsSubscriber } from './wsSubscriber.ts';

const send = (m: SubscriberReport) => process.send?.(m);
const counts: SubscriberCounts = { delivered: 0, lost: 0, closing: false };
const subscribers: Subscriber[] = [];
/** The count reporter, started by the first `connect`. */
let reporter: NodeJS.Timeout | undefined;
let reported = { delivered: -1, lost: -1 };

/** Whether the fleet-wide subscriber `index` speaks V2: exactly floor(n × share) of the first n do. */
function isV2Subscriber(index: number, share: number): boolean {
  return Math.floor((index + 1) * share) > Math.floor(index * share);
}

async function connect(c: Extract<SubscriberCommand, { type: 'connect' }>): Promise<void> {
  const open: OpenSubscriber = c.client === 'ws' ? openWsSubscriber : openRawSubscriber;
  const marker = Buffer.from(c.marker);
  const v2Marker = c.v2Filter ? Buffer.from(c.v2Filter.marker) : marker;
  const before = subscribers.length;
  let next = 0;
  let failed = 0;
  let v2Subscribed = 0;
  let firstError: string | null = null;
  // A bounded number of handshakes in flight: the server's accept queue, not the loader, sets the pace.
  const lane = async () => {
    while (next < c.count) {
      const index = c.offset + next++;
      const channel = c.channels > 0 ? `${c.channel}-${index % c.channels}` : c.channel;
      const v2 = isV2Subscriber(index, c.v2Share);
      const host = c.hosts ? c.hosts[Math.floor(index / Math.max(1, c.channels)) % c.hosts.length] : c;
      try {
        subscribers.push(
          await (v2 ? open(host.v2Url, channel, 2, v2Marker, counts, c.v2Filter?.filter) : open(host.url, channel, 1, marker, counts)),
        );
        if (v2) v2Subscribed++;
      } catch (err) {
        failed++;
        firstError ??= (err as Error).message;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(c.concurrency, c.count) }, lane));
  send({ type: 'ready', subscribed: subscribers.length - before, v2Subscribed, failed, firstError });
  reporter ??= setInterval(() => {
    if (counts.delivered === reported.delivered && counts.lost === reported.lost) return;
    reported = { delivered: counts.delivered, lost: counts.lost };
    send({ type: 'count', delivered: counts.delivered, lostSockets: counts.lost });
  }, 10);
}

/** Drops every socket at once (no closing handshakes to wait for) and exits; the parent awaits the exit. */
function close(): void {
  counts.closing = true;
  for (const s of subscribers) s.close();
  process.exit(0);
}

process.on('message', (c: SubscriberCommand) => {
  switch (c.type) {
    case 'connect':
      return void connect(c);
    case 'close':
      return close();
  }
});
process.on('disconnect', () => process.exit(0)); // the parent went away: never linger holding sockets
send({ type: 'alive' });
