import type { DeviceKind } from '../../contracts/index.js';
import { RiskfuseError } from '../../errors.js';
import type { Database, Row } from '../database.js';
import type { ListQuery } from '../portfolio/portfolio-repository.js';
import type { PresenceState } from '../presence/presence-repository.js';
import { upsertRows } from '../sql-upsert.js';
import type {
  Device,
  DeviceCredentials,
  DeviceFilter,
  DeviceFleetCount,
  DeviceRepository,
  DeviceStatus,
  HelmetRole,
} from './device-repository.js';

/** A device's presence in queries over `devices d LEFT JOIN device_presence p`: no row (or no known status) is `unknown`. */
const PRESENCE_SQL = `CASE p.status WHEN 'online' THEN 'online' WHEN 'offline' THEN 'offline' ELSE 'unknown' END`;

/** String() of a column value narrowed to non-null (the lint rule would take `{}` for an object). */
const text = (v: unknown): string => String(v);
const toDevice = (r: Row): Device => ({
  id: String(r.id),
  kind: String(r.kind) as DeviceKind,
  borrowerId: String(r.borrower_id),
  siteId: String(r.site_id),
  ...(r.lot_id == null ? {} : { lotId: text(r.lot_id) }),
  ...(r.role == null ? {} : { role: text(r.role) as HelmetRole }),
  status: String(r.status) as Device['status'],
  createdAt: Number(r.created_at),
});

// Re-registering a device gives it new credentials and makes it active again.
const upsertDeviceRows = upsertRows({
  table: 'devices',
  columns: [
    'id',
    'kind',
    'borrower_id',
    'site_id',
    'lot_id',
    'role',
    'status',
    'created_at',
    'salt',
    'token_hash',
  ],
  key: 'id',
  update: ['kind', 'borrower_id', 'site_id', 'lot_id', 'role', 'status', 'salt', 'token_hash'],
  alsoSet: 'revoked_at = NULL',
});

/** The device registry on the state database (SQLite or PostgreSQL); credentials only as salted hashes. */
export class SqlDeviceRepository implements DeviceRepository {
  constructor(private readonly db: Database) {}

  async upsertDevices(items: readonly { device: Device; credentials: DeviceCredentials }[]): Promise<void> {
    for (const { device, credentials } of items) {
      if (device.id !== credentials.deviceId) {
        throw new RiskfuseError(
          'VALIDATION_FAILED',
          `credentials for ${credentials.deviceId} given to ${device.id}`,
        );
      }
    }
    const rows = items.map(({ device, credentials }) => [
      device.id,
      device.kind,
      device.borrowerId,
      device.siteId,
      device.lotId ?? null,
      device.role ?? (device.kind === 'helmet' ? 'worker' : null),
      device.status,
      device.createdAt,
      credentials.salt,
      credentials.tokenHash,
    ]);
    await this.db.transaction(() => upsertDeviceRows(this.db, rows));
  }

  async getDevice(id: string): Promise<Device | undefined> {
    const r = await this.db.get('SELECT * FROM devices WHERE id = ?', [id]);
    return r && toDevice(r);
  }

  async getCredentials(deviceId: string): Promise<DeviceCredentials | undefined> {
    const r = await this.db.get(
      `SELECT id, salt, token_hash FROM devices WHERE id = ? AND status = 'active'`,
      [deviceId],
    );
    return r && { deviceId: String(r.id), salt: String(r.salt), tokenHash: String(r.token_hash) };
  }

  async listDevices(filter: { borrowerId?: string; kind?: DeviceKind } = {}): Promise<Device[]> {
    const rows = await this.db.all(
      `SELECT * FROM devices WHERE (CAST(@borrowerId AS TEXT) IS NULL OR borrower_id = @borrowerId)
         AND (CAST(@kind AS TEXT) IS NULL OR kind = @kind) ORDER BY id`,
      { borrowerId: filter.borrowerId ?? null, kind: filter.kind ?? null },
    );
    return rows.map(toDevice);
  }

  async revokeDevice(id: string, atMs: number): Promise<boolean> {
    const changed = await this.db.run(
      `UPDATE devices SET status = 'revoked', revoked_at = ? WHERE id = ? AND status = 'active'`,
      [atMs, id],
    );
    return changed > 0;
  }

  async queryDevices(
    query: ListQuery & {
      borrowerId?: string;
      siteId?: string;
      kind?: DeviceKind;
      status?: DeviceStatus;
      presence?: PresenceState;
    },
  ): Promise<Device[]> {
    // Presence is a LEFT JOIN: a device without a presence row is `unknown`.
    const rows = await this.db.all(
      `SELECT d.* FROM devices d LEFT JOIN device_presence p ON p.device_id = d.id
       WHERE (CAST(@borrowerId AS TEXT) IS NULL OR d.borrower_id = @borrowerId)
         AND (CAST(@siteId AS TEXT) IS NULL OR d.site_id = @siteId)
         AND (CAST(@kind AS TEXT) IS NULL OR d.kind = @kind)
         AND (CAST(@status AS TEXT) IS NULL OR d.status = @status)
         AND (CAST(@presence AS TEXT) IS NULL OR ${PRESENCE_SQL} = @presence)
         AND (CAST(@afterId AS TEXT) IS NULL OR d.id > @afterId)
       ORDER BY d.id LIMIT @limit`,
      {
        borrowerId: query.borrowerId ?? null,
        siteId: query.siteId ?? null,
        kind: query.kind ?? null,
        status: query.status ?? null,
        presence: query.presence ?? null,
        afterId: query.afterId ?? null,
        limit: query.limit,
      },
    );
    return rows.map(toDevice);
  }

  async deviceFleetCounts(filter: DeviceFilter = {}): Promise<DeviceFleetCount[]> {
    // Grouped by the output column `presence` (not an input column of either table), which both engines allow.
    const rows = await this.db.all(
      `SELECT d.kind, d.status, ${PRESENCE_SQL} AS presence, count(*) AS c
       FROM devices d LEFT JOIN device_presence p ON p.device_id = d.id
       WHERE (CAST(@borrowerId AS TEXT) IS NULL OR d.borrower_id = @borrowerId)
         AND (CAST(@kind AS TEXT) IS NULL OR d.kind = @kind)
       GROUP BY d.kind, d.status, presence ORDER BY d.kind, d.status, presence`,
      { borrowerId: filter.borrowerId ?? null, kind: filter.kind ?? null },
    );
    return rows.map((r) => ({
      kind: String(r.kind) as DeviceKind,
      status: String(r.status) as DeviceStatus,
      presence: String(r.presence) as PresenceState,
      devices: Number(r.c),
    }));
  }

  async deviceIds(
    filter: DeviceFilter & { status?: DeviceStatus } = {},
  ): Promise<{ id: string; kind: DeviceKind }[]> {
    const rows = await this.db.all(
      `SELECT id, kind FROM devices WHERE (CAST(@borrowerId AS TEXT) IS NULL OR borrower_id = @borrowerId)
         AND (CAST(@kind AS TEXT) IS NULL OR kind = @kind) AND (CAST(@status AS TEXT) IS NULL OR status = @status)
       ORDER BY id`,
      { borrowerId: filter.borrowerId ?? null, kind: filter.kind ?? null, status: filter.status ?? null },
    );
    return rows.map((r) => ({ id: String(r.id), kind: String(r.kind) as DeviceKind }));
  }
}
