// Validates presence `channel_data` as a worker receives it: `{user_id, user_info}`, where user_id may be a
// string or a number (as Pusher accepts) and is kept as a string.

export type PresenceMember = { ok: true; userId: string; userInfo: unknown } | { ok: false; message: string };

export function parsePresenceData(channelData: unknown, maxInfoKb: number): PresenceMember {
  if (typeof channelData !== 'string' || channelData === '') return { ok: false, message: 'Channel error: channel_data is required for presence channels' };
  let parsed: unknown;
  try {
    parsed = JSON.parse(channelData);
  } catch {
    return { ok: false, message: 'Channel error: Invalid JSON in channel_data' };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return { ok: false, message: 'Channel error: channel_data must be a JSON object' };
  const { user_id: rawId, user_info: userInfo = {} } = parsed as Record<string, unknown>;
  let userId: string;
  if (typeof rawId === 'string' && rawId !== '') userId = rawId;
  else if (typeof rawId === 'number' && Number.isFinite(rawId)) userId = String(rawId);
  else return { ok: false, message: 'Channel error: Missing user_id in channel_data' };
  if (userId.length > 128) return { ok: false, message: 'Channel error: user_id is too long (max 128 characters)' };
  // In whole KiB, as Sockudo counts it (integer division): a 2.5 KiB user_info passes a limit of 2.
  if (Math.floor(Buffer.byteLength(JSON.stringify(userInfo ?? null)) / 1024) > maxInfoKb) {
    return { ok: false, message: `Channel error: user_info is larger than ${maxInfoKb} KiB` };
  }
  return { ok: true, userId, userInfo };
}
