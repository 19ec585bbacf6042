// sockudo_broadcast_latency_ms counts the sockets a publish reached: a publish whose only subscriber on a worker is the
// socket its socket_id excludes reached nobody there and is not observed (Sockudo: the channel's sockets minus the
// excluded one, nothing recorded for 0), including when its V1 frames went out at admission and its V2 side later.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { RawClient, openV2, serverSdk } from '../helpers/clients.ts';
import { freePort } from '../helpers/ports.ts';
import { type TestServer, eventually, startTestServer } from '../helpers/server.ts';

async function scrape(server: TestServer): Promise<string> {
  return (await fetch(`http://127.0.0.1:${server.metricsPort}/metrics`)).text();
}

function count(text: string, where: Record<string, string>): number {
  let total = 0;
  for (const line of text.split('\n')) {
    const m = /^sockudo_broadcast_latency_ms_count\{([^}]*)\} (\S+)$/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const pair of m[1].matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="([^"]*)"/g)) labels[pair[1]] = pair[2];
    if (Object.entries(where).every(([k, v]) => labels[k] === v)) total += Number(m[2]);
  }
  return total;
}

describe('broadcast latency and socket_id exclusion', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ metrics: { port: await freePort() } });
  });
  after(() => server.shutdown());

  test('a publish whose only subscriber here is the excluded V1 socket reached nobody: not observed', async () => {
    const port = server.workerPorts[0];
    const sender = await RawClient.open(port);
    await sender.request({ event: 'pusher:subscribe', data: { channel: 'excl-only' } }, (f) => f.event.endsWith('subscription_succeeded'));
    // A V2 socket of the app on the same worker (another channel): the V1 frames of a publish admitted here go out at
    // admission and its V2 side after the primary's answer.
    const v2 = await openV2(port);
    await v2.request({ event: 'sockudo:subscribe', data: { channel: 'excl-marker' } }, (f) => f.event.endsWith('subscription_succeeded'));
    const before = await scrape(server);
    const base = count(before, { app_id: 'app-id' });

    await serverSdk(port).trigger('excl-only', 'tick', { n: 1 }, { socket_id: sender.socketId });
    // A later publish that does reach someone, on the same worker: answers come in stamp order, so once it is
    // observed the first one has been handled too.
    await serverSdk(port).trigger('excl-marker', 'tick', { n: 2 });
    await v2.next((f) => f.event === 'tick' && f.channel === 'excl-marker');
    await eventually(async () => (count(await scrape(server), { app_id: 'app-id' }) > base ? true : null), 'the marker publish observed');
    const text = await scrape(server);
    assert.equal(sender.frames.some((f) => f.event === 'tick'), false, 'the excluded socket got nothing');
    assert.equal(count(text, { app_id: 'app-id' }) - base, 1, `only the marker publish is observed; excl-only reached nobody\n${text.split('\n').filter((l) => l.startsWith('sockudo_broadcast_latency_ms_count')).join('\n')}`);
    sender.close();
    v2.close();
  });
});
