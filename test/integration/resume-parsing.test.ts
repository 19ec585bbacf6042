// How a sockudo:resume body is read, as Sockudo reads it (recovery.rs parse_resume_positions; SOCKUDO-REFERENCE §3.5,
// §1.8): missing data, neither map, a string that is not JSON (4000 with Sockudo's texts), and channel_positions
// winning over channel_serials even when empty (4302).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type Frame, type RawClient, openV2, serverSdk } from '../helpers/clients.ts';
import { type TestServer, startTestServer } from '../helpers/server.ts';

const isEvent = (name: string, channel?: string) => (f: Frame) => f.event === name && (channel === undefined || f.channel === channel);
async function sub(c: RawClient, data: Record<string, unknown>): Promise<Frame> {
  return c.request({ event: 'sockudo:subscribe', data }, (f) => (f.event.endsWith('subscription_succeeded') && f.channel === data.channel) || f.event.endsWith(':error'));
}
/** Sends a resume and returns what came back up to its error or resume_success (resume_failed and replays included). */
async function resume(c: RawClient, frame: Record<string, unknown>, ms = 5000): Promise<Frame[]> {
  const from = c.frames.length;
  c.send({ event: 'sockudo:resume', ...frame });
  await c.next((f) => f.event === 'sockudo:error' || f.event === 'sockudo:resume_success', ms, from);
  return c.frames.slice(from);
}
const errorOf = (frames: Frame[]) => frames.find((f) => f.event === 'sockudo:error')?.data as { code: number; message: string } | undefined;

describe('resume request parsing', () => {
  let server: TestServer;
  let c: RawClient;
  let streamId: string;
  const ch = 'rr2-parse';
  before(async () => {
    server = await startTestServer();
    c = await openV2(server.workerPorts[0]);
    const ack = await sub(c, { channel: ch });
    await serverSdk(server.workerPorts[0]).post({ path: '/events', body: { channels: [ch], name: 'm1', data: '{}' } as unknown as string });
    await c.next(isEvent('m1', ch));
    streamId = ack.stream_id as string;
  });
  after(async () => {
    c.close();
    await server.shutdown();
  });

  // §3.5 step 1: 4302 is for an *empty* position map; a resume without `data` is Sockudo's
  // InvalidMessageFormat("Missing data in resume message") => 4000 (§1.5/§1.7: "Invalid message format: …").
  test('a resume without data is 4000 "Invalid message format: Missing data in resume message"', async () => {
    const got = await resume(c, {});
    assert.deepEqual(errorOf(got), { code: 4000, message: 'Invalid message format: Missing data in resume message' });
  });

  // Neither channel_positions nor channel_serials: not an empty map but no map at all.
  test('a resume whose data has neither channel_positions nor channel_serials is 4000 with Sockudo\'s text', async () => {
    const got = await resume(c, { data: {} });
    assert.deepEqual(errorOf(got), { code: 4000, message: 'Invalid message format: Missing channel_positions or channel_serials in resume data' });
  });

  // §3.5: "`data` may be a string or object": a string that is not JSON fails to parse => 4000 "Invalid resume data JSON: …".
  test('a resume whose data is a string that is not JSON is 4000 "Invalid message format: Invalid resume data JSON: …"', async () => {
    const got = await resume(c, { data: 'not json' });
    const err = errorOf(got);
    assert.equal(err?.code, 4000, JSON.stringify(got));
    assert.match(err?.message ?? '', /^Invalid message format: Invalid resume data JSON: /);
  });

  // `channel_positions` present (even empty) is used and `channel_serials` ignored; an empty map is 4302.
  test('an empty channel_positions next to channel_serials is 4302, the legacy map is not used', async () => {
    const got = await resume(c, { data: { channel_positions: {}, channel_serials: { [ch]: 0 } } });
    assert.deepEqual(errorOf(got), { code: 4302, message: 'No channel recovery positions provided' }, JSON.stringify(got));
    assert.equal(got.filter((f) => f.event === 'm1' || f.event === 'sockudo:resume_success').length, 0);
  });
});
