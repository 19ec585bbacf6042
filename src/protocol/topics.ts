// uWS topic names: one per protocol version, app and channel, so each subscriber gets the frame shaped for
// the protocol it negotiated without re-serializing per subscriber. "\n" cannot occur in app ids or channels.
import type { ProtocolVersion } from './frames.ts';

export function topicFor(protocol: ProtocolVersion, appId: string, channel: string): string {
  return `${protocol}\n${appId}\n${channel}`;
}
