import { Type, type Static } from '@sinclair/typebox';
import { statusTopic, telemetryTopic } from '../../core/contracts/index.js';
import { issueToken, makeCredentials } from '../../core/credentials.js';
import { errorMessage, RiskfuseError } from '../../core/errors.js';
import type { Device as DeviceRecord } from '../../core/storage/state-store.js';
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
  Id,
  Limit,
  NewDevice,
  Page,
} from '../schemas.js';

type DeviceView = Static<typeof DeviceView>;

const Revoked = Type.Object({
  device: Device,
  disconnected: Type.Boolean({ description: 'whether an open MQTT connection was closed now' }),
  note: Type.String(),
});

/** Devices: provision (the MQTT token is in that response only), rotate, revoke (disconnects), list with presence. */
export function deviceRoutes(app: ApiApp, ctx: RouteContext): void {
  const { state, telemetry } = ctx;
  const mustDevice = (id: string): DeviceRecord => {
    const d = state.getDevice(id);
    if (d === undefined) throw new RiskfuseError('NOT_FOUND', `no device ${id}`);
    return d;
  };
  const bad = (field: string, message: string): RiskfuseError =>
    new RiskfuseError('VALIDATION_FAILED', message, {
      details: { errors: [{ path: `body/${field}`, message }] },
    });

  /** Presence from the registry, last reading from the telemetry store; the store being down leaves them out. */
  async function views(devices: readonly DeviceRecord[]): Promise<DeviceView[]> {
    const ids = devices.map((d) => d.id);
    const presence = new Map(state.getPresence(ids).map((p) => [p.deviceId, p]));
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
      const rows = state.queryDevices({
        ...filter,
        limit: limit + 1,
        ...(afterId === undefined ? {} : { afterId }),
      });
      const page = paged(rows, limit, (d) => d.id);
      return { ...page, items: await views(page.items) };
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
      const [view] = await views([mustDevice(request.params.id)]);
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
    (request, reply) => {
      const body = request.body;
      const token = issueToken();
      const device: DeviceRecord = {
        id: body.id,
        kind: body.kind,
        borrowerId: body.borrowerId,
        siteId: body.siteId,
        ...(body.lotId === undefined ? {} : { lotId: body.lotId }),
        status: 'active',
        createdAt: ctx.now(),
      };
      state.transaction(() => {
        if (state.getDevice(device.id)) throw new RiskfuseError('CONFLICT', `device ${device.id} exists`);
        if (!state.getBorrower(device.borrowerId))
          throw bad('borrowerId', `no borrower ${device.borrowerId}`);
        const site = state.getSite(device.siteId);
        if (site === undefined) throw bad('siteId', `no site ${device.siteId}`);
        if (site.borrowerId !== device.borrowerId)
          throw bad('siteId', `site ${site.id} belongs to another borrower`);
        if (device.lotId !== undefined) {
          if (device.kind !== 'stake') throw bad('lotId', 'only stakes sit on a collateral lot');
          const lot = state.getLot(device.lotId);
          if (lot === undefined) throw bad('lotId', `no lot ${device.lotId}`);
          if (lot.siteId !== device.siteId) throw bad('lotId', `lot ${lot.id} is stored at another site`);
        }
        state.upsertDevices([{ device, credentials: makeCredentials(device.id, token) }]);
        ctx.audit(request, { action: 'provision', resource: 'device', resourceId: device.id, after: device });
      });
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
    (request) => {
      const token = issueToken();
      const device = state.transaction(() => {
        const d = mustDevice(request.params.id);
        if (d.status !== 'active')
          throw new RiskfuseError('CONFLICT', `device ${d.id} is revoked; provision a new one`);
        state.upsertDevices([{ device: d, credentials: makeCredentials(d.id, token) }]);
        ctx.audit(request, {
          action: 'rotate',
          resource: 'device',
          resourceId: d.id,
          before: d,
          after: { ...d, tokenRotated: true },
        });
        return d;
      });
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
      const device = state.transaction(() => {
        const before = mustDevice(request.params.id);
        if (before.status === 'revoked')
          throw new RiskfuseError('CONFLICT', `device ${before.id} is already revoked`);
        state.revokeDevice(before.id, ctx.now());
        const after: DeviceRecord = { ...before, status: 'revoked' };
        ctx.audit(request, { action: 'revoke', resource: 'device', resourceId: before.id, before, after });
        return after;
      });
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
