import { Type, type Static } from '@sinclair/typebox';
import { DEVICE_KINDS, statusTopic, telemetryTopic, type Reading } from '../../core/contracts/index.js';
import { issueToken, makeCredentials } from '../../core/credentials.js';
import { errorMessage, RiskfuseError } from '../../core/errors.js';
import type { Device as DeviceRecord } from '../../core/state/index.js';
import type { ApiApp, RouteContext } from '../app.js';
import { decodeCursor, isString, paged } from '../pagination.js';
import { ERROR_RESPONSES } from '../problem.js';
import {
  Cursor,
  Device,
  DeviceIdParams,
  DeviceKind,
  DeviceToken,
  DeviceView,
  EpochMs,
  Id,
  Limit,
  NewDevice,
  Page,
} from '../schemas.js';

type DeviceView = Static<typeof DeviceView>;

const PresenceState = Type.Union([Type.Literal('online'), Type.Literal('offline'), Type.Literal('unknown')], {
  description: 'last MQTT presence; `unknown`: never seen on the broker',
});

/** Counts that need each device's latest reading: null when the telemetry store did not answer. */
const HealthCount = (description: string) =>
  Type.Union([Type.Integer({ minimum: 0 }), Type.Null()], {
    description: `${description}; null when the telemetry store is unavailable`,
  });
const HEALTH = {
  lowBattery: HealthCount('active devices whose latest reading has batteryPct below lowBatteryPct'),
  stale: HealthCount('active devices whose latest reading is older than at − staleMs'),
  neverReported: HealthCount('active devices with no reading at all'),
};

const PresenceCounts = {
  online: Type.Integer({ minimum: 0, description: 'active devices last seen online' }),
  offline: Type.Integer({ minimum: 0, description: 'active devices last seen offline (will message)' }),
  unknown: Type.Integer({ minimum: 0, description: 'active devices never seen on the broker' }),
};

const FleetSummary = Type.Object({
  at: EpochMs('when counted (the reference for staleMs)'),
  devices: Type.Integer({ minimum: 0, description: 'matching devices, active and revoked' }),
  active: Type.Integer({ minimum: 0 }),
  revoked: Type.Integer({ minimum: 0, description: 'revoked devices (in no other count)' }),
  presence: Type.Object(PresenceCounts, { description: 'presence of the active devices' }),
  byKind: Type.Record(
    Type.String(),
    Type.Object({
      devices: Type.Integer({ minimum: 0, description: 'active and revoked' }),
      active: Type.Integer({ minimum: 0 }),
      ...PresenceCounts,
      ...HEALTH,
    }),
    { description: 'per device kind: every kind, or only the one asked for; zeros included' },
  ),
  ...HEALTH,
  lowBatteryPct: Type.Number({ description: 'the battery threshold applied, %' }),
  staleMs: Type.Integer({ description: 'the staleness threshold applied, ms' }),
});
type FleetSummary = Static<typeof FleetSummary>;
type KindCounts = FleetSummary['byKind'][string];

interface Health {
  lowBattery: number;
  stale: number;
  neverReported: number;
}
const noneOf = (): Health => ({ lowBattery: 0, stale: 0, neverReported: 0 });
const NO_HEALTH = { lowBattery: null, stale: null, neverReported: null } as const;

/**
 * Low battery, stale and never reported, in total and per kind, from the latest reading of each device (those
 * without one in `latest` never reported). A battery counts only when the reading has a numeric batteryPct.
 */
function healthOf(
  devices: readonly { id: string; kind: string }[],
  latest: readonly Reading[],
  lowBatteryPct: number,
  staleBeforeMs: number,
): { total: Health; byKind: Map<string, Health> } {
  const byId = new Map(latest.map((r) => [r.deviceId, r]));
  const total = noneOf();
  const byKind = new Map<string, Health>();
  for (const { id, kind } of devices) {
    const k = byKind.get(kind) ?? noneOf();
    byKind.set(kind, k);
    const tally = (what: keyof Health): void => {
      total[what] += 1;
      k[what] += 1;
    };
    const last = byId.get(id);
    if (last === undefined) {
      tally('neverReported');
      continue;
    }
    const battery = last.fields.batteryPct;
    if (typeof battery === 'number' && battery < lowBatteryPct) tally('lowBattery');
    if (last.ts < staleBeforeMs) tally('stale');
  }
  return { total, byKind };
}

/** Ids the API cannot serve as a device because a route sits at that path (`GET /v1/devices/summary`). */
const RESERVED_DEVICE_IDS: ReadonlySet<string> = new Set(['summary']);

const Revoked = Type.Object({
  device: Device,
  disconnected: Type.Boolean({ description: 'whether an open MQTT connection was closed now' }),
  note: Type.String(),
});

/**
 * Devices: provision (the MQTT token is in that response only), rotate, revoke (disconnects), list with presence
 * (filterable by it), and the fleet-wide health summary.
 */
export function deviceRoutes(app: ApiApp, ctx: RouteContext): void {
  const { state, telemetry } = ctx;
  const mustDevice = async (id: string): Promise<DeviceRecord> => {
    const d = await state.devices.getDevice(id);
    if (d === undefined) throw new RiskfuseError('NOT_FOUND', `no device ${id}`);
    return d;
  };
  /**
   * Provision, rotate and revoke check then write (the id is free; the device is active): serializable, so that
   * on PostgreSQL two at once behave as if one ran after the other (one 201 and one 409, not two devices' worth
   * of audit entries), as SQLite's one-at-a-time write transactions do.
   */
  const SERIALIZABLE = { isolation: 'serializable' } as const;
  const bad = (field: string, message: string): RiskfuseError =>
    new RiskfuseError('VALIDATION_FAILED', message, {
      details: { errors: [{ path: `body/${field}`, message }] },
    });

  /** Presence from the registry, last reading from the telemetry store; the store being down leaves them out. */
  async function views(devices: readonly DeviceRecord[]): Promise<DeviceView[]> {
    const ids = devices.map((d) => d.id);
    const presence = new Map((await state.presence.getPresence(ids)).map((p) => [p.deviceId, p]));
    let latest = new Map<string, { ts: number; seq: number; fields: Record<string, number | string> }>();
    if (ids.length > 0) {
      try {
        latest = new Map(
          (await telemetry.latest({ deviceIds: ids })).map((r) => [
            r.deviceId,
            { ts: r.ts, seq: r.seq, fields: { ...r.fields } },
          ]),
        );
      } catch (err) {
        ctx.log.warn(
          { err: errorMessage(err) },
          'telemetry store unavailable; devices listed without last readings',
        );
      }
    }
    return devices.map((d) => {
      const p = presence.get(d.id);
      const last = latest.get(d.id);
      const battery = last?.fields.batteryPct;
      return {
        ...d,
        presence: p?.status ?? 'unknown',
        ...(p === undefined ? {} : { presenceChangedAt: p.changedAt }),
        ...(last === undefined ? {} : { lastSeenAt: last.ts, lastReading: last }),
        ...(typeof battery === 'number' ? { batteryPct: battery } : {}),
      };
    });
  }

  app.get(
    '/devices',
    {
      schema: {
        summary: 'List devices with presence, last seen, battery and last reading',
        tags: ['devices'],
        querystring: Type.Object(
          {
            borrowerId: Type.Optional(Id('borrower id')),
            siteId: Type.Optional(Id('site id')),
            kind: Type.Optional(DeviceKind),
            status: Type.Optional(Type.Union([Type.Literal('active'), Type.Literal('revoked')])),
            presence: Type.Optional(PresenceState),
            limit: Limit,
            cursor: Type.Optional(Cursor),
          },
          { additionalProperties: false },
        ),
        response: { 200: Page(DeviceView), ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const { limit, cursor, ...filter } = request.query;
      const afterId = cursor === undefined ? undefined : decodeCursor(cursor, isString);
      const rows = await state.devices.queryDevices({
        ...filter,
        limit: limit + 1,
        ...(afterId === undefined ? {} : { afterId }),
      });
      const page = paged(rows, limit, (d) => d.id);
      return { ...page, items: await views(page.items) };
    },
  );

  app.get(
    '/devices/summary',
    {
      schema: {
        summary: 'Fleet health: devices by status, presence and kind; low battery, stale and never reported',
        description:
          'Counts over every matching device (not one page). Presence and status are counted by the state ' +
          'store; lowBattery, stale and neverReported come from each active device’s latest reading and are ' +
          'null when the telemetry store is unavailable.',
        tags: ['devices'],
        querystring: Type.Object(
          {
            borrowerId: Type.Optional(Id('borrower id')),
            kind: Type.Optional(DeviceKind),
            lowBatteryPct: Type.Number({
              minimum: 0,
              maximum: 100,
              default: 20,
              description: 'a latest batteryPct below this is low, %',
            }),
            staleMs: Type.Integer({
              minimum: 60_000,
              default: 86_400_000,
              description: 'a latest reading older than this is stale, ms',
            }),
          },
          { additionalProperties: false },
        ),
        response: { 200: FleetSummary, ...ERROR_RESPONSES },
      },
    },
    async (request): Promise<FleetSummary> => {
      const { lowBatteryPct, staleMs, ...filter } = request.query;
      const at = ctx.now();
      // One snapshot (repeatable read), so the counts and the ids asked about below describe the same registry
      // even on PostgreSQL, where each statement of a read-committed transaction sees the latest commits.
      const { counts, activeIds } = await state.transaction(
        async () => ({
          counts: await state.devices.deviceFleetCounts(filter),
          activeIds: await state.devices.deviceIds({ ...filter, status: 'active' }),
        }),
        { isolation: 'repeatable-read' },
      );

      const kinds: Record<string, Omit<KindCounts, keyof Health>> = {};
      const zero = () => ({ devices: 0, active: 0, online: 0, offline: 0, unknown: 0 });
      for (const kind of filter.kind === undefined ? DEVICE_KINDS : [filter.kind]) kinds[kind] = zero();
      const total = { ...zero(), revoked: 0 };
      for (const row of counts) {
        const k = (kinds[row.kind] ??= zero());
        k.devices += row.devices;
        total.devices += row.devices;
        if (row.status === 'revoked') {
          total.revoked += row.devices;
          continue;
        }
        k.active += row.devices;
        k[row.presence] += row.devices;
        total.active += row.devices;
        total[row.presence] += row.devices;
      }

      let health: ReturnType<typeof healthOf> | undefined;
      try {
        const latest =
          activeIds.length === 0
            ? []
            : await telemetry.latest({
                deviceIds: activeIds.map((d) => d.id),
                ...(filter.kind === undefined ? {} : { kind: filter.kind }),
              });
        health = healthOf(activeIds, latest, lowBatteryPct, at - staleMs);
      } catch (err) {
        ctx.log.warn(
          { err: errorMessage(err) },
          'telemetry store unavailable; fleet summary without low battery, stale and never reported',
        );
      }
      const byKind: Record<string, KindCounts> = {};
      for (const [kind, k] of Object.entries(kinds))
        byKind[kind] = {
          ...k,
          ...(health === undefined ? NO_HEALTH : (health.byKind.get(kind) ?? noneOf())),
        };

      return {
        at,
        devices: total.devices,
        active: total.active,
        revoked: total.revoked,
        presence: { online: total.online, offline: total.offline, unknown: total.unknown },
        byKind,
        ...(health === undefined ? NO_HEALTH : health.total),
        lowBatteryPct,
        staleMs,
      };
    },
  );

  app.get(
    '/devices/:id',
    {
      schema: {
        summary: 'A device with presence, last seen, battery and last reading',
        tags: ['devices'],
        params: DeviceIdParams,
        response: { 200: DeviceView, ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const [view] = await views([await mustDevice(request.params.id)]);
      if (view === undefined) throw new RiskfuseError('INTERNAL', 'device view missing');
      return view;
    },
  );

  app.post(
    '/devices',
    {
      schema: {
        summary: 'Provision a device; its MQTT token is in this response only',
        tags: ['devices'],
        body: NewDevice,
        response: { 201: DeviceToken, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const body = request.body;
      const token = issueToken();
      const device: DeviceRecord = {
        id: body.id,
        kind: body.kind,
        borrowerId: body.borrowerId,
        siteId: body.siteId,
        ...(body.lotId === undefined ? {} : { lotId: body.lotId }),
        ...(body.kind === 'helmet' ? { role: body.role ?? 'worker' } : {}),
        status: 'active',
        createdAt: ctx.now(),
      };
      if (RESERVED_DEVICE_IDS.has(device.id))
        throw bad('id', `${device.id} is reserved: GET /v1/devices/${device.id} is another route`);
      await state.transaction(async () => {
        if (await state.devices.getDevice(device.id))
          throw new RiskfuseError('CONFLICT', `device ${device.id} exists`);
        if (!(await state.portfolio.getBorrower(device.borrowerId)))
          throw bad('borrowerId', `no borrower ${device.borrowerId}`);
        const site = await state.portfolio.getSite(device.siteId);
        if (site === undefined) throw bad('siteId', `no site ${device.siteId}`);
        if (site.borrowerId !== device.borrowerId)
          throw bad('siteId', `site ${site.id} belongs to another borrower`);
        if (body.role !== undefined && body.kind !== 'helmet')
          throw bad('role', 'only helmets have a wearer role');
        if (device.lotId !== undefined) {
          if (device.kind !== 'stake') throw bad('lotId', 'only stakes sit on a collateral lot');
          const lot = await state.portfolio.getLot(device.lotId);
          if (lot === undefined) throw bad('lotId', `no lot ${device.lotId}`);
          if (lot.siteId !== device.siteId) throw bad('lotId', `lot ${lot.id} is stored at another site`);
        }
        await state.devices.upsertDevices([{ device, credentials: makeCredentials(device.id, token) }]);
        await ctx.audit(request, {
          action: 'provision',
          resource: 'device',
          resourceId: device.id,
          after: device,
        });
      }, SERIALIZABLE);
      void reply.code(201);
      return {
        device,
        token,
        mqtt: {
          username: device.id,
          clientId: device.id,
          telemetryTopic: telemetryTopic(device.id),
          statusTopic: statusTopic(device.id),
        },
      };
    },
  );

  app.post(
    '/devices/:id/rotate',
    {
      schema: {
        summary: 'Issue a new MQTT token; the old one stops working at the next CONNECT',
        tags: ['devices'],
        params: DeviceIdParams,
        response: { 200: DeviceToken, ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const token = issueToken();
      const device = await state.transaction(async () => {
        const d = await mustDevice(request.params.id);
        if (d.status !== 'active')
          throw new RiskfuseError('CONFLICT', `device ${d.id} is revoked; provision a new one`);
        await state.devices.upsertDevices([{ device: d, credentials: makeCredentials(d.id, token) }]);
        await ctx.audit(request, {
          action: 'rotate',
          resource: 'device',
          resourceId: d.id,
          before: d,
          after: { ...d, tokenRotated: true },
        });
        return d;
      }, SERIALIZABLE);
      return {
        device,
        token,
        mqtt: {
          username: device.id,
          clientId: device.id,
          telemetryTopic: telemetryTopic(device.id),
          statusTopic: statusTopic(device.id),
        },
      };
    },
  );

  app.post(
    '/devices/:id/revoke',
    {
      schema: {
        summary: 'Revoke a device: its token stops working and its MQTT connection is closed',
        tags: ['devices'],
        params: DeviceIdParams,
        response: { 200: Revoked, ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const device = await state.transaction(async () => {
        const before = await mustDevice(request.params.id);
        if (before.status === 'revoked')
          throw new RiskfuseError('CONFLICT', `device ${before.id} is already revoked`);
        await state.devices.revokeDevice(before.id, ctx.now());
        const after: DeviceRecord = { ...before, status: 'revoked' };
        await ctx.audit(request, {
          action: 'revoke',
          resource: 'device',
          resourceId: before.id,
          before,
          after,
        });
        return after;
      }, SERIALIZABLE);
      let disconnected = false;
      try {
        disconnected = await ctx.sessions.disconnect(device.id);
      } catch (err) {
        ctx.log.warn(
          { deviceId: device.id, err: errorMessage(err) },
          'could not disconnect a revoked device',
        );
      }
      const note = ctx.sessions.disconnectsImmediately
        ? disconnected
          ? 'revoked; its MQTT connection was closed'
          : 'revoked; it was not connected'
        : 'revoked; the broker refuses it at its next CONNECT (the API runs apart from the broker)';
      return { device, disconnected, note };
    },
  );
}
