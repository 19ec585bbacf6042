// The latency probes' child process: a handful of subscribers that otherwise stay idle, so the time between a
// frame's arrival and its timestamp is not spent queueing behind thousands of other sockets' frames. Each
// frame carrying the marker holds, in its data, the publish's number `s` and its send time `t` (µs on
// CLOCK_MONOTONIC, process.hrtime, which every process on one Linux machine shares); the probe records
// receive time − t per publish number and hands the samples to the parent on request.
import { monotonicUs } from './clock.ts';
import type { ProbeCommand, ProbeReport } from './loaderMessages.ts';
import { RawSocket } from './rawSocket.ts';
import { PONG, SUBSCRIBE_TIMEOUT_MS, controlEvent, subscribeFrame } from './subscriberClient.ts';

const send = (m: ProbeReport) => process.send?.(m);

let sockets: RawSocket[] = [];
let closing = false;
let lost = 0;
let seqs: number[] = [];
let latencies: number[] = [];

function openProbe(url: string, channel: string, marker: Buffer): Promise<RawSocket> {
  return new Promise((resolve, reject) => {
    let subscribed = false;
    const fail = (why: string) => {
      if (subscribed) return;
      clearTimeout(timer);
      socket.destroy();
      reject(new Error(why));
    };
    const timer = setTimeout(() => fail(`no subscription_succeeded within ${SUBSCRIBE_TIMEOUT_MS / 1000} s`), SUBSCRIBE_TIMEOUT_MS);
    const socket = new RawSocket(url, {
      text(buf, start, end) {
        const now = monotonicUs();
        if (subscribed) {
          const at = buf.indexOf(marker, start);
          if (at === -1 || at >= end) return; // another event on the channel (the load of multi-host)
          const frame = JSON.parse(buf.toString('utf8', start, end)) as { data: string };
          const d = JSON.parse(frame.data) as { s: number; t: number };
          seqs.push(d.s);
          latencies.push(now - d.t);
          return;
        }
        const m = JSON.parse(buf.toString('utf8', start, end)) as { event?: string; data?: unknown };
        switch (controlEvent(m.event)) {
          case 'connection_established':
            return socket.send(subscribeFrame(channel));
          case 'subscription_succeeded':
            subscribed = true;
            clearTimeout(timer);
            return resolve(socket);
          case 'error':
            return fail(`${m.event} ${JSON.stringify(m.data)}`);
          case 'ping':
            return socket.send(PONG);
        }
      },
      end(why) {
        if (subscribed) {
          if (!closing) lost++;
        } else fail(why);
      },
    });
  });
}

async function open(c: Extract<ProbeCommand, { type: 'open' }>): Promise<void> {
  let subscribed = 0;
  let failed = 0;
  let firstError: string | null = null;
  for (let i = 0; i < c.count; i++) {
    try {
      sockets.push(await openProbe(c.url, c.channel, Buffer.from(c.marker)));
      subscribed++;
    } catch (err) {
      failed++;
      firstError ??= (err as Error).message;
    }
  }
  send({ type: 'opened', subscribed, failed, firstError });
}

function collect(c: Extract<ProbeCommand, { type: 'collect' }>): void {
  const s: number[] = [];
  const l: number[] = [];
  for (let i = 0; i < seqs.length; i++) {
    if (seqs[i] < c.from || seqs[i] >= c.to) continue;
    s.push(seqs[i]);
    if (!c.countOnly) l.push(latencies[i]);
  }
  send({ type: 'samples', id: c.id, received: s.length, seqs: c.countOnly ? [] : s, latenciesUs: l, lostSockets: lost });
}

function drop(): void {
  closing = true;
  for (const s of sockets) s.destroy();
  sockets = [];
  seqs = [];
  latencies = [];
  lost = 0;
  closing = false;
  send({ type: 'dropped' });
}

process.on('message', (c: ProbeCommand) => {
  switch (c.type) {
    case 'open':
      return void open(c);
    case 'collect':
      return collect(c);
    case 'drop':
      return drop();
    case 'close':
      closing = true;
      for (const s of sockets) s.destroy();
      return process.exit(0);
  }
});
process.on('disconnect', () => process.exit(0)); // the parent went away: never linger holding sockets
