// A subscriber on the `ws` client: the reference implementation, as a typical Node client receives frames.
import WebSocket from 'ws';
import { loopbackHost } from './loopback.ts';
import { IDLE, type OpenSubscriber, PONG, SUBSCRIBE_TIMEOUT_MS, controlEvent, subscribeFrame } from './subscriberClient.ts';

export const openWsSubscriber: OpenSubscriber = (url, channel, protocol, marker, counts, filter) =>
  new Promise((resolve, reject) => {
    let subscribed = false;
    loopbackHost(url); // throws (rejecting) for a host that is not loopback
    const ws = new WebSocket(url, { perMessageDeflate: false, skipUTF8Validation: true, handshakeTimeout: 15_000 });
    const fail = (why: string) => {
      if (subscribed) return;
      clearTimeout(timer);
      ws.terminate();
      reject(new Error(why));
    };
    const timer = setTimeout(() => fail(`no subscription_succeeded within ${SUBSCRIBE_TIMEOUT_MS / 1000} s`), SUBSCRIBE_TIMEOUT_MS);
    ws.on('message', (data: Buffer) => {
      if (subscribed) {
        // The hot path: one native byte search per frame, no JSON parsing. (V2 pings are native; ws answers them.)
        if (data.indexOf(marker) !== -1) counts.delivered++;
        else if (data.includes('pusher:ping')) ws.send(PONG);
        return;
      }
      const m = JSON.parse(data.toString('utf8')) as { event?: string; data?: unknown };
      const ready = () => {
        subscribed = true;
        clearTimeout(timer);
        resolve({ close: () => ws.terminate() });
      };
      switch (controlEvent(m.event)) {
        case 'connection_established':
          // No channel: an idle connection, done once the server has accepted it.
          return channel === IDLE ? ready() : ws.send(subscribeFrame(channel, protocol, filter));
        case 'subscription_succeeded':
          return ready();
        case 'error':
          return fail(`${m.event} ${JSON.stringify(m.data)}`);
      }
    });
    ws.on('error', (err) => fail(err.message));
    ws.on('close', (code) => {
      if (subscribed && !counts.closing) counts.lost++;
      fail(`closed with ${code} before subscribing`);
    });
  });
