// Validates presence `channel_data` as a worker receives it: `{user_id, user_info}`, where user_id may be any
// string or a number (as Pusher accepts) and is kept as a string; Sockudo's refusal texts.

export type PresenceMember = { ok: true; userId: string; userInfo: unknown } | { ok: false; message: string };

export function parsePresenceData(channelData: unknown, maxInfoKb: number): PresenceMember {
  if (typeof channelData !== 'string' || channelData === '') return { ok: false, message: 'Channel error: channel_data is required for presence channels' };
  let parsed: unknown;
  try {
    parsed = JSON.parse(channelData);
  } catch {
    return { ok: false, message: 'Channel error: Invalid JSON in channel_data' };
  }
  const { user_id: rawId, user_info: userInfo = {} } = typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {};
  // Any string, as Sockudo takes it; a number too, as Pusher does (Sockudo refuses numbers).
  let userId: string;
  if (typeof rawId === 'string') userId = rawId;
  else if (typeof rawId === 'number' && Number.isFinite(rawId)) userId = String(rawId);
  else return { ok: false, message: 'Channel error: Missing user_id in channel_data' };
  // In whole KiB, as Sockudo counts it (integer division; a string as its own bytes, anything else as its JSON): a
  // 2.5 KiB user_info passes a limit of 2.
  const sizeKb = Math.floor(Buffer.byteLength(typeof userInfo === 'string' ? userInfo : JSON.stringify(userInfo ?? null)) / 1024);
  if (sizeKb > maxInfoKb) return { ok: false, message: `Channel error: Presence member data size (${sizeKb}KB) exceeds limit (${maxInfoKb}KB)` };
  return { ok: true, userId, userInfo };
}
