// A subscriber on a raw TCP socket (bench/rawSocket.ts): once subscribed, frames carrying the marker are
// counted without being decoded. Its user-space cost per frame is near zero; at 5,000 sockets the loader's
// time is mostly kernel reads, so it measured only ~10 % cheaper than `ws` here, but every bit of CPU the
// loader saves on a 2-core machine goes to the server under test.
import { RawSocket } from './rawSocket.ts';
import { IDLE, type OpenSubscriber, PONG, SUBSCRIBE_TIMEOUT_MS, controlEvent, subscribeFrame } from './subscriberClient.ts';

export const openRawSubscriber: OpenSubscriber = (url, channel, protocol, marker, counts, filter) =>
  new Promise((resolve, reject) => {
    let subscribed = false;

    const fail = (why: string) => {
      if (subscribed) return;
      clearTimeout(timer);
      socket.destroy();
      reject(new Error(why));
    };
    const timer = setTimeout(() => fail(`no subscription_succeeded within ${SUBSCRIBE_TIMEOUT_MS / 1000} s`), SUBSCRIBE_TIMEOUT_MS);

    const ready = () => {
      if (subscribed) return;
      subscribed = true;
      clearTimeout(timer);
      resolve({ close: () => socket.destroy() });
    };

    /** Frames before the subscription is confirmed, and frames without the marker: decoded one by one. */
    const control = (text: string) => {
      const m = JSON.parse(text) as { event?: string; data?: unknown };
      switch (controlEvent(m.event)) {
        case 'connection_established':
          // No channel: an idle connection, done once the server has accepted it.
          return channel === IDLE ? ready() : socket.send(subscribeFrame(channel, protocol, filter));
        case 'subscription_succeeded':
          return ready();
        case 'error':
          return fail(`${m.event} ${JSON.stringify(m.data)}`);
        case 'ping':
          return socket.send(PONG);
      }
    };

    const socket = new RawSocket(url, {
      text(buf, start, end) {
        if (subscribed) {
          const at = buf.indexOf(marker, start);
          if (at !== -1 && at < end) {
            counts.delivered++;
            return;
          }
        }
        control(buf.toString('utf8', start, end));
      },
      end(why) {
        if (subscribed) {
          if (!counts.closing) counts.lost++;
        } else fail(why);
      },
    });
  });
