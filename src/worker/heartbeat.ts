// When the server pings a silent socket. V1: `pusher:ping` after activity_timeout (Pusher). V2: a native ping after
// max(websocket.ping_interval, activity_timeout / 2, 5) seconds, Sockudo's formula (SOCKUDO-REFERENCE §1.6).
import type { Config } from '../config/schema.ts';

type HeartbeatConfig = Pick<Config, 'activity_timeout' | 'websocket_ping_interval'>;

/** Seconds of client silence before a ping, per protocol version. */
export function pingAfterSeconds(protocol: 1 | 2, config: HeartbeatConfig): number {
  if (protocol === 1) return config.activity_timeout;
  return Math.max(config.websocket_ping_interval, config.activity_timeout / 2, 5);
}
