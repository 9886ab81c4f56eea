import type { Database } from '../database.js';

/**
 * The state's tables in an order that satisfies every foreign key (a table after those it references), for
 * copying state between databases. A migration that adds a table adds it here; `core/state/test/
 * transfer.test.ts` fails while a table of the schema is missing from this list.
 */
export const TABLE_ORDER: readonly string[] = [
  'borrowers',
  'sites',
  'collateral_lots',
  'devices',
  'device_presence',
  'loans',
  'repayments',
  'dead_letters',
  'api_keys',
  'audit_log',
  'models',
  'model_artifacts',
  'scores',
  'score_heads',
  'event_outbox',
  'alerts',
  'alert_rule_settings',
  'cases',
  'case_alerts',
  'case_notes',
  'alert_suppressions',
  'suppressed_alerts',
  'webhook_subscriptions',
  'webhook_deliveries',
  'webhook_attempts',
  'webhook_dispatch',
  'loan_funders',
  'lending_policies',
  'credit_limits',
  'credit_applications',
  'credit_decisions',
  'limit_reviews',
  'credit_exposures',
  'model_references',
  'model_drift',
  'model_backtests',
];

/** Tables whose rows refer to rows of the same table: copied parents first (column → referenced column). */
export const SELF_REFERENCES: Readonly<Record<string, { column: string; references: string }>> = {
  api_keys: { column: 'rotated_from', references: 'id' },
};

/** Tables holding one row the migrations create (copied by upsert on this key). */
export const SINGLETONS: Readonly<Record<string, string>> = { webhook_dispatch: 'id' };

/** The state's tables as the database lists them (migrations bookkeeping excluded), sorted by name. */
export async function schemaTables(db: Database): Promise<string[]> {
  const rows =
    db.dialect === 'sqlite'
      ? await db.all<{ name: string }>(
          `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'
             AND name <> 'schema_migrations' ORDER BY name`,
        )
      : await db.all<{ name: string }>(
          `SELECT table_name AS name FROM information_schema.tables
           WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' AND table_name <> 'schema_migrations'
           ORDER BY table_name`,
        );
  return rows.map((r) => r.name);
}

/** A table's primary-key columns in key order (the export pages on them). */
export async function primaryKey(db: Database, table: string): Promise<string[]> {
  if (db.dialect === 'sqlite') {
    const cols = await db.all<{ name: string; pk: number }>(`SELECT name, pk FROM pragma_table_info(?)`, [
      table,
    ]);
    return cols
      .filter((c) => c.pk > 0)
      .sort((a, b) => a.pk - b.pk)
      .map((c) => c.name);
  }
  const cols = await db.all<{ name: string }>(
    `SELECT a.attname AS name FROM pg_index i
       JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
     WHERE i.indrelid = CAST(? AS regclass) AND i.indisprimary
     ORDER BY array_position(CAST(i.indkey AS int2[]), a.attnum)`,
    [table],
  );
  return cols.map((c) => c.name);
}

/** Identity columns of PostgreSQL tables, whose sequences must move past copied ids. */
export async function identityColumns(db: Database): Promise<{ table: string; column: string }[]> {
  if (db.dialect !== 'postgres') return [];
  return db.all<{ table: string; column: string }>(
    `SELECT table_name AS "table", column_name AS "column" FROM information_schema.columns
     WHERE table_schema = current_schema() AND is_identity = 'YES'`,
  );
}
