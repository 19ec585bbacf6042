// The embedded push store: one SQLite file (better-sqlite3), nothing to install, survives restarts.
// WAL with synchronous=NORMAL: a committed transaction survives a crash of the process.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import type { DeliveryOutcome, DocumentKind, PageQuery, PushStore } from './store.ts';
import {
  type ChannelSubscription,
  type DeadLetter,
  type Delivery,
  type DeliveryState,
  type DeviceRecord,
  type Page,
  type Provider,
  type PublishCounters,
  type PublishRecord,
  type PublishState,
  directDeliveries,
  providerOf,
} from './types.ts';
import { NEXT_DUE_SQL, type Row, countersFromStates, deadLetterFromRow, decodeCursor, deliveryFromRow, deviceFromRow, documentPage, pageOf, publishFromRow, publishKey, subscriptionFromRow } from './storeRows.ts';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS push_devices (
  app_id TEXT NOT NULL, id TEXT NOT NULL, client_id TEXT, form_factor TEXT NOT NULL, platform TEXT NOT NULL,
  metadata TEXT NOT NULL, timezone TEXT NOT NULL, locale TEXT NOT NULL, provider TEXT NOT NULL, recipient TEXT NOT NULL,
  token_hash TEXT NOT NULL, push_state TEXT NOT NULL, failure_count INTEGER NOT NULL, identity_hash TEXT,
  last_active_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, PRIMARY KEY (app_id, id));
CREATE INDEX IF NOT EXISTS push_devices_client ON push_devices (app_id, client_id);
CREATE TABLE IF NOT EXISTS push_subscriptions (
  app_id TEXT NOT NULL, channel TEXT NOT NULL, device_id TEXT NOT NULL, client_id TEXT, created_at INTEGER NOT NULL,
  PRIMARY KEY (app_id, channel, device_id));
CREATE INDEX IF NOT EXISTS push_subscriptions_device ON push_subscriptions (app_id, device_id);
CREATE TABLE IF NOT EXISTS push_publishes (
  app_id TEXT NOT NULL, publish_id TEXT NOT NULL, state TEXT NOT NULL, intent TEXT NOT NULL, expected INTEGER NOT NULL,
  created_at INTEGER NOT NULL, keep_until INTEGER NOT NULL, not_before INTEGER NOT NULL, expires_at INTEGER NOT NULL,
  error_reason TEXT, PRIMARY KEY (app_id, publish_id));
CREATE INDEX IF NOT EXISTS push_publishes_state ON push_publishes (state, not_before);
CREATE TABLE IF NOT EXISTS push_deliveries (
  id INTEGER PRIMARY KEY AUTOINCREMENT, app_id TEXT NOT NULL, publish_id TEXT NOT NULL, device_key TEXT NOT NULL,
  device_id TEXT, provider TEXT NOT NULL, recipient TEXT NOT NULL, state TEXT NOT NULL, attempts INTEGER NOT NULL,
  next_at INTEGER NOT NULL, lease_until INTEGER NOT NULL DEFAULT 0, last_error TEXT, updated_at INTEGER NOT NULL,
  UNIQUE (app_id, publish_id, device_key));
CREATE INDEX IF NOT EXISTS push_deliveries_due ON push_deliveries (provider, state, next_at);
CREATE INDEX IF NOT EXISTS push_deliveries_publish ON push_deliveries (app_id, publish_id, state);
CREATE INDEX IF NOT EXISTS push_deliveries_lease ON push_deliveries (state, lease_until);
CREATE TABLE IF NOT EXISTS push_documents (
  app_id TEXT NOT NULL, kind TEXT NOT NULL, id TEXT NOT NULL, body TEXT NOT NULL, expires_at INTEGER NOT NULL,
  PRIMARY KEY (app_id, kind, id));
CREATE INDEX IF NOT EXISTS push_documents_expiry ON push_documents (expires_at);
`;

/** How long a statement waits for another process's lock before failing with "database is locked". */
const BUSY_TIMEOUT_MS = 5000;

export class SqlitePushStore implements PushStore {
  private readonly db: Database.Database;

  constructor(path: string) {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path, { timeout: BUSY_TIMEOUT_MS });
    this.db.pragma('synchronous = NORMAL');
  }

  /**
   * Runs `fn` as one write transaction that takes the write lock at BEGIN (BEGIN IMMEDIATE, waiting up to
   * busy_timeout for it). A deferred transaction that reads and then writes fails at once with "database is
   * locked" when another process wrote in between, whatever busy_timeout says: two processes on one file (the
   * old and the new process of a restart) hit that at start-up.
   */
  private write<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }

  /** Prepared statements, compiled once (preparing costs more than running most of these). */
  private readonly statements = new Map<string, Database.Statement>();
  private sql(text: string): Database.Statement {
    let st = this.statements.get(text);
    if (!st) {
      st = this.db.prepare(text);
      this.statements.set(text, st);
    }
    return st;
  }

  async init(): Promise<void> {
    await this.useWal();
    // In one write transaction: hosts starting together on a new file would otherwise each read "no such
    // table" and then fail to write it (the deferred read-then-write of write() above).
    this.write(() => this.db.exec(SCHEMA));
  }

  /**
   * Switches the file to WAL (a persistent setting; a no-op once done). While another process opens the file
   * and switches it too, SQLite refuses at once with SQLITE_BUSY, whatever busy_timeout says: hosts started
   * together from one directory (the rolling-restart test) failed start-up with "database is locked" that way.
   * So the switch is tried again for up to BUSY_TIMEOUT_MS.
   */
  private async useWal(): Promise<void> {
    const deadline = Date.now() + BUSY_TIMEOUT_MS;
    for (;;) {
      try {
        this.db.pragma('journal_mode = WAL');
        return;
      } catch (err) {
        if ((err as { code?: string }).code !== 'SQLITE_BUSY' || Date.now() > deadline) throw err;
        await sleep(10 + Math.random() * 20);
      }
    }
  }

  async close(): Promise<void> {
    this.db.close();
  }

  async upsertDevice(d: DeviceRecord): Promise<'created' | 'updated'> {
    const existed = this.sql('SELECT 1 FROM push_devices WHERE app_id = ? AND id = ?').get(d.appId, d.id) !== undefined;
    this.db
      .prepare(
        `INSERT OR REPLACE INTO push_devices VALUES (@appId, @id, @clientId, @formFactor, @platform, @metadata, @timezone, @locale,
         @provider, @recipient, @tokenHash, @pushState, @failureCount, @identityHash, @lastActiveAtMs, @updatedAtMs)`,
      )
      .run({ ...d, metadata: JSON.stringify(d.metadata), provider: providerOf(d.recipient), recipient: JSON.stringify(d.recipient) });
    return existed ? 'updated' : 'created';
  }

  async getDevice(appId: string, id: string): Promise<DeviceRecord | null> {
    const row = this.sql('SELECT * FROM push_devices WHERE app_id = ? AND id = ?').get(appId, id) as Row | undefined;
    return row ? deviceFromRow(row) : null;
  }

  async listDevices(appId: string, page: PageQuery): Promise<Page<DeviceRecord>> {
    const after = decodeCursor(page.cursor) ?? '';
    const rows = this.sql('SELECT * FROM push_devices WHERE app_id = ? AND id > ? ORDER BY id LIMIT ?').all(appId, after, page.limit + 1) as Row[];
    return pageOf(rows.map(deviceFromRow), page.limit, (d) => d.id);
  }

  async deleteDevice(appId: string, id: string): Promise<boolean> {
    return this.write(() => {
      this.sql('DELETE FROM push_subscriptions WHERE app_id = ? AND device_id = ?').run(appId, id);
      return this.sql('DELETE FROM push_devices WHERE app_id = ? AND id = ?').run(appId, id).changes > 0;
    });
  }

  async deleteDevicesOfClient(appId: string, clientId: string): Promise<number> {
    return this.write(() => {
      this.sql('DELETE FROM push_subscriptions WHERE app_id = ? AND device_id IN (SELECT id FROM push_devices WHERE app_id = ? AND client_id = ?)').run(appId, appId, clientId);
      return this.sql('DELETE FROM push_devices WHERE app_id = ? AND client_id = ?').run(appId, clientId).changes;
    });
  }

  async markDeviceInvalid(appId: string, id: string, tokenHash: string): Promise<boolean> {
    return this.write(() => {
      const changed = this.sql("UPDATE push_devices SET push_state = 'FAILED', failure_count = failure_count + 1 WHERE app_id = ? AND id = ? AND token_hash = ?").run(appId, id, tokenHash).changes > 0;
      if (changed) this.sql('DELETE FROM push_subscriptions WHERE app_id = ? AND device_id = ?').run(appId, id);
      return changed;
    });
  }

  async subscribe(s: ChannelSubscription): Promise<void> {
    this.sql('INSERT OR REPLACE INTO push_subscriptions VALUES (?, ?, ?, ?, ?)').run(s.appId, s.channel, s.deviceId, s.clientId, s.createdAtMs);
  }

  async listSubscriptions(appId: string, filter: { channel?: string; deviceId?: string }, page: PageQuery): Promise<Page<ChannelSubscription>> {
    const after = decodeCursor(page.cursor) ?? '';
    const rows = this.db
      .prepare(
        `SELECT * FROM push_subscriptions WHERE app_id = @appId AND (@channel IS NULL OR channel = @channel)
         AND (@deviceId IS NULL OR device_id = @deviceId) AND channel || char(0) || device_id > @after
         ORDER BY channel || char(0) || device_id LIMIT @limit`,
      )
      .all({ appId, channel: filter.channel ?? null, deviceId: filter.deviceId ?? null, after, limit: page.limit + 1 }) as Row[];
    return pageOf(rows.map(subscriptionFromRow), page.limit, (s) => `${s.channel}\0${s.deviceId}`);
  }

  async unsubscribe(appId: string, filter: { channel?: string; deviceId?: string }): Promise<number> {
    return this.db
      .prepare('DELETE FROM push_subscriptions WHERE app_id = @appId AND (@channel IS NULL OR channel = @channel) AND (@deviceId IS NULL OR device_id = @deviceId)')
      .run({ appId, channel: filter.channel ?? null, deviceId: filter.deviceId ?? null }).changes;
  }

  async listChannels(appId: string, page: PageQuery): Promise<Page<string>> {
    const after = decodeCursor(page.cursor) ?? '';
    const rows = this.sql('SELECT DISTINCT channel FROM push_subscriptions WHERE app_id = ? AND channel > ? ORDER BY channel LIMIT ?').all(appId, after, page.limit + 1) as { channel: string }[];
    return pageOf(rows.map((r) => r.channel), page.limit, (c) => c);
  }

  async countRecipients(appId: string, channels: string[], deviceIds: string[], clientIds: string[]): Promise<number> {
    const targets: [string, string][] = [
      ...channels.map((c): [string, string] => [DEVICES_OF_CHANNEL, c]),
      ...clientIds.map((c): [string, string] => [DEVICES_OF_CLIENT, c]),
      ...deviceIds.map((d): [string, string] => [DEVICE_BY_ID, d]),
    ];
    // One target (the usual publish) is a count; several may overlap, so their device ids are collected.
    if (targets.length === 1) return (this.sql(`SELECT count(*) AS n FROM ${targets[0][0]}`).get({ appId, target: targets[0][1] }) as { n: number }).n;
    const ids = new Set<string>();
    for (const [from, target] of targets) for (const id of this.sql(`SELECT d.id FROM ${from}`).pluck().all({ appId, target }) as string[]) ids.add(id);
    return ids.size;
  }

  async createPublish(p: PublishRecord, nowMs: number): Promise<{ created: true } | { created: false; existing: PublishRecord }> {
    return this.write(() => {
      const row = this.sql('SELECT * FROM push_publishes WHERE app_id = ? AND publish_id = ?').get(p.appId, p.publishId) as Row | undefined;
      if (row && Number(row.keep_until) > nowMs) return { created: false as const, existing: publishFromRow(row) };
      if (row) {
        // The old publish's lifetime is over: its id may be used again.
        this.sql('DELETE FROM push_deliveries WHERE app_id = ? AND publish_id = ?').run(p.appId, p.publishId);
        this.sql('DELETE FROM push_publishes WHERE app_id = ? AND publish_id = ?').run(p.appId, p.publishId);
      }
      this.db
        .prepare('INSERT INTO push_publishes VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)')
        .run(p.appId, p.publishId, p.state, JSON.stringify(p.intent), p.expectedRecipients, p.createdAtMs, p.keepUntilMs, p.intent.notBeforeMs, p.intent.expiresAtMs, p.errorReason);
      return { created: true as const };
    });
  }

  async getPublish(appId: string, publishId: string): Promise<PublishRecord | null> {
    const row = this.sql('SELECT * FROM push_publishes WHERE app_id = ? AND publish_id = ?').get(appId, publishId) as Row | undefined;
    return row ? publishFromRow(row) : null;
  }

  async duePublishes(nowMs: number, limit: number): Promise<PublishRecord[]> {
    const rows = this.sql("SELECT * FROM push_publishes WHERE state = 'queued' AND not_before <= ? ORDER BY created_at LIMIT ?").all(nowMs, limit) as Row[];
    return rows.map(publishFromRow);
  }

  async planPublish(appId: string, publishId: string, nowMs: number): Promise<number> {
    return this.write(() => {
      const row = this.sql("SELECT * FROM push_publishes WHERE app_id = ? AND publish_id = ? AND state = 'queued'").get(appId, publishId) as Row | undefined;
      if (!row) return 0;
      const intent = publishFromRow(row).intent;
      const channels: string[] = [];
      const deviceIds: string[] = [];
      const clientIds: string[] = [];
      for (const t of intent.recipients) {
        if (t.type === 'channel') channels.push(t.channel);
        else if (t.type === 'device') deviceIds.push(t.deviceId);
        else if (t.type === 'client') clientIds.push(t.clientId);
      }
      // INSERT OR IGNORE on the (app, publish, device) key: a device reached by several targets gets one row.
      let planned = 0;
      const plan = (from: string, target: string) =>
        this.sql(
          `INSERT OR IGNORE INTO push_deliveries (app_id, publish_id, device_key, device_id, provider, recipient, state, attempts, next_at, updated_at)
           SELECT d.app_id, @publishId, d.id, d.id, d.provider, d.recipient, 'pending', 0, @now, @now FROM ${from}`,
        ).run({ appId, target, publishId, now: nowMs }).changes;
      for (const c of channels) planned += plan(DEVICES_OF_CHANNEL, c);
      for (const c of clientIds) planned += plan(DEVICES_OF_CLIENT, c);
      for (const d of deviceIds) planned += plan(DEVICE_BY_ID, d);
      const insertRaw = this.sql(
        `INSERT OR IGNORE INTO push_deliveries (app_id, publish_id, device_key, device_id, provider, recipient, state, attempts, next_at, updated_at)
         VALUES (?, ?, ?, NULL, ?, ?, 'pending', 0, ?, ?)`,
      );
      // Raw recipients, FCM topics and conditions: sent as they are, without a device row.
      for (const d of directDeliveries(intent.recipients)) planned += insertRaw.run(appId, publishId, d.key, d.provider, JSON.stringify(d.recipient), nowMs, nowMs).changes;
      this.sql("UPDATE push_publishes SET state = 'dispatching' WHERE app_id = ? AND publish_id = ?").run(appId, publishId);
      return planned;
    });
  }

  async setPublishState(appId: string, publishId: string, state: PublishState, errorReason: string | null): Promise<void> {
    this.sql('UPDATE push_publishes SET state = ?, error_reason = ? WHERE app_id = ? AND publish_id = ?').run(state, errorReason, appId, publishId);
  }

  async deliveryStates(appId: string, publishId: string): Promise<Partial<Record<DeliveryState, number>>> {
    const rows = this.sql('SELECT state, count(*) AS n FROM push_deliveries WHERE app_id = ? AND publish_id = ? GROUP BY state').all(appId, publishId) as { state: DeliveryState; n: number }[];
    return Object.fromEntries(rows.map((r) => [r.state, r.n]));
  }

  async counters(appId: string, publishId: string): Promise<PublishCounters> {
    const states = await this.deliveryStates(appId, publishId);
    const retries = this.db
      .prepare(
        `SELECT coalesce(sum(CASE WHEN attempts > 1 THEN attempts - 1 ELSE 0 END), 0) AS attempted,
         coalesce(sum(CASE WHEN state = 'pending' AND attempts > 0 THEN 1 ELSE 0 END), 0) AS scheduled
         FROM push_deliveries WHERE app_id = ? AND publish_id = ?`,
      )
      .get(appId, publishId) as { attempted: number; scheduled: number };
    return countersFromStates(states, retries.attempted, retries.scheduled);
  }

  async openDeliveries(appId: string, publishId: string): Promise<number> {
    const row = this.sql("SELECT count(*) AS n FROM push_deliveries WHERE app_id = ? AND publish_id = ? AND state IN ('pending', 'inflight')").get(appId, publishId) as { n: number };
    return row.n;
  }

  async claimDeliveries(provider: string, nowMs: number, limit: number, leaseUntilMs: number): Promise<Delivery[]> {
    return this.write(() => {
      // Deliveries of a publish past its expiresAtMs are never sent: left pending here, expireDeliveries settles them.
      const rows = this.sql(
        `SELECT * FROM push_deliveries d WHERE provider = @provider AND state = 'pending' AND next_at <= @now AND NOT EXISTS (SELECT 1 FROM push_publishes p
         WHERE p.app_id = d.app_id AND p.publish_id = d.publish_id AND p.expires_at > 0 AND p.expires_at <= @now) ORDER BY next_at LIMIT @limit`,
      ).all({ provider, now: nowMs, limit }) as Row[];
      const claim = this.sql("UPDATE push_deliveries SET state = 'inflight', attempts = attempts + 1, lease_until = ?, updated_at = ? WHERE id = ?");
      for (const r of rows) claim.run(leaseUntilMs, nowMs, r.id);
      return rows.map((r) => deliveryFromRow({ ...r, attempts: Number(r.attempts) + 1 }));
    });
  }

  async nextDueAt(): Promise<number | null> {
    const { t } = this.sql(NEXT_DUE_SQL).get() as { t: number | bigint | null };
    return t === null ? null : Number(t);
  }

  async recordOutcomes(outcomes: { id: number; outcome: DeliveryOutcome }[], nowMs: number): Promise<void> {
    // Only in-flight rows change: a send that outlived its lease was settled already (a success is still told).
    const update = this.sql(
      "UPDATE push_deliveries SET state = @state, next_at = @next, last_error = @error, lease_until = 0, updated_at = @now WHERE id = @id AND (state = 'inflight' OR @state = 'succeeded')",
    );
    this.write(() => {
      for (const { id, outcome: o } of outcomes) {
        if (o.kind === 'succeeded') update.run({ state: 'succeeded', next: 0, error: null, now: nowMs, id });
        else if (o.kind === 'retry') update.run({ state: 'pending', next: o.nextAtMs, error: o.error, now: nowMs, id });
        else update.run({ state: o.kind, next: 0, error: o.error, now: nowMs, id });
      }
    });
  }

  async failExpiredLeases(nowMs: number): Promise<{ appId: string; publishId: string }[]> {
    return this.write(() => {
      const rows = this.sql("SELECT DISTINCT app_id, publish_id FROM push_deliveries WHERE state = 'inflight' AND lease_until < ?").all(nowMs) as Row[];
      this.db
        .prepare("UPDATE push_deliveries SET state = 'failed', last_error = 'interrupted: the sending host stopped before the provider answered', updated_at = ? WHERE state = 'inflight' AND lease_until < ?")
        .run(nowMs, nowMs);
      return rows.map(publishKey);
    });
  }

  async expireDeliveries(nowMs: number): Promise<{ appId: string; publishId: string }[]> {
    return this.write(() => {
      const expiring = `state = 'pending' AND EXISTS (SELECT 1 FROM push_publishes p WHERE p.app_id = push_deliveries.app_id
        AND p.publish_id = push_deliveries.publish_id AND p.expires_at > 0 AND p.expires_at <= @now)`;
      const rows = this.sql(`SELECT DISTINCT app_id, publish_id FROM push_deliveries WHERE ${expiring}`).all({ now: nowMs }) as Row[];
      if (rows.length > 0) this.sql(`UPDATE push_deliveries SET state = 'expired', updated_at = @now WHERE ${expiring}`).run({ now: nowMs });
      return rows.map(publishKey);
    });
  }

  async cancelDeliveries(appId: string, publishId: string): Promise<number> {
    return this.sql("UPDATE push_deliveries SET state = 'cancelled' WHERE app_id = ? AND publish_id = ? AND state = 'pending'").run(appId, publishId).changes;
  }

  async dispatchingPublishes(limit: number): Promise<{ appId: string; publishId: string }[]> {
    const rows = this.sql("SELECT app_id, publish_id FROM push_publishes WHERE state = 'dispatching' LIMIT ?").all(limit) as Row[];
    return rows.map(publishKey);
  }

  async listDeadLetters(appId: string, filter: { provider?: string; sinceMs?: number; untilMs?: number }, page: PageQuery): Promise<Page<DeadLetter>> {
    const after = Number(decodeCursor(page.cursor) ?? 0);
    const rows = this.db
      .prepare(
        `SELECT * FROM push_deliveries WHERE app_id = @appId AND state = 'dead' AND id > @after AND (@provider IS NULL OR provider = @provider)
         AND updated_at >= @since AND updated_at <= @until ORDER BY id LIMIT @limit`,
      )
      .all({ appId, after, provider: filter.provider ?? null, since: filter.sinceMs ?? 0, until: filter.untilMs ?? Number.MAX_SAFE_INTEGER, limit: page.limit + 1 }) as Row[];
    return pageOf(rows.map(deadLetterFromRow), page.limit, (d) => String(d.id));
  }

  async replayDeadLetter(appId: string, id: number, nowMs: number): Promise<{ publishId: string } | null> {
    return this.write(() => {
      const row = this.sql("SELECT publish_id FROM push_deliveries WHERE app_id = ? AND id = ? AND state = 'dead'").get(appId, id) as Row | undefined;
      if (!row) return null;
      this.sql("UPDATE push_deliveries SET state = 'pending', attempts = 0, next_at = ?, updated_at = ? WHERE id = ?").run(nowMs, nowMs, id);
      this.sql("UPDATE push_publishes SET state = 'dispatching', error_reason = NULL WHERE app_id = ? AND publish_id = ?").run(appId, row.publish_id);
      return { publishId: String(row.publish_id) };
    });
  }

  async putDocument(appId: string, kind: DocumentKind, id: string, body: unknown, expiresAtMs: number): Promise<void> {
    this.sql('INSERT OR REPLACE INTO push_documents (app_id, kind, id, body, expires_at) VALUES (?, ?, ?, ?, ?)').run(appId, kind, id, JSON.stringify(body), expiresAtMs);
  }

  async getDocument(appId: string, kind: DocumentKind, id: string): Promise<unknown> {
    const row = this.sql('SELECT body FROM push_documents WHERE app_id = ? AND kind = ? AND id = ?').get(appId, kind, id) as { body: string } | undefined;
    return row ? JSON.parse(row.body) : null;
  }

  async listDocuments(appId: string, kind: DocumentKind, page: PageQuery): Promise<Page<unknown>> {
    const after = decodeCursor(page.cursor) ?? '';
    const rows = this.sql('SELECT id, body FROM push_documents WHERE app_id = ? AND kind = ? AND id > ? ORDER BY id LIMIT ?').all(appId, kind, after, page.limit + 1) as { id: string; body: string }[];
    return documentPage(rows, page.limit);
  }

  async deleteDocument(appId: string, kind: DocumentKind, id: string): Promise<boolean> {
    return this.sql('DELETE FROM push_documents WHERE app_id = ? AND kind = ? AND id = ?').run(appId, kind, id).changes > 0;
  }

  async purge(nowMs: number): Promise<number> {
    return this.write(() => {
      this.sql('DELETE FROM push_documents WHERE expires_at > 0 AND expires_at <= ?').run(nowMs);
      const old = "state IN ('succeeded', 'partiallySucceeded', 'failed', 'dead_lettered', 'expired', 'cancelled', 'quota_exceeded') AND keep_until <= ?";
      this.sql(`DELETE FROM push_deliveries WHERE (app_id, publish_id) IN (SELECT app_id, publish_id FROM push_publishes WHERE ${old})`).run(nowMs);
      return this.sql(`DELETE FROM push_publishes WHERE ${old}`).run(nowMs).changes;
    });
  }
}

/** Active devices reached by channel, device id or client id lists (JSON arrays bound as parameters). */
/**
 * Active devices reached by one target, each by an equality lookup on an index (one statement per target:
 * with IN-lists SQLite's planner, lacking statistics, picks a scan of the app's devices).
 */
const DEVICES_OF_CHANNEL = `push_subscriptions s JOIN push_devices d ON d.app_id = s.app_id AND d.id = s.device_id
  WHERE s.app_id = @appId AND s.channel = @target AND d.push_state != 'FAILED'`;
const DEVICES_OF_CLIENT = "push_devices d WHERE d.app_id = @appId AND d.client_id = @target AND d.push_state != 'FAILED'";
const DEVICE_BY_ID = "push_devices d WHERE d.app_id = @appId AND d.id = @target AND d.push_state != 'FAILED'";

