// Sockudo's V2 feature switches (SOCKUDO-REFERENCE §1.2, §3.2, §3.8): `ephemeral.enabled` off drops
// `extras.ephemeral` (the message is an ordinary one), `echo_control.enabled` off ignores `?echo_messages` and
// `extras.echo` (V2 senders get their own client events) and drops `extras.echo` from publishes, and
// `echo_control.default_echo_messages` is the echo setting of a V2 socket that connects without the parameter.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import Pusher from 'pusher';
import { type Frame, type RawClient, openV2, serverSdk } from '../helpers/clients.ts';
import { startTestServer } from '../helpers/server.ts';

const sdk = new Pusher({ appId: 'app-id', key: 'app-key', secret: 'app-secret', host: '127.0.0.1' });
const isEvent = (name: string, channel?: string) => (f: Frame) => f.event === name && (channel === undefined || f.channel === channel);

async function joinPrivate(c: RawClient, channel: string): Promise<void> {
  const { auth } = sdk.authorizeChannel(c.socketId, channel);
  const f = await c.request({ event: 'sockudo:subscribe', data: { channel, auth } }, (x) => x.channel === channel || x.event.endsWith(':error'));
  assert.equal(f.event, 'sockudo_internal:subscription_succeeded');
}

describe('V2 feature switches', () => {
  test('ephemeral.enabled = false: extras.ephemeral is dropped and the message is an ordinary one (serial, replayed)', async () => {
    const server = await startTestServer({ ephemeral: { enabled: false } });
    try {
      const c = await openV2(server.port);
      await c.request({ event: 'sockudo:subscribe', data: { channel: 'eph-off' } }, (f) => f.channel === 'eph-off');
      await serverSdk(server.port).post({ path: '/events', body: { channels: ['eph-off'], name: 'e', data: '{}', extras: { ephemeral: true } } as unknown as string });
      const got = await c.next(isEvent('e', 'eph-off'));
      assert.equal(got.extras, undefined, 'extras left empty are left out');
      assert.equal(got.serial, 1, 'an ordinary message takes a serial');
      // And it is kept for replay: a rewind finds it.
      const late = await openV2(server.port);
      await late.request({ event: 'sockudo:subscribe', data: { channel: 'eph-off', rewind: { count: 5 } } }, (f) => f.event === 'sockudo:rewind_complete');
      assert.deepEqual(late.frames.filter(isEvent('e', 'eph-off')).map((f) => f.serial), [1]);
      for (const x of [c, late]) x.close();
    } finally {
      await server.shutdown();
    }
  });

  test('echo_control.enabled = false: ?echo_messages=false and extras.echo are ignored, and extras.echo is dropped from publishes', async () => {
    const server = await startTestServer({ echo_control: { enabled: false, default_echo_messages: true } });
    try {
      const c = await openV2(server.port, '&echo_messages=false');
      await joinPrivate(c, 'private-echo-off');
      c.send({ event: 'client-x', channel: 'private-echo-off', data: {}, extras: { echo: false } });
      await c.next(isEvent('client-x', 'private-echo-off'));
      await serverSdk(server.port).post({ path: '/events', body: { channels: ['private-echo-off'], name: 'h', data: '{}', extras: { echo: false, headers: { a: 1 } } } as unknown as string });
      assert.deepEqual((await c.next(isEvent('h', 'private-echo-off'))).extras, { headers: { a: 1 } });
      c.close();
    } finally {
      await server.shutdown();
    }
  });

  test('echo_control.default_echo_messages = false: a V2 sender without ?echo_messages does not get its own client events; ?echo_messages=true does', async () => {
    const server = await startTestServer({ echo_control: { enabled: true, default_echo_messages: false } });
    try {
      const channel = 'private-echo-default';
      // All on one thread: the primary relays a client event to that thread once, for every socket there.
      const quiet = await openV2(server.workerPorts[0]);
      const asked = await openV2(server.workerPorts[0], '&echo_messages=true');
      const peer = await openV2(server.workerPorts[0]);
      for (const c of [quiet, asked, peer]) await joinPrivate(c, channel);
      quiet.send({ event: 'client-quiet', channel, data: {} });
      asked.send({ event: 'client-asked', channel, data: {} });
      await peer.next(isEvent('client-quiet', channel));
      await peer.next(isEvent('client-asked', channel));
      await asked.next(isEvent('client-asked', channel));
      // Anything for `quiet` was written before the peer's copies; its pong comes after it on the same socket.
      await quiet.request({ event: 'sockudo:ping' }, (f) => f.event === 'sockudo:pong');
      assert.equal(quiet.frames.filter(isEvent('client-quiet')).length, 0);
      assert.equal(quiet.frames.filter(isEvent('client-asked')).length, 1);
      for (const c of [quiet, asked, peer]) c.close();
    } finally {
      await server.shutdown();
    }
  });
});
