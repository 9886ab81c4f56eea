import type { Database, Row } from '../database.js';
import { textListSql } from '../sql-text-list.js';
import { upsertRows } from '../sql-upsert.js';
import type { Presence, PresenceRepository } from './presence-repository.js';

const toPresence = (r: Row): Presence => ({
  deviceId: String(r.device_id),
  status: String(r.status) as Presence['status'],
  changedAt: Number(r.changed_at),
});

// Out-of-order status messages (redelivery after a reconnect) must not overwrite a newer state.
const upsertPresenceRows = upsertRows({
  table: 'device_presence',
  columns: ['device_id', 'status', 'changed_at'],
  key: 'device_id',
  update: ['status', 'changed_at'],
  where: 'excluded.changed_at >= device_presence.changed_at',
});

/**
 * Of a batch's changes per device, the one that applying them in order would leave: the newest, and of equally
 * new ones the last (an update needs `changed_at >=` the stored one). PostgreSQL cannot update one row twice in
 * one statement, so the batch must carry each device once.
 */
function newestPerDevice(items: readonly Presence[]): Presence[] {
  const out = new Map<string, Presence>();
  for (const p of items) {
    const seen = out.get(p.deviceId);
    if (seen === undefined || p.changedAt >= seen.changedAt) out.set(p.deviceId, p);
  }
  return [...out.values()];
}

/** Devices' MQTT presence on the state database (SQLite or PostgreSQL); the newest change wins. */
export class SqlPresenceRepository implements PresenceRepository {
  constructor(private readonly db: Database) {}

  async setPresence(items: readonly Presence[]): Promise<void> {
    await upsertPresenceRows(
      this.db,
      newestPerDevice(items).map((p) => [p.deviceId, p.status, p.changedAt]),
    );
  }

  async listPresence(): Promise<Presence[]> {
    return (await this.db.all('SELECT * FROM device_presence ORDER BY device_id')).map(toPresence);
  }

  async getPresence(deviceIds: readonly string[]): Promise<Presence[]> {
    if (deviceIds.length === 0) return [];
    const rows = await this.db.all(
      `SELECT * FROM device_presence WHERE device_id IN (${textListSql(this.db.dialect)}) ORDER BY device_id`,
      [JSON.stringify(deviceIds)],
    );
    return rows.map(toPresence);
  }
}
