// Rewind as Sockudo answers it (SOCKUDO-REFERENCE §3.6): truncated_by_retention when what is kept no longer starts at
// the stream's first message, complete otherwise; integers inside the object, a numeric string (leading zeros allowed)
// bare; refused with 4300 when there is no buffer to serve it (connection recovery off).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type Frame, type RawClient, openV2, serverSdk } from '../helpers/clients.ts';
import { type TestServer, startTestServer } from '../helpers/server.ts';

const isEvent = (name: string, channel?: string) => (f: Frame) => f.event === name && (channel === undefined || f.channel === channel);
async function sub(c: RawClient, data: Record<string, unknown>): Promise<Frame> {
  return c.request({ event: 'sockudo:subscribe', data }, (f) => (f.event.endsWith('subscription_succeeded') && f.channel === data.channel) || f.event.endsWith(':error'));
}
/** Subscribes with a rewind; the rewind_complete data, or the error frame's data. */
async function rewind(port: number, channel: string, spec: unknown): Promise<Record<string, unknown>> {
  const c = await openV2(port);
  try {
    const f = await c.request({ event: 'sockudo:subscribe', data: { channel, rewind: spec } }, (x) => isEvent('sockudo:rewind_complete', channel)(x) || x.event === 'sockudo:error');
    return f.data as Record<string, unknown>;
  } finally {
    c.close();
  }
}

describe('rewind', () => {
  let server: TestServer;
  let port: number;
  const watchers: RawClient[] = [];
  before(async () => {
    server = await startTestServer({ connection_recovery: { enabled: true, buffer_ttl_seconds: 120, max_buffer_size: 3 } });
    port = server.workerPorts[0];
    const http = serverSdk(port);
    // 'rr2-two': serials 1..2, all retained. 'rr2-five': serials 1..5, the buffer keeps 3..5.
    for (const [ch, n] of [['rr2-two', 2], ['rr2-five', 5]] as const) {
      const w = await openV2(port);
      await sub(w, { channel: ch });
      for (let i = 1; i <= n; i++) await http.post({ path: '/events', body: { channels: [ch], name: `m${i}`, data: '{}' } as unknown as string });
      await w.next(isEvent(`m${n}`, ch));
      watchers.push(w);
    }
  });
  after(async () => {
    for (const w of watchers) w.close();
    await server.shutdown();
  });

  test('asking for more than a channel ever had (nothing dropped) is complete, not truncated_by_retention', async () => {
    assert.deepEqual(await rewind(port, 'rr2-two', { count: 3 }), {
      historical_count: 2,
      live_count: 0,
      complete: true,
      truncated_by_retention: false,
      truncated_by_limit: false,
    });
  });

  test('a rewind on a channel with nothing published is complete with 0 messages', async () => {
    assert.deepEqual(await rewind(port, 'rr2-nothing-here', { count: 3 }), {
      historical_count: 0,
      live_count: 0,
      complete: true,
      truncated_by_retention: false,
      truncated_by_limit: false,
    });
  });

  test('a channel whose oldest messages were dropped reports truncated_by_retention even when the count is met', async () => {
    assert.deepEqual(await rewind(port, 'rr2-five', { count: 2 }), {
      historical_count: 2,
      live_count: 0,
      complete: false,
      truncated_by_retention: true,
      truncated_by_limit: false,
    });
  });

  // §3.6: "`rewind` value: positive integer N, numeric string, {"count":N}, {"seconds":S} or {"duration_seconds":S};
  // 0 or other shapes ⇒ Invalid rewind option (4000)". Inside the object the values must be JSON integers
  // (`Value::as_u64`); a numeric string is parsed as Rust's usize ("05" is 5).
  test('{"count":"2"} and {"seconds":"5"} are other shapes: 4000 Invalid rewind option', async () => {
    for (const spec of [{ count: '2' }, { seconds: '5' }, { duration_seconds: '5' }]) {
      assert.deepEqual(await rewind(port, 'rr2-two', spec), { code: 4000, message: 'Invalid message format: Invalid rewind option in subscription data' }, JSON.stringify(spec));
    }
  });

  test('a numeric string with a leading zero ("02") is a rewind of 2', async () => {
    const got = await rewind(port, 'rr2-two', '02');
    assert.equal(got.historical_count, 2, JSON.stringify(got));
  });
});

describe('rewind with connection recovery off', () => {
  // Sockudo refuses a rewind its (history) policy does not allow, after subscription_succeeded, with
  // `Error::Channel("Channel rewind is disabled by policy for channel '<ch>'")` => {P}error 4300 (§3.6 "Errors are
  // {P}error 4300"). Here rewind is served by the recovery buffer, which `connection_recovery.enabled: false` turns off.
  test('a rewind is refused with 4300 "Channel error: Channel rewind is disabled by policy for channel \'…\'"', async () => {
    const server = await startTestServer({ connection_recovery: { enabled: false, buffer_ttl_seconds: 120, max_buffer_size: 100 } });
    try {
      const got = await rewind(server.workerPorts[0], 'rr2-off', { count: 5 });
      assert.deepEqual(got, { code: 4300, message: "Channel error: Channel rewind is disabled by policy for channel 'rr2-off'" });
    } finally {
      await server.shutdown();
    }
  });
});
