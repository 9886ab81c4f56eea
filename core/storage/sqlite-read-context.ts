import type Database from 'better-sqlite3';
import type { DeviceKind, Reading } from '../contracts/index.js';
import { DAY_MS, type Segment } from './resolution.js';
import { planSlots, rollupReady, type SlotPlan } from './sqlite-rollup.js';
import type { SeriesFilter } from './telemetry-store.js';

/**
 * What every read of the SQLite telemetry store needs from its connection: statements prepared once per SQL
 * text, the devices of each kind, whether the hourly and daily aggregates are complete, and where a query's
 * fields sit in them. The store's own connection has one, and so has each of its reader threads
 * (`sqlite-grid-readers.ts`), so a grid read there is planned exactly as on the store's thread.
 */
export interface SqliteReadContext {
  readonly db: Database.Database;
  readonly prepared: <R>(sql: string) => Database.Statement<unknown[], R>;
  /** Distinct device ids of the readings, in key order (a loose index scan). */
  readonly distinctDevices: () => string[];
  /** Where each field of a kind sits in the aggregates; `'raw'` while they are incomplete (or `rawOnly`). */
  readonly slotPlan: (kind: DeviceKind, fields: readonly string[]) => SlotPlan;
  /** The filter a raw segment reads with (a whole kind as its devices when the segment is a day or longer). */
  readonly rawFilter: <Q extends SeriesFilter>(q: Q, seg: Segment) => Q;
  /** Keeps the device index current with this process's own writes. */
  readonly noteWritten: (readings: readonly Reading[]) => void;
}

/** How long the in-memory device-by-kind index is trusted before a rebuild (other processes may write). */
const DEVICE_INDEX_TTL_MS = 60_000;

export function sqliteReadContext(
  db: Database.Database,
  opts: { readonly rawOnly?: boolean } = {},
): SqliteReadContext {
  // Statements are prepared once per distinct SQL text; the texts depend only on which filters are present.
  const statements = new Map<string, Database.Statement<unknown[], unknown>>();
  const prepared = <R>(sql: string): Database.Statement<unknown[], R> => {
    let stmt = statements.get(sql);
    if (stmt === undefined) {
      stmt = db.prepare<unknown[], unknown>(sql);
      statements.set(sql, stmt);
    }
    return stmt as Database.Statement<unknown[], R>;
  };
  // Distinct device ids by hopping through the primary key (a loose index scan): O(devices × log n), not O(n).
  const distinctDevices = db
    .prepare<[], string>(
      `WITH RECURSIVE d(id) AS (
         SELECT (SELECT min(device_id) FROM readings)
         UNION ALL
         SELECT (SELECT min(device_id) FROM readings WHERE device_id > d.id) FROM d WHERE d.id IS NOT NULL
       )
       SELECT id FROM d WHERE id IS NOT NULL`,
    )
    .pluck();
  const kindOfDevice = db
    .prepare<[string], DeviceKind>('SELECT kind FROM readings WHERE device_id = ? LIMIT 1')
    .pluck();
  // Devices by kind, so a query by kind alone walks each device's primary-key range (about 6× faster than the
  // (kind, ts) index, which needs a table lookup per reading). Built by the loose index scan, kept current by
  // this store's own writes, rebuilt after DEVICE_INDEX_TTL_MS for writers in other processes.
  let deviceIndex: { builtAt: number; byKind: Map<DeviceKind, Set<string>> } | undefined;
  const devicesOfKind = (kind: DeviceKind): string[] => {
    if (deviceIndex === undefined || Date.now() - deviceIndex.builtAt > DEVICE_INDEX_TTL_MS) {
      const byKind = new Map<DeviceKind, Set<string>>();
      for (const id of distinctDevices.all()) {
        const k = kindOfDevice.get(id);
        if (k === undefined) continue;
        let set = byKind.get(k);
        if (set === undefined) byKind.set(k, (set = new Set()));
        set.add(id);
      }
      deviceIndex = { builtAt: Date.now(), byKind };
    }
    return [...(deviceIndex.byKind.get(kind) ?? [])];
  };
  const byKindOnly = <Q extends SeriesFilter>(q: Q): Q =>
    q.kind !== undefined &&
    q.deviceIds === undefined &&
    q.borrowerIds === undefined &&
    q.siteIds === undefined
      ? { ...q, deviceIds: devicesOfKind(q.kind) }
      : q;

  // The aggregates are read once they are complete; a store that predates them builds them on the writer thread.
  let rollupsComplete = rollupReady(db);
  const isRollupReady = (): boolean =>
    opts.rawOnly !== true && (rollupsComplete || (rollupsComplete = rollupReady(db)));

  return {
    db,
    prepared,
    distinctDevices: () => distinctDevices.all(),
    slotPlan: (kind, fields) => (isRollupReady() ? planSlots(prepared, kind, fields) : 'raw'),
    // A raw segment of less than a day (a window's edge) reads a kind through the (kind, ts) index; a longer one
    // walks each device's key range (see byKindOnly).
    rawFilter: (q, seg) => (seg.toMs - seg.fromMs < DAY_MS ? q : byKindOnly(q)),
    noteWritten: (readings) => {
      if (deviceIndex === undefined) return;
      for (const r of readings) {
        let set = deviceIndex.byKind.get(r.kind);
        if (set === undefined) deviceIndex.byKind.set(r.kind, (set = new Set()));
        set.add(r.deviceId);
      }
    },
  };
}
