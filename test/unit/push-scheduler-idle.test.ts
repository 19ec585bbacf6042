// The push scheduler when there is nothing to send (src/push/scheduler.ts): it sleeps until the store's next
// due time (PushStore.nextDueAt) instead of polling the store every 100 ms, but at least once a second for
// housekeeping; a publish due later is still planned when it becomes due, not at the next second.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import pino from 'pino';
import { Registry } from 'prom-client';
import { pushConfigSchema } from '../../src/config/pushSchema.ts';
import { PushMetrics } from '../../src/push/pushMetrics.ts';
import { PushScheduler } from '../../src/push/scheduler.ts';
import { SqlitePushStore } from '../../src/push/sqliteStore.ts';
import type { PublishRecord } from '../../src/push/types.ts';

const dir = mkdtempSync(join(tmpdir(), 'sockudo-push-idle-'));
after(() => rmSync(dir, { recursive: true, force: true }));

async function setup(name: string) {
  const store = new SqlitePushStore(join(dir, `${name}.db`));
  await store.init();
  let steps = 0;
  const duePublishes = store.duePublishes.bind(store);
  store.duePublishes = (now, limit) => {
    steps++; // every scheduling step starts here
    return duePublishes(now, limit);
  };
  const scheduler = new PushScheduler({
    store,
    senders: new Map(),
    config: pushConfigSchema.parse({}),
    log: pino({ level: 'silent' }),
    metrics: new PushMetrics(new Registry()),
    soleOwner: true,
  });
  return { store, scheduler, steps: () => steps };
}

function publishDueAt(publishId: string, notBeforeMs: number): PublishRecord {
  const now = Date.now();
  return {
    appId: 'app-id',
    publishId,
    state: 'queued',
    intent: { recipients: [{ type: 'device', deviceId: 'nobody' }], payload: { title: 'Hi' }, overrides: {}, notBeforeMs, expiresAtMs: 0 },
    expectedRecipients: 0,
    createdAtMs: now,
    keepUntilMs: now + 60_000,
    errorReason: null,
  };
}

test('with nothing to do, the scheduler steps about once a second instead of ten times', async () => {
  const { store, scheduler, steps } = await setup('idle');
  await scheduler.start();
  const startedAt = Date.now();
  await new Promise((resolve) => setTimeout(resolve, 2500));
  const perSecond = steps() / ((Date.now() - startedAt) / 1000);
  await scheduler.stop();
  await store.close();
  // 100 ms polling made 10 steps a second; sleeping until housekeeping makes 1 (plus the first).
  assert.ok(perSecond <= 2, `${steps()} steps in 2.5 s`);
  assert.ok(steps() >= 2, 'it still wakes up for housekeeping');
});

test('a publish due in 400 ms is planned when it is due, not at the next second', async () => {
  const { store, scheduler } = await setup('delayed');
  await scheduler.start();
  const createdAt = Date.now();
  await store.createPublish(publishDueAt('later', createdAt + 400), createdAt);
  scheduler.wake(); // as the push service does after admitting a publish
  const state = await scheduler.waitForFinal('app-id', 'later', 5000);
  const tookMs = Date.now() - createdAt;
  await scheduler.stop();
  await store.close();
  assert.equal(state, 'succeeded'); // no device reached: nothing to send, so done
  assert.ok(tookMs >= 400, `planned after ${tookMs} ms, before it was due`);
  assert.ok(tookMs < 900, `planned after ${tookMs} ms: it waited for the next housekeeping instead of the due time`);
});
