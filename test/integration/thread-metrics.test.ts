// Per-thread load on /metrics: the worker count, each worker's busy ratio, heap and response time (Sockudo's
// `sockudo_tokio_*` names for the workers), and the primary's busy ratio, read at scrape time. This test runs on
// the primary thread itself, so it can make the primary busy and idle between two scrapes.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type TestServer, startTestServer } from '../helpers/server.ts';

/** `name{labels} value` lines of one metric, as label text → value. */
function samples(text: string, name: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = new RegExp(`^${name}\\{([^}]*)\\} (\\S+)$`).exec(line);
    if (m) out.set(m[1], Number(m[2]));
  }
  return out;
}

describe('thread metrics', () => {
  let server: TestServer;
  const scrape = async () => (await fetch(`http://127.0.0.1:${server.metricsPort}/metrics`)).text();

  before(async () => {
    server = await startTestServer({ workers: 2 });
  });
  after(() => server.shutdown());

  test('every worker is reported with its busy ratio, heap and response time', async () => {
    const text = await scrape();
    const port = String(server.config.metrics.port); // the label every metric carries: the configured port
    assert.deepEqual([...samples(text, 'sockudo_tokio_workers_count')], [[`port="${port}"`, 2]]);
    for (const name of ['sockudo_tokio_worker_busy_ratio', 'sockudo_worker_busy_seconds_total', 'sockudo_worker_heap_used_bytes', 'sockudo_worker_response_seconds']) {
      assert.deepEqual([...samples(text, name).keys()].sort(), [`port="${port}",worker="0"`, `port="${port}",worker="1"`], name);
    }
    for (const ratio of samples(text, 'sockudo_tokio_worker_busy_ratio').values()) assert.ok(ratio >= 0 && ratio <= 1, `busy ratio ${ratio}`);
    for (const heap of samples(text, 'sockudo_worker_heap_used_bytes').values()) assert.ok(heap > 1024 * 1024, `heap ${heap}`);
    // An idle worker answers well inside the 1 s a stuck one would be reported with.
    for (const s of samples(text, 'sockudo_worker_response_seconds').values()) assert.ok(s > 0 && s < 0.9, `response ${s} s`);
    assert.equal(samples(text, 'sockudo_primary_busy_ratio').size, 1);
    // Running totals: a later scrape never reads less.
    const before = samples(text, 'sockudo_worker_busy_seconds_total');
    const later = samples(await scrape(), 'sockudo_worker_busy_seconds_total');
    for (const [labels, v] of before) assert.ok((later.get(labels) ?? -1) >= v && v > 0, `${labels}: ${v} then ${later.get(labels)}`);
  });

  test("an idle primary's event-loop lag reads as the sampler's 10 ms, not more", async () => {
    await scrape(); // prom-client starts the lag histogram afresh after each scrape
    await new Promise((resolve) => setTimeout(resolve, 300)); // idle: what is measured
    const text = await scrape();
    const p50 = Number(/^nodejs_eventloop_lag_p50_seconds (\S+)$/m.exec(text)?.[1]);
    // Each figure is a whole interval between the sampler's ticks: 10 ms plus the lag (100 ms with a 100 ms sampler).
    assert.ok(p50 > 0 && p50 < 0.05, `p50 ${p50} s`);
  });

  test("the primary's busy ratio covers the time since the previous scrape", async () => {
    await scrape();
    const busyUntil = Date.now() + 800;
    while (Date.now() < busyUntil) {
      // the primary's event loop is busy
    }
    const busy = [...samples(await scrape(), 'sockudo_primary_busy_ratio').values()][0];
    assert.ok(busy > 0.6, `after 800 ms of a busy loop: ${busy}`);
    await new Promise((resolve) => setTimeout(resolve, 400)); // the primary waits, idle: what is measured
    const idle = [...samples(await scrape(), 'sockudo_primary_busy_ratio').values()][0];
    assert.ok(idle < 0.5, `after 400 ms idle: ${idle}`);
  });
});
