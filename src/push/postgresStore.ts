// The push store for several hosts: one PostgreSQL database (pg.Pool) shared by every host.
// Same tables and columns as the SQLite store (so the row mappers in storeRows.ts serve both): ms timestamps are
// BIGINT (pg hands them back as strings; the mappers convert with Number), JSON columns are TEXT holding JSON.
// Key columns use COLLATE "C" so lists page in byte order, as in SQLite, whatever the database's locale.
// Concurrency between hosts rests on row locks: claims skip rows another host holds (FOR UPDATE SKIP LOCKED), a
// publish is planned under its row lock, and every write touching a publish and its deliveries locks the publish
// row first (one lock order, so no deadlocks). Needs PostgreSQL 12 or later (AS MATERIALIZED).
import pg from 'pg';
import type { DeliveryOutcome, DocumentKind, PageQuery, PushStore } from './store.ts';
import {
  type ChannelSubscription,
  type DeadLetter,
  type Delivery,
  type DeliveryState,
  type DeviceRecord,
  type Page,
  type PublishCounters,
  type PublishRecord,
  type PublishState,
  directDeliveries,
  providerOf,
} from './types.ts';
import { NEXT_DUE_SQL, type Row, countersFromStates, deadLetterFromRow, decodeCursor, deliveryFromRow, deviceFromRow, documentPage, pageOf, publishFromRow, publishKey, subscriptionFromRow } from './storeRows.ts';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS push_devices (
  app_id TEXT COLLATE "C" NOT NULL, id TEXT COLLATE "C" NOT NULL, client_id TEXT COLLATE "C", form_factor TEXT NOT NULL, platform TEXT NOT NULL,
  metadata TEXT NOT NULL, timezone TEXT NOT NULL, locale TEXT NOT NULL, provider TEXT NOT NULL, recipient TEXT NOT NULL,
  token_hash TEXT NOT NULL, push_state TEXT NOT NULL, failure_count INTEGER NOT NULL, identity_hash TEXT,
  last_active_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, PRIMARY KEY (app_id, id));
CREATE INDEX IF NOT EXISTS push_devices_client ON push_devices (app_id, client_id);
CREATE TABLE IF NOT EXISTS push_subscriptions (
  app_id TEXT COLLATE "C" NOT NULL, channel TEXT COLLATE "C" NOT NULL, device_id TEXT COLLATE "C" NOT NULL, client_id TEXT COLLATE "C",
  created_at BIGINT NOT NULL, PRIMARY KEY (app_id, channel, device_id));
CREATE INDEX IF NOT EXISTS push_subscriptions_device ON push_subscriptions (app_id, device_id);
CREATE TABLE IF NOT EXISTS push_publishes (
  app_id TEXT COLLATE "C" NOT NULL, publish_id TEXT COLLATE "C" NOT NULL, state TEXT NOT NULL, intent TEXT NOT NULL, expected INTEGER NOT NULL,
  created_at BIGINT NOT NULL, keep_until BIGINT NOT NULL, not_before BIGINT NOT NULL, expires_at BIGINT NOT NULL,
  error_reason TEXT, PRIMARY KEY (app_id, publish_id));
CREATE INDEX IF NOT EXISTS push_publishes_state ON push_publishes (state, not_before);
CREATE TABLE IF NOT EXISTS push_deliveries (
  id BIGSERIAL PRIMARY KEY, app_id TEXT COLLATE "C" NOT NULL, publish_id TEXT COLLATE "C" NOT NULL, device_key TEXT COLLATE "C" NOT NULL,
  device_id TEXT COLLATE "C", provider TEXT NOT NULL, recipient TEXT NOT NULL, state TEXT NOT NULL, attempts INTEGER NOT NULL,
  next_at BIGINT NOT NULL, lease_until BIGINT NOT NULL DEFAULT 0, last_error TEXT, updated_at BIGINT NOT NULL,
  UNIQUE (app_id, publish_id, device_key));
CREATE INDEX IF NOT EXISTS push_deliveries_due ON push_deliveries (provider, state, next_at);
CREATE INDEX IF NOT EXISTS push_deliveries_publish ON push_deliveries (app_id, publish_id, state);
CREATE INDEX IF NOT EXISTS push_deliveries_lease ON push_deliveries (state, lease_until);
CREATE TABLE IF NOT EXISTS push_documents (
  app_id TEXT COLLATE "C" NOT NULL, kind TEXT NOT NULL, id TEXT COLLATE "C" NOT NULL, body TEXT NOT NULL, expires_at BIGINT NOT NULL,
  PRIMARY KEY (app_id, kind, id));
CREATE INDEX IF NOT EXISTS push_documents_expiry ON push_documents (expires_at);
`;

/** Advisory lock key serialising schema creation between hosts starting at once ("sockudo push schema"). */
const SCHEMA_LOCK = 0x50555348;

const TERMINAL = "('succeeded', 'partiallySucceeded', 'failed', 'dead_lettered', 'expired', 'cancelled', 'quota_exceeded')";

/** Active devices reached by channel ($2), device id ($3) or client id ($4) lists of app $1. */
/** Active devices reached by the target lists: a UNION of index lookups (deduplicated), never a scan of the app. */
const TARGETED_DEVICES = `push_devices d JOIN (
    SELECT s.device_id AS id FROM push_subscriptions s WHERE s.app_id = $1 AND s.channel = ANY($2::text[])
    UNION SELECT unnest($3::text[])
    UNION SELECT c.id FROM push_devices c WHERE c.app_id = $1 AND c.client_id = ANY($4::text[])
  ) t ON d.app_id = $1 AND d.id = t.id
  WHERE d.push_state <> 'FAILED'`;

export class PostgresPushStore implements PushStore {
  private readonly pool: pg.Pool;

  constructor(url: string) {
    this.pool = new pg.Pool({ connectionString: url, max: 10 });
    // An idle connection that breaks (server restart, network) is dropped by the pool and replaced on the next
    // query; without a listener the 'error' event would crash the process.
    this.pool.on('error', () => {});
  }

  /** Runs `fn` in one transaction on one connection; rolls back on any error. */
  private async tx<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    const c = await this.pool.connect();
    let broken: Error | undefined;
    try {
      await c.query('BEGIN');
      const result = await fn(c);
      await c.query('COMMIT');
      return result;
    } catch (err) {
      await c.query('ROLLBACK').catch((e: Error) => {
        broken = e; // the connection is unusable: destroy it rather than return it to the pool
      });
      throw err;
    } finally {
      c.release(broken);
    }
  }

  async init(): Promise<void> {
    // CREATE TABLE IF NOT EXISTS is not safe against itself run concurrently (both may try to create the type):
    // hosts starting at once take turns on a transaction-scoped advisory lock.
    await this.tx(async (c) => {
      await c.query('SELECT pg_advisory_xact_lock($1)', [SCHEMA_LOCK]);
      await c.query(SCHEMA);
    });
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  async upsertDevice(d: DeviceRecord): Promise<'created' | 'updated'> {
    // xmax = 0 on the returned row version means the INSERT branch ran (no earlier version existed).
    const { rows } = await this.pool.query(
      `INSERT INTO push_devices VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
       ON CONFLICT (app_id, id) DO UPDATE SET client_id = EXCLUDED.client_id, form_factor = EXCLUDED.form_factor,
         platform = EXCLUDED.platform, metadata = EXCLUDED.metadata, timezone = EXCLUDED.timezone, locale = EXCLUDED.locale,
         provider = EXCLUDED.provider, recipient = EXCLUDED.recipient, token_hash = EXCLUDED.token_hash,
         push_state = EXCLUDED.push_state, failure_count = EXCLUDED.failure_count, identity_hash = EXCLUDED.identity_hash,
         last_active_at = EXCLUDED.last_active_at, updated_at = EXCLUDED.updated_at
       RETURNING (xmax = 0) AS inserted`,
      [
        d.appId, d.id, d.clientId, d.formFactor, d.platform, JSON.stringify(d.metadata), d.timezone, d.locale,
        providerOf(d.recipient), JSON.stringify(d.recipient), d.tokenHash, d.pushState, d.failureCount, d.identityHash,
        d.lastActiveAtMs, d.updatedAtMs,
      ],
    );
    return rows[0].inserted ? 'created' : 'updated';
  }

  async getDevice(appId: string, id: string): Promise<DeviceRecord | null> {
    const { rows } = await this.pool.query('SELECT * FROM push_devices WHERE app_id = $1 AND id = $2', [appId, id]);
    return rows[0] ? deviceFromRow(rows[0]) : null;
  }

  async listDevices(appId: string, page: PageQuery): Promise<Page<DeviceRecord>> {
    const after = decodeCursor(page.cursor) ?? '';
    const { rows } = await this.pool.query('SELECT * FROM push_devices WHERE app_id = $1 AND id > $2 ORDER BY id LIMIT $3', [appId, after, page.limit + 1]);
    return pageOf(rows.map(deviceFromRow), page.limit, (d) => d.id);
  }

  async deleteDevice(appId: string, id: string): Promise<boolean> {
    // One statement: the data-modifying CTE and the outer DELETE commit together.
    const { rowCount } = await this.pool.query(
      `WITH s AS (DELETE FROM push_subscriptions WHERE app_id = $1 AND device_id = $2)
       DELETE FROM push_devices WHERE app_id = $1 AND id = $2`,
      [appId, id],
    );
    return (rowCount ?? 0) > 0;
  }

  async deleteDevicesOfClient(appId: string, clientId: string): Promise<number> {
    const { rows } = await this.pool.query(
      `WITH d AS (DELETE FROM push_devices WHERE app_id = $1 AND client_id = $2 RETURNING id),
       s AS (DELETE FROM push_subscriptions WHERE app_id = $1 AND device_id IN (SELECT id FROM d))
       SELECT count(*)::int AS n FROM d`,
      [appId, clientId],
    );
    return rows[0].n;
  }

  async markDeviceInvalid(appId: string, id: string, tokenHash: string): Promise<boolean> {
    // One statement: the subscriptions go only when the device still has the token that failed.
    const { rows } = await this.pool.query(
      `WITH u AS (UPDATE push_devices SET push_state = 'FAILED', failure_count = failure_count + 1 WHERE app_id = $1 AND id = $2 AND token_hash = $3 RETURNING id),
       d AS (DELETE FROM push_subscriptions WHERE app_id = $1 AND device_id IN (SELECT id FROM u))
       SELECT count(*)::int AS n FROM u`,
      [appId, id, tokenHash],
    );
    return Number(rows[0].n) > 0;
  }

  async subscribe(s: ChannelSubscription): Promise<void> {
    await this.pool.query(
      `INSERT INTO push_subscriptions VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (app_id, channel, device_id) DO UPDATE SET client_id = EXCLUDED.client_id, created_at = EXCLUDED.created_at`,
      [s.appId, s.channel, s.deviceId, s.clientId, s.createdAtMs],
    );
  }

  async listSubscriptions(appId: string, filter: { channel?: string; deviceId?: string }, page: PageQuery): Promise<Page<ChannelSubscription>> {
    // The cursor is "<channel>\0<deviceId>" (as in SQLite); PostgreSQL text cannot hold NUL, so compare as a row.
    const after = decodeCursor(page.cursor);
    const [afterChannel, afterDevice] = after === null ? [null, null] : splitKey(after);
    const { rows } = await this.pool.query(
      `SELECT * FROM push_subscriptions WHERE app_id = $1 AND ($2::text IS NULL OR channel = $2) AND ($3::text IS NULL OR device_id = $3)
       AND ($4::text IS NULL OR (channel, device_id) > ($4::text, $5::text)) ORDER BY channel, device_id LIMIT $6`,
      [appId, filter.channel ?? null, filter.deviceId ?? null, afterChannel, afterDevice, page.limit + 1],
    );
    return pageOf(rows.map(subscriptionFromRow), page.limit, (s) => `${s.channel}\0${s.deviceId}`);
  }

  async unsubscribe(appId: string, filter: { channel?: string; deviceId?: string }): Promise<number> {
    const { rowCount } = await this.pool.query(
      'DELETE FROM push_subscriptions WHERE app_id = $1 AND ($2::text IS NULL OR channel = $2) AND ($3::text IS NULL OR device_id = $3)',
      [appId, filter.channel ?? null, filter.deviceId ?? null],
    );
    return rowCount ?? 0;
  }

  async listChannels(appId: string, page: PageQuery): Promise<Page<string>> {
    const after = decodeCursor(page.cursor) ?? '';
    const { rows } = await this.pool.query('SELECT DISTINCT channel FROM push_subscriptions WHERE app_id = $1 AND channel > $2 ORDER BY channel LIMIT $3', [appId, after, page.limit + 1]);
    return pageOf(rows.map((r: Row) => String(r.channel)), page.limit, (c) => c);
  }

  async countRecipients(appId: string, channels: string[], deviceIds: string[], clientIds: string[]): Promise<number> {
    const { rows } = await this.pool.query(`SELECT count(*)::int AS n FROM ${TARGETED_DEVICES}`, [appId, channels, deviceIds, clientIds]);
    return rows[0].n;
  }

  async createPublish(p: PublishRecord, nowMs: number): Promise<{ created: true } | { created: false; existing: PublishRecord }> {
    const values = [p.appId, p.publishId, p.state, JSON.stringify(p.intent), p.expectedRecipients, p.createdAtMs, p.keepUntilMs, p.intent.notBeforeMs, p.intent.expiresAtMs, p.errorReason];
    return this.tx(async (c) => {
      // Two hosts inserting the same id: the second INSERT waits for the first to commit, then does nothing.
      // A row purged between our INSERT and SELECT is inserted on the next turn (bounded: purge needs an old row).
      for (;;) {
        const inserted = await c.query('INSERT INTO push_publishes VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (app_id, publish_id) DO NOTHING', values);
        if (inserted.rowCount === 1) return { created: true as const };
        // Locked, so a host reusing the same expired id concurrently sees our replacement (and reports a duplicate).
        const { rows } = await c.query('SELECT * FROM push_publishes WHERE app_id = $1 AND publish_id = $2 FOR UPDATE', [p.appId, p.publishId]);
        if (rows.length === 0) continue;
        if (Number(rows[0].keep_until) > nowMs) return { created: false as const, existing: publishFromRow(rows[0]) };
        // The old publish's lifetime is over: its id may be used again.
        await c.query('DELETE FROM push_deliveries WHERE app_id = $1 AND publish_id = $2', [p.appId, p.publishId]);
        await c.query(
          `UPDATE push_publishes SET state = $3, intent = $4, expected = $5, created_at = $6, keep_until = $7, not_before = $8,
           expires_at = $9, error_reason = $10 WHERE app_id = $1 AND publish_id = $2`,
          values,
        );
        return { created: true as const };
      }
    });
  }

  async getPublish(appId: string, publishId: string): Promise<PublishRecord | null> {
    const { rows } = await this.pool.query('SELECT * FROM push_publishes WHERE app_id = $1 AND publish_id = $2', [appId, publishId]);
    return rows[0] ? publishFromRow(rows[0]) : null;
  }

  async duePublishes(nowMs: number, limit: number): Promise<PublishRecord[]> {
    const { rows } = await this.pool.query("SELECT * FROM push_publishes WHERE state = 'queued' AND not_before <= $1 ORDER BY created_at LIMIT $2", [nowMs, limit]);
    return rows.map(publishFromRow);
  }

  async planPublish(appId: string, publishId: string, nowMs: number): Promise<number> {
    return this.tx(async (c) => {
      // The row lock makes planning once-only: a host waiting here re-reads the row after the planner commits,
      // finds it no longer 'queued', and gets nothing.
      const { rows } = await c.query("SELECT * FROM push_publishes WHERE app_id = $1 AND publish_id = $2 AND state = 'queued' FOR UPDATE", [appId, publishId]);
      if (rows.length === 0) return 0;
      const intent = publishFromRow(rows[0]).intent;
      const channels: string[] = [];
      const deviceIds: string[] = [];
      const clientIds: string[] = [];
      for (const t of intent.recipients) {
        if (t.type === 'channel') channels.push(t.channel);
        else if (t.type === 'device') deviceIds.push(t.deviceId);
        else if (t.type === 'client') clientIds.push(t.clientId);
      }
      // Raw recipients, FCM topics and conditions: sent as they are, without a device row.
      const direct = directDeliveries(intent.recipients);
      // One row per device however many targets reach it; the unique (app, publish, device_key) backs that up.
      const devices = await c.query(
        `INSERT INTO push_deliveries (app_id, publish_id, device_key, device_id, provider, recipient, state, attempts, next_at, updated_at)
         SELECT d.app_id, $5::text, d.id, d.id, d.provider, d.recipient, 'pending', 0, $6::bigint, $6::bigint FROM ${TARGETED_DEVICES}
         ON CONFLICT (app_id, publish_id, device_key) DO NOTHING`,
        [appId, channels, deviceIds, clientIds, publishId, nowMs],
      );
      let planned = devices.rowCount ?? 0;
      if (direct.length > 0) {
        const inserted = await c.query(
          `INSERT INTO push_deliveries (app_id, publish_id, device_key, device_id, provider, recipient, state, attempts, next_at, updated_at)
           SELECT $1::text, $2::text, t.key, NULL, t.provider, t.recipient, 'pending', 0, $3::bigint, $3::bigint FROM unnest($4::text[], $5::text[], $6::text[]) AS t(key, provider, recipient)
           ON CONFLICT (app_id, publish_id, device_key) DO NOTHING`,
          [appId, publishId, nowMs, direct.map((d) => d.key), direct.map((d) => d.provider), direct.map((d) => JSON.stringify(d.recipient))],
        );
        planned += inserted.rowCount ?? 0;
      }
      await c.query("UPDATE push_publishes SET state = 'dispatching' WHERE app_id = $1 AND publish_id = $2", [appId, publishId]);
      return planned;
    });
  }

  async setPublishState(appId: string, publishId: string, state: PublishState, errorReason: string | null): Promise<void> {
    await this.pool.query('UPDATE push_publishes SET state = $3, error_reason = $4 WHERE app_id = $1 AND publish_id = $2', [appId, publishId, state, errorReason]);
  }

  async deliveryStates(appId: string, publishId: string): Promise<Partial<Record<DeliveryState, number>>> {
    const { rows } = await this.pool.query('SELECT state, count(*)::int AS n FROM push_deliveries WHERE app_id = $1 AND publish_id = $2 GROUP BY state', [appId, publishId]);
    return Object.fromEntries(rows.map((r: Row) => [r.state, Number(r.n)]));
  }

  async counters(appId: string, publishId: string): Promise<PublishCounters> {
    // One statement, so the state counts and retry sums come from the same snapshot.
    const { rows } = await this.pool.query(
      `SELECT state, count(*)::int AS n, coalesce(sum(greatest(attempts - 1, 0)), 0)::int AS attempted,
       (count(*) FILTER (WHERE state = 'pending' AND attempts > 0))::int AS scheduled
       FROM push_deliveries WHERE app_id = $1 AND publish_id = $2 GROUP BY state`,
      [appId, publishId],
    );
    const states: Partial<Record<DeliveryState, number>> = {};
    let attempted = 0;
    let scheduled = 0;
    for (const r of rows as Row[]) {
      states[r.state as DeliveryState] = Number(r.n);
      attempted += Number(r.attempted);
      scheduled += Number(r.scheduled);
    }
    return countersFromStates(states, attempted, scheduled);
  }

  async openDeliveries(appId: string, publishId: string): Promise<number> {
    const { rows } = await this.pool.query("SELECT count(*)::int AS n FROM push_deliveries WHERE app_id = $1 AND publish_id = $2 AND state IN ('pending', 'inflight')", [appId, publishId]);
    return rows[0].n;
  }

  async claimDeliveries(provider: string, nowMs: number, limit: number, leaseUntilMs: number): Promise<Delivery[]> {
    // One statement (its own transaction). SKIP LOCKED: rows another host is claiming right now are passed over,
    // never handed out twice; the lock also re-checks state = 'pending' against the latest committed row.
    // MATERIALIZED: the LIMITed locking sub-select runs exactly once (an IN (sub-select) may be re-scanned).
    // Deliveries of a publish past its expiresAtMs are never sent: left pending here, expireDeliveries settles them.
    const { rows } = await this.pool.query(
      `WITH due AS MATERIALIZED (
         SELECT id FROM push_deliveries d WHERE provider = $1 AND state = 'pending' AND next_at <= $2
           AND NOT EXISTS (SELECT 1 FROM push_publishes p WHERE p.app_id = d.app_id AND p.publish_id = d.publish_id AND p.expires_at > 0 AND p.expires_at <= $2)
         ORDER BY next_at LIMIT $3 FOR UPDATE OF d SKIP LOCKED)
       UPDATE push_deliveries SET state = 'inflight', attempts = attempts + 1, lease_until = $4, updated_at = $2
       FROM due WHERE push_deliveries.id = due.id RETURNING push_deliveries.*`,
      [provider, nowMs, limit, leaseUntilMs],
    );
    return rows.map(deliveryFromRow).sort((a: Delivery, b: Delivery) => a.nextAtMs - b.nextAtMs || a.id - b.id);
  }

  async nextDueAt(): Promise<number | null> {
    const { rows } = await this.pool.query(NEXT_DUE_SQL);
    const t = (rows[0] as { t: string | number | null }).t;
    return t === null ? null : Number(t);
  }

  async recordOutcomes(outcomes: { id: number; outcome: DeliveryOutcome }[], nowMs: number): Promise<void> {
    if (outcomes.length === 0) return;
    const ids: number[] = [];
    const states: string[] = [];
    const nextAts: number[] = [];
    const errors: (string | null)[] = [];
    for (const { id, outcome: o } of outcomes) {
      ids.push(id);
      states.push(o.kind === 'retry' ? 'pending' : o.kind);
      nextAts.push(o.kind === 'retry' ? o.nextAtMs : 0);
      errors.push(o.kind === 'succeeded' ? null : o.error);
    }
    // The whole batch in one statement: all of it or none of it. Only in-flight rows change: a send that
    // outlived its lease was already settled by another host and must not be put back to pending.
    await this.pool.query(
      `UPDATE push_deliveries d SET state = u.state, next_at = u.next_at, last_error = u.error, lease_until = 0, updated_at = $5
       FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::text[]) AS u(id, state, next_at, error) WHERE d.id = u.id
         AND (d.state = 'inflight' OR u.state = 'succeeded')`,
      [ids, states, nextAts, errors, nowMs],
    );
  }

  async failExpiredLeases(nowMs: number): Promise<{ appId: string; publishId: string }[]> {
    // Hosts sweeping at once: the second waits on the row lock, re-checks state, and skips what the first failed.
    const { rows } = await this.pool.query(
      `UPDATE push_deliveries SET state = 'failed', last_error = 'interrupted: the sending host stopped before the provider answered', updated_at = $1
       WHERE state = 'inflight' AND lease_until < $1 RETURNING app_id, publish_id`,
      [nowMs],
    );
    return distinctPublishes(rows);
  }

  async expireDeliveries(nowMs: number): Promise<{ appId: string; publishId: string }[]> {
    const { rows } = await this.pool.query(
      `UPDATE push_deliveries d SET state = 'expired', updated_at = $1 FROM push_publishes p
       WHERE p.app_id = d.app_id AND p.publish_id = d.publish_id AND d.state = 'pending' AND p.expires_at > 0 AND p.expires_at <= $1
       RETURNING d.app_id, d.publish_id`,
      [nowMs],
    );
    return distinctPublishes(rows);
  }

  async cancelDeliveries(appId: string, publishId: string): Promise<number> {
    const { rowCount } = await this.pool.query("UPDATE push_deliveries SET state = 'cancelled' WHERE app_id = $1 AND publish_id = $2 AND state = 'pending'", [appId, publishId]);
    return rowCount ?? 0;
  }

  async dispatchingPublishes(limit: number): Promise<{ appId: string; publishId: string }[]> {
    const { rows } = await this.pool.query("SELECT app_id, publish_id FROM push_publishes WHERE state = 'dispatching' LIMIT $1", [limit]);
    return rows.map(publishKey);
  }

  async listDeadLetters(appId: string, filter: { provider?: string; sinceMs?: number; untilMs?: number }, page: PageQuery): Promise<Page<DeadLetter>> {
    const after = Number(decodeCursor(page.cursor) ?? 0);
    const { rows } = await this.pool.query(
      `SELECT * FROM push_deliveries WHERE app_id = $1 AND state = 'dead' AND id > $2 AND ($3::text IS NULL OR provider = $3)
       AND updated_at >= $4 AND updated_at <= $5 ORDER BY id LIMIT $6`,
      [appId, after, filter.provider ?? null, filter.sinceMs ?? 0, filter.untilMs ?? Number.MAX_SAFE_INTEGER, page.limit + 1],
    );
    return pageOf(rows.map(deadLetterFromRow), page.limit, (d) => String(d.id));
  }

  async replayDeadLetter(appId: string, id: number, nowMs: number): Promise<{ publishId: string } | null> {
    return this.tx(async (c) => {
      const found = await c.query("SELECT publish_id FROM push_deliveries WHERE app_id = $1 AND id = $2 AND state = 'dead'", [appId, id]);
      if (found.rows.length === 0) return null;
      const publishId = String(found.rows[0].publish_id);
      // Publish row first (the lock order every publish-and-deliveries write follows), then the delivery,
      // re-checked under its lock: a concurrent replay of the same dead letter finds it pending and gets null.
      await c.query('SELECT 1 FROM push_publishes WHERE app_id = $1 AND publish_id = $2 FOR UPDATE', [appId, publishId]);
      const replayed = await c.query("UPDATE push_deliveries SET state = 'pending', attempts = 0, next_at = $3, updated_at = $3 WHERE app_id = $1 AND id = $2 AND state = 'dead'", [appId, id, nowMs]);
      if (replayed.rowCount !== 1) return null;
      await c.query("UPDATE push_publishes SET state = 'dispatching', error_reason = NULL WHERE app_id = $1 AND publish_id = $2", [appId, publishId]);
      return { publishId };
    });
  }

  async putDocument(appId: string, kind: DocumentKind, id: string, body: unknown, expiresAtMs: number): Promise<void> {
    await this.pool.query(
      `INSERT INTO push_documents (app_id, kind, id, body, expires_at) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (app_id, kind, id) DO UPDATE SET body = EXCLUDED.body, expires_at = EXCLUDED.expires_at`,
      [appId, kind, id, JSON.stringify(body), expiresAtMs],
    );
  }

  async getDocument(appId: string, kind: DocumentKind, id: string): Promise<unknown> {
    const { rows } = await this.pool.query('SELECT body FROM push_documents WHERE app_id = $1 AND kind = $2 AND id = $3', [appId, kind, id]);
    return rows.length > 0 ? JSON.parse(String(rows[0].body)) : null;
  }

  async listDocuments(appId: string, kind: DocumentKind, page: PageQuery): Promise<Page<unknown>> {
    const after = decodeCursor(page.cursor) ?? '';
    const { rows } = await this.pool.query('SELECT id, body FROM push_documents WHERE app_id = $1 AND kind = $2 AND id > $3 ORDER BY id LIMIT $4', [appId, kind, after, page.limit + 1]);
    return documentPage(rows as { id: string; body: string }[], page.limit);
  }

  async deleteDocument(appId: string, kind: DocumentKind, id: string): Promise<boolean> {
    const { rowCount } = await this.pool.query('DELETE FROM push_documents WHERE app_id = $1 AND kind = $2 AND id = $3', [appId, kind, id]);
    return (rowCount ?? 0) > 0;
  }

  async purge(nowMs: number): Promise<number> {
    await this.pool.query('DELETE FROM push_documents WHERE expires_at > 0 AND expires_at <= $1', [nowMs]);
    // Publish rows are deleted (locked) before their deliveries: the common lock order. A publish id being
    // reused concurrently (createPublish holds its lock) is re-checked after the wait and kept.
    const { rows } = await this.pool.query(
      `WITH old AS (DELETE FROM push_publishes WHERE state IN ${TERMINAL} AND keep_until <= $1 RETURNING app_id, publish_id),
       gone AS (DELETE FROM push_deliveries d USING old WHERE d.app_id = old.app_id AND d.publish_id = old.publish_id)
       SELECT count(*)::int AS n FROM old`,
      [nowMs],
    );
    return rows[0].n;
  }
}

function splitKey(key: string): [string, string] {
  const i = key.indexOf('\0');
  return i < 0 ? [key, ''] : [key.slice(0, i), key.slice(i + 1)];
}

function distinctPublishes(rows: Row[]): { appId: string; publishId: string }[] {
  const seen = new Map<string, { appId: string; publishId: string }>();
  for (const r of rows) {
    const k = publishKey(r);
    seen.set(`${k.appId}\0${k.publishId}`, k);
  }
  return [...seen.values()];
}
