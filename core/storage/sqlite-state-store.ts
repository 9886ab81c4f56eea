import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { DeviceKind } from '../contracts/index.js';
import { RiskfuseError } from '../errors.js';
import type {
  After,
  ApiKey,
  ApiKeyCredentials,
  ApiRole,
  AuditEntry,
  AuditQuery,
  Borrower,
  BorrowerQuery,
  ListQuery,
  PortfolioResource,
  PortfolioSummary,
  CollateralLot,
  DeadLetter,
  Device,
  DeviceCredentials,
  Loan,
  NewDeadLetter,
  Presence,
  Repayment,
  Site,
  StateStore,
  NewAuditEntry,
  DeviceStatus,
  DeviceFilter,
  DeviceFleetCount,
  PresenceState,
} from './state-store.js';

/**
 * Versioned migrations: entry i moves the schema from version i to i + 1 (`PRAGMA user_version`). Never
 * edit a shipped entry; append a new one.
 */
const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE borrowers (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, sector TEXT NOT NULL, region TEXT NOT NULL, created_at INTEGER NOT NULL
  );
  CREATE TABLE sites (
    id TEXT PRIMARY KEY, borrower_id TEXT NOT NULL REFERENCES borrowers(id), name TEXT NOT NULL, kind TEXT NOT NULL,
    lat REAL NOT NULL, lon REAL NOT NULL, geofence TEXT NOT NULL
  );
  CREATE INDEX sites_borrower ON sites(borrower_id);
  CREATE TABLE collateral_lots (
    id TEXT PRIMARY KEY, borrower_id TEXT NOT NULL REFERENCES borrowers(id), site_id TEXT NOT NULL REFERENCES sites(id),
    commodity TEXT NOT NULL, pledged_weight_kg REAL NOT NULL, unit_price_per_kg REAL NOT NULL, currency TEXT NOT NULL,
    pledged_at INTEGER NOT NULL
  );
  CREATE INDEX lots_borrower ON collateral_lots(borrower_id);
  CREATE TABLE devices (
    id TEXT PRIMARY KEY, kind TEXT NOT NULL, borrower_id TEXT NOT NULL REFERENCES borrowers(id),
    site_id TEXT NOT NULL REFERENCES sites(id), lot_id TEXT REFERENCES collateral_lots(id),
    status TEXT NOT NULL, created_at INTEGER NOT NULL, revoked_at INTEGER,
    salt TEXT NOT NULL, token_hash TEXT NOT NULL
  );
  CREATE INDEX devices_borrower ON devices(borrower_id);
  CREATE TABLE loans (
    id TEXT PRIMARY KEY, borrower_id TEXT NOT NULL REFERENCES borrowers(id), principal REAL NOT NULL,
    currency TEXT NOT NULL, annual_rate_pct REAL NOT NULL, start_at INTEGER NOT NULL, term_days INTEGER NOT NULL,
    status TEXT NOT NULL, defaulted_at INTEGER
  );
  CREATE INDEX loans_borrower ON loans(borrower_id);
  CREATE TABLE repayments (
    id TEXT PRIMARY KEY, loan_id TEXT NOT NULL REFERENCES loans(id), due_at INTEGER NOT NULL,
    amount_due REAL NOT NULL, paid_at INTEGER, amount_paid REAL NOT NULL
  );
  CREATE INDEX repayments_loan ON repayments(loan_id, due_at);
  CREATE TABLE dead_letters (
    id INTEGER PRIMARY KEY AUTOINCREMENT, received_at INTEGER NOT NULL, device_id TEXT, topic TEXT NOT NULL,
    reason TEXT NOT NULL, detail TEXT NOT NULL, payload TEXT NOT NULL
  );
  CREATE INDEX dead_letters_reason ON dead_letters(reason, id);
  CREATE INDEX dead_letters_device ON dead_letters(device_id, id);
  `,
  `
  CREATE TABLE device_presence (
    device_id TEXT PRIMARY KEY, status TEXT NOT NULL, changed_at INTEGER NOT NULL
  );
  `,
  // 3: API keys (salted hashes only) and the append-only audit log; indexes for the API's lists.
  `
  CREATE TABLE api_keys (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL, salt TEXT NOT NULL, key_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL, revoked_at INTEGER, last_used_at INTEGER, rotated_from TEXT REFERENCES api_keys(id)
  );
  CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, actor_key_id TEXT, actor_role TEXT,
    action TEXT NOT NULL, resource TEXT NOT NULL, resource_id TEXT, before_json TEXT, after_json TEXT,
    request_id TEXT
  );
  CREATE INDEX audit_resource ON audit_log(resource, resource_id, id);
  CREATE INDEX audit_actor ON audit_log(actor_key_id, id);
  CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
    BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
  CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
    BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
  CREATE INDEX borrowers_name ON borrowers(name, id);
  CREATE INDEX borrowers_created ON borrowers(created_at, id);
  CREATE INDEX lots_site ON collateral_lots(site_id);
  CREATE INDEX devices_site ON devices(site_id);
  CREATE INDEX devices_lot ON devices(lot_id);
  `,
  // 4: risk — the model registry and scores as a time series (see sqlite-risk-store.ts).
  `
  CREATE TABLE models (
    version TEXT PRIMARY KEY, name TEXT NOT NULL, kind TEXT NOT NULL, status TEXT NOT NULL,
    created_at INTEGER NOT NULL, activated_at INTEGER, artifact_path TEXT NOT NULL, data_hash TEXT NOT NULL,
    backend TEXT NOT NULL, meta TEXT NOT NULL
  );
  CREATE UNIQUE INDEX models_one_champion ON models(status) WHERE status = 'champion';
  CREATE TABLE scores (
    borrower_id TEXT NOT NULL, at INTEGER NOT NULL, model_version TEXT NOT NULL REFERENCES models(version),
    shadow INTEGER NOT NULL, pd REAL NOT NULL, score INTEGER NOT NULL, grade TEXT NOT NULL, reasons TEXT NOT NULL,
    contributions TEXT, trigger TEXT NOT NULL,
    PRIMARY KEY (borrower_id, model_version, at)
  ) WITHOUT ROWID;
  CREATE INDEX scores_at ON scores(at);
  CREATE INDEX scores_latest ON scores(borrower_id, shadow, at);
  `,
  // 5: the event outbox (see sqlite-event-outbox.ts), written in the transaction of what it announces.
  `
  CREATE TABLE event_outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, type TEXT NOT NULL,
    occurred_at INTEGER NOT NULL, data TEXT NOT NULL
  );
  CREATE INDEX event_outbox_time ON event_outbox(occurred_at, seq);
  `,
  // 6: alerts (see sqlite-alert-store.ts): one open alert per rule and subject (the partial unique index is
  // the de-duplication), and the alert rules' settings changed over the API.
  `
  CREATE TABLE alerts (
    id TEXT PRIMARY KEY, rule_id TEXT NOT NULL, severity TEXT NOT NULL, status TEXT NOT NULL,
    subject_kind TEXT NOT NULL, subject_id TEXT NOT NULL, borrower_id TEXT, device_id TEXT, lot_id TEXT,
    title TEXT NOT NULL, evidence TEXT NOT NULL, opened_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,
    acknowledged_at INTEGER, acknowledged_by TEXT, acknowledge_comment TEXT,
    resolved_at INTEGER, resolved_by TEXT, resolve_comment TEXT
  );
  CREATE UNIQUE INDEX alerts_one_open ON alerts(rule_id, subject_kind, subject_id) WHERE status <> 'resolved';
  CREATE INDEX alerts_opened ON alerts(opened_at, id);
  CREATE INDEX alerts_status ON alerts(status, opened_at, id);
  CREATE INDEX alerts_borrower ON alerts(borrower_id, opened_at, id);
  CREATE TABLE alert_rule_settings (
    rule_id TEXT PRIMARY KEY, settings TEXT NOT NULL, updated_at INTEGER NOT NULL
  );
  `,
  // 7: webhooks (see webhooks/store.ts): subscriptions (secrets kept: they sign), one delivery row per event and
  // subscription (unique for dispatched ones, so a re-run dispatch never doubles), every attempt, and the
  // dispatcher's outbox position, advanced in the transaction that creates the deliveries.
  `
  CREATE TABLE webhook_subscriptions (
    id TEXT PRIMARY KEY, url TEXT NOT NULL, event_types TEXT NOT NULL, description TEXT,
    secret TEXT NOT NULL, previous_secret TEXT, previous_secret_until INTEGER,
    enabled INTEGER NOT NULL, disabled_reason TEXT, start_seq INTEGER NOT NULL,
    created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL
  );
  CREATE TABLE webhook_deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    subscription_id TEXT NOT NULL REFERENCES webhook_subscriptions(id) ON DELETE CASCADE,
    event_id TEXT NOT NULL, event_type TEXT NOT NULL, occurred_at INTEGER NOT NULL, payload TEXT NOT NULL,
    origin TEXT NOT NULL, replay_of INTEGER, status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER, created_at INTEGER NOT NULL, finished_at INTEGER,
    last_status_code INTEGER, last_error TEXT
  );
  CREATE UNIQUE INDEX webhook_deliveries_once ON webhook_deliveries(subscription_id, event_id)
    WHERE origin = 'dispatch';
  CREATE INDEX webhook_deliveries_due ON webhook_deliveries(status, next_attempt_at);
  CREATE INDEX webhook_deliveries_sub ON webhook_deliveries(subscription_id, status, next_attempt_at);
  CREATE INDEX webhook_deliveries_log ON webhook_deliveries(subscription_id, id);
  CREATE TABLE webhook_attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_id INTEGER NOT NULL REFERENCES webhook_deliveries(id) ON DELETE CASCADE,
    attempt INTEGER NOT NULL, started_at INTEGER NOT NULL, duration_ms INTEGER NOT NULL, status_code INTEGER,
    outcome TEXT NOT NULL, error TEXT, next_attempt_at INTEGER
  );
  CREATE INDEX webhook_attempts_delivery ON webhook_attempts(delivery_id, id);
  CREATE TABLE webhook_dispatch (id INTEGER PRIMARY KEY CHECK (id = 1), last_seq INTEGER NOT NULL);
  INSERT INTO webhook_dispatch (id, last_seq) VALUES (1, (SELECT coalesce(max(seq), 0) FROM event_outbox));
  `,
  // 8: a score keeps the model's inputs (feature values at scoring time, JSON; NULL for shadow scores and for
  // scores stored before this version), so what the model saw can be shown and audited beside its reasons.
  // score_heads holds a copy of each borrower's latest official score: the portfolio reads every borrower's
  // latest score, and finding it in the (ever growing) history took seconds at 10,000 borrowers — grouping it,
  // or even one primary-key lookup per borrower into pages of 2 KB rows scattered over gigabytes.
  `
  ALTER TABLE scores ADD COLUMN features TEXT;
  CREATE TABLE score_heads (
    borrower_id TEXT PRIMARY KEY, at INTEGER NOT NULL, model_version TEXT NOT NULL, pd REAL NOT NULL,
    score INTEGER NOT NULL, grade TEXT NOT NULL, reasons TEXT NOT NULL, contributions TEXT, trigger TEXT NOT NULL,
    features TEXT
  );
  INSERT OR REPLACE INTO score_heads
    (borrower_id, at, model_version, pd, score, grade, reasons, contributions, trigger, features)
    SELECT s.borrower_id, s.at, s.model_version, s.pd, s.score, s.grade, s.reasons, s.contributions, s.trigger,
      s.features
    FROM scores s JOIN (
      SELECT borrower_id, max(at) AS at FROM scores WHERE shadow = 0 GROUP BY borrower_id
    ) m ON s.borrower_id = m.borrower_id AND s.at = m.at
    WHERE s.shadow = 0;
  `,
];

/** Sort keys of the borrower list and their columns (never user text in SQL). */
const BORROWER_SORT_COLUMNS = { id: 'id', name: 'name', createdAt: 'created_at' } as const;

/** Who refers to what: the dependents that make a delete refuse. */
const DEPENDENTS: Record<PortfolioResource, readonly [label: string, sql: string][]> = {
  borrower: [
    ['sites', 'SELECT count(*) AS c FROM sites WHERE borrower_id = ?'],
    ['lots', 'SELECT count(*) AS c FROM collateral_lots WHERE borrower_id = ?'],
    ['devices', 'SELECT count(*) AS c FROM devices WHERE borrower_id = ?'],
    ['loans', 'SELECT count(*) AS c FROM loans WHERE borrower_id = ?'],
  ],
  site: [
    ['lots', 'SELECT count(*) AS c FROM collateral_lots WHERE site_id = ?'],
    ['devices', 'SELECT count(*) AS c FROM devices WHERE site_id = ?'],
  ],
  lot: [['devices', 'SELECT count(*) AS c FROM devices WHERE lot_id = ?']],
};
const PORTFOLIO_TABLES: Record<PortfolioResource, string> = {
  borrower: 'borrowers',
  site: 'sites',
  lot: 'collateral_lots',
};

type Row = Record<string, unknown>;
const s = (v: unknown): string => String(v);
const n = (v: unknown): number => Number(v);

const toBorrower = (r: Row): Borrower => ({
  id: s(r.id),
  name: s(r.name),
  sector: s(r.sector) as Borrower['sector'],
  region: s(r.region),
  createdAt: n(r.created_at),
});
const toSite = (r: Row): Site => ({
  id: s(r.id),
  borrowerId: s(r.borrower_id),
  name: s(r.name),
  kind: s(r.kind) as Site['kind'],
  lat: n(r.lat),
  lon: n(r.lon),
  geofence: JSON.parse(s(r.geofence)) as Site['geofence'],
});
const toLot = (r: Row): CollateralLot => ({
  id: s(r.id),
  borrowerId: s(r.borrower_id),
  siteId: s(r.site_id),
  commodity: s(r.commodity),
  pledgedWeightKg: n(r.pledged_weight_kg),
  unitPricePerKg: n(r.unit_price_per_kg),
  currency: s(r.currency),
  pledgedAt: n(r.pledged_at),
});
const toDevice = (r: Row): Device => ({
  id: s(r.id),
  kind: s(r.kind) as DeviceKind,
  borrowerId: s(r.borrower_id),
  siteId: s(r.site_id),
  ...(r.lot_id == null ? {} : { lotId: s(r.lot_id) }),
  status: s(r.status) as Device['status'],
  createdAt: n(r.created_at),
});
const toLoan = (r: Row): Loan => ({
  id: s(r.id),
  borrowerId: s(r.borrower_id),
  principal: n(r.principal),
  currency: s(r.currency),
  annualRatePct: n(r.annual_rate_pct),
  startAt: n(r.start_at),
  termDays: n(r.term_days),
  status: s(r.status) as Loan['status'],
  ...(r.defaulted_at == null ? {} : { defaultedAt: n(r.defaulted_at) }),
});
const toRepayment = (r: Row): Repayment => ({
  id: s(r.id),
  loanId: s(r.loan_id),
  dueAt: n(r.due_at),
  amountDue: n(r.amount_due),
  ...(r.paid_at == null ? {} : { paidAt: n(r.paid_at) }),
  amountPaid: n(r.amount_paid),
});
const toDeadLetter = (r: Row): DeadLetter => ({
  id: n(r.id),
  receivedAt: n(r.received_at),
  ...(r.device_id == null ? {} : { deviceId: s(r.device_id) }),
  topic: s(r.topic),
  reason: s(r.reason),
  detail: s(r.detail),
  payload: s(r.payload),
});

const toApiKey = (r: Row): ApiKey => ({
  id: s(r.id),
  name: s(r.name),
  role: s(r.role) as ApiRole,
  createdAt: n(r.created_at),
  ...(r.revoked_at == null ? {} : { revokedAt: n(r.revoked_at) }),
  ...(r.last_used_at == null ? {} : { lastUsedAt: n(r.last_used_at) }),
  ...(r.rotated_from == null ? {} : { rotatedFrom: s(r.rotated_from) }),
});
const toAudit = (r: Row): AuditEntry => ({
  id: n(r.id),
  at: n(r.at),
  ...(r.actor_key_id == null ? {} : { actorKeyId: s(r.actor_key_id) }),
  ...(r.actor_role == null ? {} : { actorRole: s(r.actor_role) }),
  action: s(r.action),
  resource: s(r.resource),
  ...(r.resource_id == null ? {} : { resourceId: s(r.resource_id) }),
  ...(r.before_json == null ? {} : { before: JSON.parse(s(r.before_json)) as unknown }),
  ...(r.after_json == null ? {} : { after: JSON.parse(s(r.after_json)) as unknown }),
  ...(r.request_id == null ? {} : { requestId: s(r.request_id) }),
});
/** A device's presence in queries over `devices d LEFT JOIN device_presence p`: no row (or no known status) is `unknown`. */
const PRESENCE_SQL = `CASE p.status WHEN 'online' THEN 'online' WHEN 'offline' THEN 'offline' ELSE 'unknown' END`;
/** LIKE pattern for a substring, with the user's `%`, `_` and `\` taken literally. */
const likeSubstring = (q: string): string => `%${q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

/** The SQLite state store. Synchronous by nature (better-sqlite3); each batch is one transaction. */
export class SqliteStateStore implements StateStore {
  readonly db: Database.Database;
  /**
   * Statements prepared once per SQL text. Preparing costs more than running a lookup (15 µs against 3 µs for
   * getDevice), and the broker and ingest look devices up on every CONNECT and registry-cache miss.
   */
  private readonly statements = new Map<string, Database.Statement>();

  constructor(path: string) {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    // FULL: a dead letter is the ingest's reason to acknowledge an MQTT message, so it must survive power loss.
    this.db.pragma('synchronous = FULL');
    this.db.pragma('foreign_keys = ON');
    this.db.pragma('busy_timeout = 5000');
    this.migrate();
  }

  private migrate(): void {
    const current = this.schemaVersion();
    if (current > MIGRATIONS.length) {
      throw new RiskfuseError(
        'MIGRATION_FAILED',
        `state store schema version ${current} is newer than this riskfuse (${MIGRATIONS.length}); upgrade riskfuse`,
      );
    }
    for (let v = current; v < MIGRATIONS.length; v++) {
      const sql = MIGRATIONS[v] ?? '';
      this.db.transaction(() => {
        this.db.exec(sql);
        this.db.pragma(`user_version = ${v + 1}`);
      })();
    }
  }

  private prepared(sql: string): Database.Statement {
    let stmt = this.statements.get(sql);
    if (stmt === undefined) {
      stmt = this.db.prepare(sql);
      this.statements.set(sql, stmt);
    }
    return stmt;
  }

  schemaVersion(): number {
    return Number(this.db.pragma('user_version', { simple: true }));
  }

  private many<T>(sql: string, rows: readonly T[], bind: (item: T) => Record<string, unknown>): void {
    const stmt = this.prepared(sql);
    this.db.transaction(() => {
      for (const item of rows) stmt.run(bind(item));
    })();
  }

  upsertBorrowers(items: readonly Borrower[]): void {
    this.many(
      `INSERT INTO borrowers (id, name, sector, region, created_at) VALUES (@id, @name, @sector, @region, @createdAt)
       ON CONFLICT(id) DO UPDATE SET name = excluded.name, sector = excluded.sector, region = excluded.region`,
      items,
      (b) => ({ ...b }),
    );
  }

  upsertSites(items: readonly Site[]): void {
    this.many(
      `INSERT INTO sites (id, borrower_id, name, kind, lat, lon, geofence)
       VALUES (@id, @borrowerId, @name, @kind, @lat, @lon, @geofence)
       ON CONFLICT(id) DO UPDATE SET name = excluded.name, kind = excluded.kind, lat = excluded.lat,
         lon = excluded.lon, geofence = excluded.geofence`,
      items,
      (x) => ({ ...x, geofence: JSON.stringify(x.geofence) }),
    );
  }

  upsertLots(items: readonly CollateralLot[]): void {
    this.many(
      `INSERT INTO collateral_lots (id, borrower_id, site_id, commodity, pledged_weight_kg, unit_price_per_kg, currency, pledged_at)
       VALUES (@id, @borrowerId, @siteId, @commodity, @pledgedWeightKg, @unitPricePerKg, @currency, @pledgedAt)
       ON CONFLICT(id) DO UPDATE SET site_id = excluded.site_id, commodity = excluded.commodity,
         pledged_weight_kg = excluded.pledged_weight_kg, unit_price_per_kg = excluded.unit_price_per_kg,
         currency = excluded.currency`,
      items,
      (x) => ({ ...x }),
    );
  }

  getBorrower(id: string): Borrower | undefined {
    const r = this.prepared('SELECT * FROM borrowers WHERE id = ?').get(id) as Row | undefined;
    return r && toBorrower(r);
  }

  listBorrowers(): Borrower[] {
    return (this.prepared('SELECT * FROM borrowers ORDER BY id').all() as Row[]).map(toBorrower);
  }

  listSites(borrowerId?: string): Site[] {
    const rows =
      borrowerId === undefined
        ? this.prepared('SELECT * FROM sites ORDER BY id').all()
        : this.prepared('SELECT * FROM sites WHERE borrower_id = ? ORDER BY id').all(borrowerId);
    return (rows as Row[]).map(toSite);
  }

  getSite(id: string): Site | undefined {
    const r = this.prepared('SELECT * FROM sites WHERE id = ?').get(id) as Row | undefined;
    return r && toSite(r);
  }

  listLots(borrowerId?: string): CollateralLot[] {
    const rows =
      borrowerId === undefined
        ? this.prepared('SELECT * FROM collateral_lots ORDER BY id').all()
        : this.prepared('SELECT * FROM collateral_lots WHERE borrower_id = ? ORDER BY id').all(borrowerId);
    return (rows as Row[]).map(toLot);
  }

  upsertDevices(items: readonly { device: Device; credentials: DeviceCredentials }[]): void {
    for (const { device, credentials } of items) {
      if (device.id !== credentials.deviceId) {
        throw new RiskfuseError(
          'VALIDATION_FAILED',
          `credentials for ${credentials.deviceId} given to ${device.id}`,
        );
      }
    }
    this.many(
      `INSERT INTO devices (id, kind, borrower_id, site_id, lot_id, status, created_at, salt, token_hash)
       VALUES (@id, @kind, @borrowerId, @siteId, @lotId, @status, @createdAt, @salt, @tokenHash)
       ON CONFLICT(id) DO UPDATE SET kind = excluded.kind, borrower_id = excluded.borrower_id,
         site_id = excluded.site_id, lot_id = excluded.lot_id, status = excluded.status,
         salt = excluded.salt, token_hash = excluded.token_hash, revoked_at = NULL`,
      items,
      ({ device, credentials }) => ({
        ...device,
        lotId: device.lotId ?? null,
        salt: credentials.salt,
        tokenHash: credentials.tokenHash,
      }),
    );
  }

  getDevice(id: string): Device | undefined {
    const r = this.prepared('SELECT * FROM devices WHERE id = ?').get(id) as Row | undefined;
    return r && toDevice(r);
  }

  getCredentials(deviceId: string): DeviceCredentials | undefined {
    const r = this.prepared(
      `SELECT id, salt, token_hash FROM devices WHERE id = ? AND status = 'active'`,
    ).get(deviceId) as Row | undefined;
    return r && { deviceId: s(r.id), salt: s(r.salt), tokenHash: s(r.token_hash) };
  }

  listDevices(filter: { borrowerId?: string; kind?: DeviceKind } = {}): Device[] {
    const rows = this.prepared(
      `SELECT * FROM devices WHERE (@borrowerId IS NULL OR borrower_id = @borrowerId)
         AND (@kind IS NULL OR kind = @kind) ORDER BY id`,
    ).all({ borrowerId: filter.borrowerId ?? null, kind: filter.kind ?? null }) as Row[];
    return rows.map(toDevice);
  }

  revokeDevice(id: string, atMs: number): boolean {
    const res = this.prepared(
      `UPDATE devices SET status = 'revoked', revoked_at = ? WHERE id = ? AND status = 'active'`,
    ).run(atMs, id);
    return res.changes > 0;
  }

  upsertLoans(items: readonly Loan[]): void {
    this.many(
      `INSERT INTO loans (id, borrower_id, principal, currency, annual_rate_pct, start_at, term_days, status, defaulted_at)
       VALUES (@id, @borrowerId, @principal, @currency, @annualRatePct, @startAt, @termDays, @status, @defaultedAt)
       ON CONFLICT(id) DO UPDATE SET principal = excluded.principal, currency = excluded.currency,
         annual_rate_pct = excluded.annual_rate_pct, start_at = excluded.start_at, term_days = excluded.term_days,
         status = excluded.status, defaulted_at = excluded.defaulted_at`,
      items,
      (x) => ({ ...x, defaultedAt: x.defaultedAt ?? null }),
    );
  }

  upsertRepayments(items: readonly Repayment[]): void {
    this.many(
      `INSERT INTO repayments (id, loan_id, due_at, amount_due, paid_at, amount_paid)
       VALUES (@id, @loanId, @dueAt, @amountDue, @paidAt, @amountPaid)
       ON CONFLICT(id) DO UPDATE SET due_at = excluded.due_at, amount_due = excluded.amount_due,
         paid_at = excluded.paid_at, amount_paid = excluded.amount_paid`,
      items,
      (x) => ({ ...x, paidAt: x.paidAt ?? null }),
    );
  }

  listLoans(borrowerId?: string): Loan[] {
    const rows =
      borrowerId === undefined
        ? this.prepared('SELECT * FROM loans ORDER BY id').all()
        : this.prepared('SELECT * FROM loans WHERE borrower_id = ? ORDER BY id').all(borrowerId);
    return (rows as Row[]).map(toLoan);
  }

  listRepayments(loanId: string): Repayment[] {
    return (
      this.prepared('SELECT * FROM repayments WHERE loan_id = ? ORDER BY due_at, id').all(loanId) as Row[]
    ).map(toRepayment);
  }

  addDeadLetters(items: readonly NewDeadLetter[]): void {
    this.many(
      `INSERT INTO dead_letters (received_at, device_id, topic, reason, detail, payload)
       VALUES (@receivedAt, @deviceId, @topic, @reason, @detail, @payload)`,
      items,
      (x) => ({ ...x, deviceId: x.deviceId ?? null }),
    );
  }

  listDeadLetters(options: { limit?: number; reason?: string; deviceId?: string } = {}): DeadLetter[] {
    const limit = Math.min(Math.max(options.limit ?? 100, 1), 10_000);
    const rows = this.prepared(
      `SELECT * FROM dead_letters WHERE (@reason IS NULL OR reason = @reason)
         AND (@deviceId IS NULL OR device_id = @deviceId) ORDER BY id DESC LIMIT @limit`,
    ).all({ reason: options.reason ?? null, deviceId: options.deviceId ?? null, limit }) as Row[];
    return rows.map(toDeadLetter);
  }

  countDeadLetters(reason?: string): number {
    const r = this.prepared(
      'SELECT count(*) AS c FROM dead_letters WHERE (@reason IS NULL OR reason = @reason)',
    ).get({ reason: reason ?? null }) as Row;
    return n(r.c);
  }

  setPresence(items: readonly Presence[]): void {
    // Out-of-order status messages (redelivery after a reconnect) must not overwrite a newer state.
    this.many(
      `INSERT INTO device_presence (device_id, status, changed_at) VALUES (@deviceId, @status, @changedAt)
       ON CONFLICT(device_id) DO UPDATE SET status = excluded.status, changed_at = excluded.changed_at
       WHERE excluded.changed_at >= device_presence.changed_at`,
      items,
      (x) => ({ ...x }),
    );
  }

  listPresence(): Presence[] {
    return (this.prepared('SELECT * FROM device_presence ORDER BY device_id').all() as Row[]).map((r) => ({
      deviceId: s(r.device_id),
      status: s(r.status) as Presence['status'],
      changedAt: n(r.changed_at),
    }));
  }

  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  getLot(id: string): CollateralLot | undefined {
    const r = this.prepared('SELECT * FROM collateral_lots WHERE id = ?').get(id) as Row | undefined;
    return r && toLot(r);
  }

  queryBorrowers(query: BorrowerQuery): Borrower[] {
    const sort = query.sort ?? 'id';
    const col = BORROWER_SORT_COLUMNS[sort];
    const dir = query.desc === true ? 'DESC' : 'ASC';
    const cmp = query.desc === true ? '<' : '>';
    const after: After | undefined = query.after;
    const keyset =
      after === undefined
        ? ''
        : sort === 'id'
          ? `AND id ${cmp} @afterId`
          : `AND (${col} ${cmp} @afterValue OR (${col} = @afterValue AND id ${cmp} @afterId))`;
    const rows = this.prepared(
      `SELECT * FROM borrowers WHERE (@q IS NULL OR name LIKE @q ESCAPE '\\' OR id LIKE @q ESCAPE '\\')
         AND (@sector IS NULL OR sector = @sector) AND (@region IS NULL OR region = @region) ${keyset}
       ORDER BY ${sort === 'id' ? `id ${dir}` : `${col} ${dir}, id ${dir}`} LIMIT @limit`,
    ).all({
      q: query.q === undefined ? null : likeSubstring(query.q),
      sector: query.sector ?? null,
      region: query.region ?? null,
      limit: query.limit,
      ...(after === undefined
        ? {}
        : { afterId: after.id, ...(sort === 'id' ? {} : { afterValue: after.value }) }),
    }) as Row[];
    return rows.map(toBorrower);
  }

  querySites(query: ListQuery & { borrowerId?: string }): Site[] {
    const rows = this.prepared(
      `SELECT * FROM sites WHERE (@borrowerId IS NULL OR borrower_id = @borrowerId)
         AND (@afterId IS NULL OR id > @afterId) ORDER BY id LIMIT @limit`,
    ).all({
      borrowerId: query.borrowerId ?? null,
      afterId: query.afterId ?? null,
      limit: query.limit,
    }) as Row[];
    return rows.map(toSite);
  }

  queryLots(query: ListQuery & { borrowerId?: string; siteId?: string }): CollateralLot[] {
    const rows = this.prepared(
      `SELECT * FROM collateral_lots WHERE (@borrowerId IS NULL OR borrower_id = @borrowerId)
         AND (@siteId IS NULL OR site_id = @siteId) AND (@afterId IS NULL OR id > @afterId) ORDER BY id LIMIT @limit`,
    ).all({
      borrowerId: query.borrowerId ?? null,
      siteId: query.siteId ?? null,
      afterId: query.afterId ?? null,
      limit: query.limit,
    }) as Row[];
    return rows.map(toLot);
  }

  dependents(resource: PortfolioResource, id: string): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [label, sql] of DEPENDENTS[resource]) {
      const c = n((this.prepared(sql).get(id) as Row).c);
      if (c > 0) out[label] = c;
    }
    return out;
  }

  deletePortfolioItem(resource: PortfolioResource, id: string): boolean {
    return this.prepared(`DELETE FROM ${PORTFOLIO_TABLES[resource]} WHERE id = ?`).run(id).changes > 0;
  }

  portfolioSummary(): PortfolioSummary {
    const counts = (sql: string): Record<string, number> => {
      const out: Record<string, number> = {};
      for (const r of this.prepared(sql).all() as Row[]) out[s(r.k)] = n(r.c);
      return out;
    };
    const one = (sql: string): number => n((this.prepared(sql).get() as Row).c);
    const exposure = (
      this.prepared(
        `SELECT l.currency, count(*) AS loans, sum(l.principal) AS principal,
           coalesce(sum((SELECT sum(r.amount_due - r.amount_paid) FROM repayments r WHERE r.loan_id = l.id)), 0)
             AS outstanding
         FROM loans l WHERE l.status = 'active' GROUP BY l.currency ORDER BY l.currency`,
      ).all() as Row[]
    ).map((r) => ({
      currency: s(r.currency),
      activeLoans: n(r.loans),
      principal: n(r.principal),
      outstanding: n(r.outstanding),
    }));
    const collateralValue = (
      this.prepared(
        `SELECT currency, sum(pledged_weight_kg * unit_price_per_kg) AS value FROM collateral_lots
         GROUP BY currency ORDER BY currency`,
      ).all() as Row[]
    ).map((r) => ({ currency: s(r.currency), value: n(r.value) }));
    return {
      borrowers: one('SELECT count(*) AS c FROM borrowers'),
      bySector: counts('SELECT sector AS k, count(*) AS c FROM borrowers GROUP BY sector ORDER BY sector'),
      sites: one('SELECT count(*) AS c FROM sites'),
      lots: one('SELECT count(*) AS c FROM collateral_lots'),
      devices: counts('SELECT status AS k, count(*) AS c FROM devices GROUP BY status ORDER BY status'),
      loans: counts('SELECT status AS k, count(*) AS c FROM loans GROUP BY status ORDER BY status'),
      exposure,
      collateralValue,
    };
  }

  borrowerExposures(
    borrowerIds?: readonly string[],
  ): Map<string, { currency: string; outstanding: number }[]> {
    const sql = (where: string) =>
      `SELECT l.borrower_id, l.currency, coalesce(sum(r.amount_due - r.amount_paid), 0) AS outstanding
       FROM loans l LEFT JOIN repayments r ON r.loan_id = l.id
       WHERE l.status = 'active'${where} GROUP BY l.borrower_id, l.currency ORDER BY l.borrower_id, l.currency`;
    // A page of borrowers: their loans by index; the whole book in one pass otherwise.
    const rows =
      borrowerIds === undefined
        ? (this.prepared(sql('')).all() as Row[])
        : [...new Set(borrowerIds)].flatMap(
            (id) => this.prepared(sql(' AND l.borrower_id = ?')).all(id) as Row[],
          );
    const out = new Map<string, { currency: string; outstanding: number }[]>();
    for (const r of rows) {
      const id = s(r.borrower_id);
      let list = out.get(id);
      if (list === undefined) out.set(id, (list = []));
      list.push({ currency: s(r.currency), outstanding: n(r.outstanding) });
    }
    return out;
  }

  queryDevices(
    query: ListQuery & {
      borrowerId?: string;
      siteId?: string;
      kind?: DeviceKind;
      status?: DeviceStatus;
      presence?: PresenceState;
    },
  ): Device[] {
    // Presence is a LEFT JOIN: a device without a presence row is `unknown`.
    const rows = this.prepared(
      `SELECT d.* FROM devices d LEFT JOIN device_presence p ON p.device_id = d.id
       WHERE (@borrowerId IS NULL OR d.borrower_id = @borrowerId)
         AND (@siteId IS NULL OR d.site_id = @siteId) AND (@kind IS NULL OR d.kind = @kind)
         AND (@status IS NULL OR d.status = @status)
         AND (@presence IS NULL OR ${PRESENCE_SQL} = @presence)
         AND (@afterId IS NULL OR d.id > @afterId)
       ORDER BY d.id LIMIT @limit`,
    ).all({
      borrowerId: query.borrowerId ?? null,
      siteId: query.siteId ?? null,
      kind: query.kind ?? null,
      status: query.status ?? null,
      presence: query.presence ?? null,
      afterId: query.afterId ?? null,
      limit: query.limit,
    }) as Row[];
    return rows.map(toDevice);
  }

  deviceFleetCounts(filter: DeviceFilter = {}): DeviceFleetCount[] {
    const rows = this.prepared(
      `SELECT d.kind, d.status, ${PRESENCE_SQL} AS presence, count(*) AS c
       FROM devices d LEFT JOIN device_presence p ON p.device_id = d.id
       WHERE (@borrowerId IS NULL OR d.borrower_id = @borrowerId) AND (@kind IS NULL OR d.kind = @kind)
       GROUP BY d.kind, d.status, presence ORDER BY d.kind, d.status, presence`,
    ).all({ borrowerId: filter.borrowerId ?? null, kind: filter.kind ?? null }) as Row[];
    return rows.map((r) => ({
      kind: s(r.kind) as DeviceKind,
      status: s(r.status) as DeviceStatus,
      presence: s(r.presence) as PresenceState,
      devices: n(r.c),
    }));
  }

  deviceIds(filter: DeviceFilter & { status?: DeviceStatus } = {}): { id: string; kind: DeviceKind }[] {
    const rows = this.prepared(
      `SELECT id, kind FROM devices WHERE (@borrowerId IS NULL OR borrower_id = @borrowerId)
         AND (@kind IS NULL OR kind = @kind) AND (@status IS NULL OR status = @status) ORDER BY id`,
    ).all({
      borrowerId: filter.borrowerId ?? null,
      kind: filter.kind ?? null,
      status: filter.status ?? null,
    }) as Row[];
    return rows.map((r) => ({ id: s(r.id), kind: s(r.kind) as DeviceKind }));
  }

  getLoan(id: string): Loan | undefined {
    const r = this.prepared('SELECT * FROM loans WHERE id = ?').get(id) as Row | undefined;
    return r && toLoan(r);
  }

  getRepayment(id: string): Repayment | undefined {
    const r = this.prepared('SELECT * FROM repayments WHERE id = ?').get(id) as Row | undefined;
    return r && toRepayment(r);
  }

  queryLoans(query: ListQuery & { borrowerId?: string; status?: Loan['status'] }): Loan[] {
    const rows = this.prepared(
      `SELECT * FROM loans WHERE (@borrowerId IS NULL OR borrower_id = @borrowerId)
         AND (@status IS NULL OR status = @status) AND (@afterId IS NULL OR id > @afterId) ORDER BY id LIMIT @limit`,
    ).all({
      borrowerId: query.borrowerId ?? null,
      status: query.status ?? null,
      afterId: query.afterId ?? null,
      limit: query.limit,
    }) as Row[];
    return rows.map(toLoan);
  }

  getPresence(deviceIds: readonly string[]): Presence[] {
    if (deviceIds.length === 0) return [];
    const rows = this.prepared(
      `SELECT * FROM device_presence WHERE device_id IN (SELECT value FROM json_each(?)) ORDER BY device_id`,
    ).all(JSON.stringify(deviceIds)) as Row[];
    return rows.map((r) => ({
      deviceId: s(r.device_id),
      status: s(r.status) as Presence['status'],
      changedAt: n(r.changed_at),
    }));
  }

  createApiKey(key: ApiKey, credentials: ApiKeyCredentials): void {
    this.prepared(
      `INSERT INTO api_keys (id, name, role, salt, key_hash, created_at, revoked_at, last_used_at, rotated_from)
       VALUES (@id, @name, @role, @salt, @keyHash, @createdAt, @revokedAt, @lastUsedAt, @rotatedFrom)`,
    ).run({
      id: key.id,
      name: key.name,
      role: key.role,
      salt: credentials.salt,
      keyHash: credentials.keyHash,
      createdAt: key.createdAt,
      revokedAt: key.revokedAt ?? null,
      lastUsedAt: key.lastUsedAt ?? null,
      rotatedFrom: key.rotatedFrom ?? null,
    });
  }

  getApiKey(id: string): ApiKey | undefined {
    const r = this.prepared('SELECT * FROM api_keys WHERE id = ?').get(id) as Row | undefined;
    return r && toApiKey(r);
  }

  getApiKeyCredentials(id: string): ApiKeyCredentials | undefined {
    const r = this.prepared('SELECT salt, key_hash FROM api_keys WHERE id = ? AND revoked_at IS NULL').get(
      id,
    ) as Row | undefined;
    return r && { salt: s(r.salt), keyHash: s(r.key_hash) };
  }

  listApiKeys(): ApiKey[] {
    return (this.prepared('SELECT * FROM api_keys ORDER BY created_at, id').all() as Row[]).map(toApiKey);
  }

  revokeApiKey(id: string, atMs: number): boolean {
    return (
      this.prepared('UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL').run(atMs, id)
        .changes > 0
    );
  }

  touchApiKey(id: string, atMs: number): void {
    this.prepared('UPDATE api_keys SET last_used_at = ? WHERE id = ?').run(atMs, id);
  }

  countActiveApiKeys(role?: ApiRole): number {
    const r = this.prepared(
      'SELECT count(*) AS c FROM api_keys WHERE revoked_at IS NULL AND (@role IS NULL OR role = @role)',
    ).get({ role: role ?? null }) as Row;
    return n(r.c);
  }

  appendAudit(entry: NewAuditEntry): number {
    const res = this.prepared(
      `INSERT INTO audit_log (at, actor_key_id, actor_role, action, resource, resource_id, before_json, after_json, request_id)
       VALUES (@at, @actorKeyId, @actorRole, @action, @resource, @resourceId, @before, @after, @requestId)`,
    ).run({
      at: entry.at,
      actorKeyId: entry.actorKeyId ?? null,
      actorRole: entry.actorRole ?? null,
      action: entry.action,
      resource: entry.resource,
      resourceId: entry.resourceId ?? null,
      before: entry.before === undefined ? null : JSON.stringify(entry.before),
      after: entry.after === undefined ? null : JSON.stringify(entry.after),
      requestId: entry.requestId ?? null,
    });
    return Number(res.lastInsertRowid);
  }

  listAudit(query: AuditQuery): AuditEntry[] {
    const rows = this.prepared(
      `SELECT * FROM audit_log WHERE (@beforeId IS NULL OR id < @beforeId) AND (@action IS NULL OR action = @action)
         AND (@resource IS NULL OR resource = @resource) AND (@resourceId IS NULL OR resource_id = @resourceId)
         AND (@actorKeyId IS NULL OR actor_key_id = @actorKeyId)
       ORDER BY id DESC LIMIT @limit`,
    ).all({
      beforeId: query.beforeId ?? null,
      action: query.action ?? null,
      resource: query.resource ?? null,
      resourceId: query.resourceId ?? null,
      actorKeyId: query.actorKeyId ?? null,
      limit: query.limit,
    }) as Row[];
    return rows.map(toAudit);
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

export function openSqliteStateStore(path: string): SqliteStateStore {
  return new SqliteStateStore(path);
}
