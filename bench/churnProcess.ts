// One loader child process for the churn scenario: holds `count` sockets, each cycling through one
// private or presence channel (its own, or with presence-rooms a room it shares with roomSize - 1 others):
// subscribe, and on subscription_succeeded count a pair, then send unsubscribe and the next subscribe in the
// same write. Counts the member_added / member_removed frames the rooms' other members get. Answers the
// parent's snapshots with its counts.
import type { ChurnCommand, ChurnKind, ChurnReport } from './loaderMessages.ts';
import { RawSocket, clientText } from './rawSocket.ts';
import { type AppCredentials, channelAuth } from './signing.ts';
import { PONG, SUBSCRIBE_TIMEOUT_MS, controlEvent } from './subscriberClient.ts';

const send = (m: ChurnReport) => process.send?.(m);
const counts = { pairs: 0, memberEvents: 0, errors: 0, lost: 0 };
let firstError: string | null = null;
let churning = false;
let closing = false;
const sockets: ChurnSocket[] = [];

const SUCCEEDED = Buffer.from('subscription_succeeded');
const MEMBER = Buffer.from('pusher_internal:member_');
/** After a pusher:error (refused subscribe), wait this long before trying again. */
const RETRY_MS = 100;

class ChurnSocket {
  private socket!: RawSocket;
  /** The subscribe frame, and unsubscribe + subscribe in one buffer (one write per cycle). */
  private subscribe!: Buffer;
  private cycle!: Buffer;

  /** Resolves once connection_established gave the socket id (the channel auth signs it). */
  static open(url: string, index: number, kind: ChurnKind, roomSize: number, app: AppCredentials): Promise<ChurnSocket> {
    return new Promise((resolve, reject) => {
      const s = new ChurnSocket();
      let ready = false;
      const timer = setTimeout(() => {
        s.socket.destroy();
        reject(new Error(`no connection_established within ${SUBSCRIBE_TIMEOUT_MS / 1000} s`));
      }, SUBSCRIBE_TIMEOUT_MS);
      s.socket = new RawSocket(url, {
        text: (buf, start, end) => {
          if (ready) return s.onText(buf, start, end);
          const m = JSON.parse(buf.toString('utf8', start, end)) as { event?: string; data?: unknown };
          if (controlEvent(m.event) !== 'connection_established') return;
          ready = true;
          clearTimeout(timer);
          s.prepare(JSON.parse(m.data as string).socket_id as string, index, kind, roomSize, app);
          resolve(s);
        },
        end: (why) => {
          if (ready) {
            if (!closing) counts.lost++;
            return;
          }
          clearTimeout(timer);
          reject(new Error(why));
        },
      });
    });
  }

  private prepare(socketId: string, index: number, kind: ChurnKind, roomSize: number, app: AppCredentials): void {
    const channel = kind === 'presence-rooms' ? `presence-churn-room-${Math.floor(index / roomSize)}` : `${kind}-churn-${index}`;
    const data: Record<string, string> = { channel };
    if (kind !== 'private') {
      data.channel_data = JSON.stringify({ user_id: `u${index}` });
      data.auth = channelAuth(app, socketId, channel, data.channel_data);
    } else data.auth = channelAuth(app, socketId, channel);
    this.subscribe = clientText(JSON.stringify({ event: 'pusher:subscribe', data }));
    this.cycle = Buffer.concat([clientText(JSON.stringify({ event: 'pusher:unsubscribe', data: { channel } })), this.subscribe]);
  }

  start(): void {
    this.socket.write(this.subscribe);
  }

  close(): void {
    this.socket.destroy();
  }

  private onText(buf: Buffer, start: number, end: number): void {
    const at = buf.indexOf(SUCCEEDED, start);
    if (at !== -1 && at < end) {
      counts.pairs++;
      if (churning) this.socket.write(this.cycle);
      return;
    }
    const member = buf.indexOf(MEMBER, start);
    if (member !== -1 && member < end) {
      counts.memberEvents++;
      return;
    }
    const m = JSON.parse(buf.toString('utf8', start, end)) as { event?: string; data?: unknown };
    switch (controlEvent(m.event)) {
      case 'error':
        counts.errors++;
        firstError ??= `${m.event} ${JSON.stringify(m.data)}`;
        setTimeout(() => churning && this.socket.write(this.cycle), RETRY_MS);
        return;
      case 'ping':
        return this.socket.send(PONG);
      // member_added / member_removed and the like: nothing to do.
    }
  }
}

async function connect(c: Extract<ChurnCommand, { type: 'connect' }>): Promise<void> {
  let next = 0;
  let failed = 0;
  let connectError: string | null = null;
  const lane = async () => {
    while (next < c.count) {
      const index = c.offset + next++;
      try {
        sockets.push(await ChurnSocket.open(c.url, index, c.kind, c.roomSize, c.app));
      } catch (err) {
        failed++;
        connectError ??= (err as Error).message;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(c.concurrency, c.count) }, lane));
  send({ type: 'ready', connected: sockets.length, failed, firstError: connectError });
}

process.on('message', (c: ChurnCommand) => {
  switch (c.type) {
    case 'connect':
      return void connect(c);
    case 'start':
      churning = true;
      for (const s of sockets) s.start();
      return;
    case 'snapshot':
      return void send({ type: 'snapshot', id: c.id, pairs: counts.pairs, memberEvents: counts.memberEvents, errors: counts.errors, lostSockets: counts.lost, firstError });
    case 'stop':
      churning = false;
      closing = true;
      for (const s of sockets) s.close();
      return process.exit(0); // the parent awaits this exit
  }
});
process.on('disconnect', () => process.exit(0)); // the parent went away: never linger holding sockets
