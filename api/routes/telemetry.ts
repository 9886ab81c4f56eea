import { Type, type TSchema } from '@sinclair/typebox';
import { DEVICE_KINDS, PAYLOAD_SCHEMAS, type DeviceKind } from '../../core/contracts/index.js';
import { RiskfuseError } from '../../core/errors.js';
import type { Reading as StoredReading } from '../../core/contracts/index.js';
import { AGGREGATE_FNS, MAX_RANGE_LIMIT, type AggregateFn } from '../../core/storage/telemetry-store.js';
import { workerHours } from '../../core/worker-hours.js';
import type { ApiApp, RouteContext } from '../app.js';
import { ERROR_RESPONSES } from '../problem.js';
import {
  DeviceIdParams,
  DeviceKind as DeviceKindSchema,
  EpochMs,
  FieldValues,
  Id,
  IdParams,
} from '../schemas.js';

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;

/** The numeric fields of each device kind (booleans are stored as 0/1), from the payload contracts. */
export const NUMERIC_FIELDS: Readonly<Record<DeviceKind, readonly string[]>> = Object.fromEntries(
  DEVICE_KINDS.map((kind) => {
    const props = (PAYLOAD_SCHEMAS[kind] as TSchema & { properties: Record<string, { type?: string }> })
      .properties;
    return [
      kind,
      Object.entries(props)
        .filter(
          ([name, s]) =>
            name !== 'ts' && name !== 'seq' && ['number', 'integer', 'boolean'].includes(s.type ?? ''),
        )
        .map(([name]) => name),
    ];
  }),
) as unknown as Record<DeviceKind, readonly string[]>;

const Reading = Type.Object({
  deviceId: Type.String(),
  kind: DeviceKindSchema,
  borrowerId: Type.String(),
  siteId: Type.String(),
  ts: EpochMs('device time'),
  seq: Type.Integer(),
  fields: FieldValues,
});

const Point = Type.Object({
  startMs: EpochMs('bucket start'),
  count: Type.Integer(),
  mean: Type.Optional(Type.Number()),
  min: Type.Optional(Type.Number()),
  max: Type.Optional(Type.Number()),
  first: Type.Optional(Type.Number()),
  last: Type.Optional(Type.Number()),
});

const Aggregate = Type.Object({
  kind: DeviceKindSchema,
  fromMs: Type.Integer(),
  toMs: Type.Integer(),
  windowMs: Type.Integer(),
  groupBy: Type.Union([Type.Literal('device'), Type.Literal('borrower')]),
  series: Type.Array(Type.Object({ field: Type.String(), group: Type.String(), points: Type.Array(Point) })),
});

const bad = (param: string, message: string): RiskfuseError =>
  new RiskfuseError('VALIDATION_FAILED', message, {
    details: { errors: [{ path: `querystring/${param}`, message }] },
  });

/**
 * Telemetry queries through the `TelemetryStore` port, so they answer the same on SQLite and InfluxDB:
 * raw readings of a device, windowed aggregates of a device or a borrower. Ranges are half-open [from, to),
 * epoch ms; a range over API_TELEMETRY_MAX_RANGE_DAYS or an answer over API_TELEMETRY_MAX_POINTS is a 400
 * that says which limit and how to stay within it.
 */
export function telemetryRoutes(app: ApiApp, ctx: RouteContext): void {
  const { config, state, telemetry } = ctx;
  const maxRangeMs = config.apiTelemetryMaxRangeDays * DAY_MS;

  const range = (
    from: number | undefined,
    to: number | undefined,
    defaultSpanMs: number,
  ): { fromMs: number; toMs: number } => {
    const toMs = to ?? ctx.now();
    const fromMs = from ?? toMs - defaultSpanMs;
    if (fromMs >= toMs) throw bad('from', `from (${fromMs}) must be before to (${toMs})`);
    if (toMs - fromMs > maxRangeMs) {
      throw bad(
        'from',
        `the range is over the limit of ${config.apiTelemetryMaxRangeDays} days; query a shorter one`,
      );
    }
    return { fromMs, toMs };
  };

  app.get(
    '/devices/:id/readings',
    {
      schema: {
        summary: 'Raw readings of a device in [from, to)',
        tags: ['telemetry'],
        params: DeviceIdParams,
        querystring: Type.Object(
          {
            from: Type.Optional(EpochMs('range start (inclusive); default to − 24 h')),
            to: Type.Optional(EpochMs('range end (exclusive); default now')),
            limit: Type.Optional(
              Type.Integer({
                minimum: 1,
                maximum: MAX_RANGE_LIMIT,
                description: 'most readings returned; default 1000 (or API_TELEMETRY_MAX_POINTS when lower)',
              }),
            ),
            order: Type.Union([Type.Literal('asc'), Type.Literal('desc')], { default: 'asc' }),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({
            items: Type.Array(Reading),
            truncated: Type.Boolean({
              description: 'more readings lie in the range: narrow it or page by time',
            }),
          }),
          ...ERROR_RESPONSES,
        },
      },
    },
    async (request) => {
      const device = await state.devices.getDevice(request.params.id);
      if (device === undefined) throw new RiskfuseError('NOT_FOUND', `no device ${request.params.id}`);
      const { order } = request.query;
      const limit = request.query.limit ?? Math.min(1000, config.apiTelemetryMaxPoints);
      if (limit > config.apiTelemetryMaxPoints) {
        throw bad('limit', `limit is over API_TELEMETRY_MAX_POINTS (${config.apiTelemetryMaxPoints})`);
      }
      const { fromMs, toMs } = range(request.query.from, request.query.to, DAY_MS);
      // One reading more than asked tells whether the range holds more, except at the store's own cap.
      const fetchLimit = Math.min(limit + 1, MAX_RANGE_LIMIT);
      const rows = await telemetry.range({ deviceIds: [device.id], fromMs, toMs, limit: fetchLimit, order });
      return {
        items: rows.slice(0, limit).map((r) => ({ ...r, fields: { ...r.fields } })),
        truncated: rows.length > limit || (fetchLimit === limit && rows.length === limit),
      };
    },
  );

  app.get(
    '/telemetry/aggregate',
    {
      schema: {
        summary: 'Windowed aggregates of numeric fields, per device or borrower',
        description:
          'Exactly one of deviceId or borrowerId. For a borrower, `kind` says which devices (stake, helmet, satellite). Buckets are aligned to the epoch; only buckets with data are returned.',
        tags: ['telemetry'],
        querystring: Type.Object(
          {
            deviceId: Type.Optional(DeviceIdParams.properties.id),
            borrowerId: Type.Optional(Id('borrower id')),
            kind: Type.Optional(DeviceKindSchema),
            fields: Type.String({
              pattern: '^[A-Za-z][A-Za-z0-9_]{0,63}(,[A-Za-z][A-Za-z0-9_]{0,63}){0,9}$',
              description:
                'comma-separated numeric fields of the kind, e.g. `weightKg,batteryPct` (at most 10)',
            }),
            fns: Type.String({
              pattern: `^(${AGGREGATE_FNS.join('|')})(,(${AGGREGATE_FNS.join('|')})){0,5}$`,
              default: 'mean',
              description: `comma-separated: ${AGGREGATE_FNS.join(', ')}`,
            }),
            from: Type.Optional(EpochMs('range start (inclusive); default to − 7 days')),
            to: Type.Optional(EpochMs('range end (exclusive); default now')),
            windowMs: Type.Integer({
              minimum: 60_000,
              maximum: 31 * DAY_MS,
              default: HOUR_MS,
              description: 'bucket width, ms',
            }),
            groupBy: Type.Union([Type.Literal('device'), Type.Literal('borrower')], {
              default: 'borrower',
              description: 'for a borrower: one series for all its devices, or one per device',
            }),
          },
          { additionalProperties: false },
        ),
        response: { 200: Aggregate, ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const q = request.query;
      if ((q.deviceId === undefined) === (q.borrowerId === undefined)) {
        throw bad('deviceId', 'give exactly one of deviceId or borrowerId');
      }
      let kind: DeviceKind;
      let devicesInScope = 1;
      let filter: { deviceIds: string[] } | { borrowerIds: string[] };
      let groupBy: 'device' | 'borrower';
      if (q.deviceId !== undefined) {
        const device = await state.devices.getDevice(q.deviceId);
        if (device === undefined) throw new RiskfuseError('NOT_FOUND', `no device ${q.deviceId}`);
        if (q.kind !== undefined && q.kind !== device.kind)
          throw bad('kind', `device ${device.id} is a ${device.kind}`);
        kind = device.kind;
        filter = { deviceIds: [device.id] };
        groupBy = 'device';
      } else {
        const borrowerId = q.borrowerId ?? '';
        if ((await state.portfolio.getBorrower(borrowerId)) === undefined)
          throw new RiskfuseError('NOT_FOUND', `no borrower ${borrowerId}`);
        if (q.kind === undefined)
          throw bad('kind', 'kind is required with borrowerId (stake, helmet or satellite)');
        kind = q.kind;
        filter = { borrowerIds: [borrowerId] };
        groupBy = q.groupBy;
        if (groupBy === 'device') {
          devicesInScope = Math.max(1, (await state.devices.listDevices({ borrowerId, kind })).length);
        }
      }
      const fields = [...new Set(q.fields.split(','))];
      const unknown = fields.filter((f) => !NUMERIC_FIELDS[kind].includes(f));
      if (unknown.length > 0) {
        throw bad(
          'fields',
          `not numeric fields of a ${kind}: ${unknown.join(', ')} (known: ${NUMERIC_FIELDS[kind].join(', ')})`,
        );
      }
      const fns = [...new Set(q.fns.split(','))] as AggregateFn[];
      const { fromMs, toMs } = range(q.from, q.to, 7 * DAY_MS);
      const buckets = Math.ceil((toMs - fromMs) / q.windowMs) + 1;
      const points = buckets * fields.length * devicesInScope;
      if (points > config.apiTelemetryMaxPoints) {
        throw bad(
          'windowMs',
          `up to ${points} points (${buckets} windows × ${fields.length} fields × ${devicesInScope} series) is over API_TELEMETRY_MAX_POINTS (${config.apiTelemetryMaxPoints}); widen windowMs or shorten the range`,
        );
      }
      const series = await Promise.all(
        fields.map(async (field) => {
          const rows = await telemetry.aggregate({
            ...filter,
            kind,
            field,
            fromMs,
            toMs,
            intervalMs: q.windowMs,
            groupBy,
            fns,
          });
          const byGroup = new Map<string, { startMs: number; count: number; [fn: string]: number }[]>();
          for (const r of rows) {
            const point: { startMs: number; count: number; [fn: string]: number } = {
              startMs: r.startMs,
              count: r.count,
            };
            for (const fn of fns) if (fn !== 'count') point[fn] = r[fn];
            const list = byGroup.get(r.group) ?? [];
            list.push(point);
            byGroup.set(r.group, list);
          }
          return [...byGroup].map(([group, pts]) => ({ field, group, points: pts }));
        }),
      );
      return { kind, fromMs, toMs, windowMs: q.windowMs, groupBy, series: series.flat() };
    },
  );

  /** Every reading of a device in [fromMs, toMs), paged by time past the store's per-query cap. */
  const readAll = async (deviceId: string, fromMs: number, toMs: number): Promise<StoredReading[]> => {
    const out: StoredReading[] = [];
    const seen = new Set<string>();
    let from = fromMs;
    for (;;) {
      const rows = await telemetry.range({
        deviceIds: [deviceId],
        fromMs: from,
        toMs,
        limit: MAX_RANGE_LIMIT,
      });
      for (const r of rows) {
        const key = `${r.ts}:${r.seq}`;
        if (!seen.has(key)) {
          seen.add(key);
          out.push(r);
        }
      }
      const last = rows.at(-1);
      if (rows.length < MAX_RANGE_LIMIT || last === undefined || last.ts === from) return out;
      from = last.ts;
    }
  };

  app.get(
    '/sites/:id/worker-hours',
    {
      schema: {
        summary: 'On-site worker-hours of a site per window, from its helmets',
        description:
          'A work-mode helmet reading that is worn and inside the site geofence counts the time until the same helmet’s next reading (at most maxGapMs; the last one of a run, the helmet’s usual interval). Inspections are not work. Every window of the range is returned.',
        tags: ['telemetry'],
        params: IdParams,
        querystring: Type.Object(
          {
            from: Type.Optional(EpochMs('range start (inclusive); default to − 7 days')),
            to: Type.Optional(EpochMs('range end (exclusive); default now')),
            windowMs: Type.Integer({
              minimum: 15 * 60_000,
              maximum: 31 * DAY_MS,
              default: HOUR_MS,
              description: 'window width, ms; windows start at `from`',
            }),
            maxGapMs: Type.Integer({
              minimum: 60_000,
              maximum: 4 * HOUR_MS,
              default: 15 * 60_000,
              description: 'longest time one reading stands for (a helmet silent longer is not counted)',
            }),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({
            siteId: Type.String(),
            borrowerId: Type.String(),
            fromMs: Type.Integer(),
            toMs: Type.Integer(),
            windowMs: Type.Integer(),
            helmets: Type.Integer({ description: 'helmets registered at the site' }),
            totalHours: Type.Number(),
            points: Type.Array(
              Type.Object({
                startMs: EpochMs('window start'),
                hours: Type.Number({ description: 'hours worn on site by work-mode helmets' }),
                helmets: Type.Integer({ description: 'helmets that contributed' }),
              }),
            ),
          }),
          ...ERROR_RESPONSES,
        },
      },
    },
    async (request) => {
      const site = await state.portfolio.getSite(request.params.id);
      if (site === undefined) throw new RiskfuseError('NOT_FOUND', `no site ${request.params.id}`);
      const q = request.query;
      const { fromMs, toMs } = range(q.from, q.to, 7 * DAY_MS);
      const windows = Math.ceil((toMs - fromMs) / q.windowMs);
      if (windows > config.apiTelemetryMaxPoints) {
        throw bad(
          'windowMs',
          `${windows} windows is over API_TELEMETRY_MAX_POINTS (${config.apiTelemetryMaxPoints}); widen windowMs or shorten the range`,
        );
      }
      const helmets = (
        await state.devices.listDevices({ borrowerId: site.borrowerId, kind: 'helmet' })
      ).filter((d) => d.siteId === site.id);
      // From one gap before the range, so a reading just before `from` counts its share inside it.
      const readings = (
        await Promise.all(helmets.map((d) => readAll(d.id, fromMs - q.maxGapMs, toMs)))
      ).flat();
      const points = workerHours(readings, {
        fromMs,
        toMs,
        windowMs: q.windowMs,
        geofence: site.geofence,
        maxGapMs: q.maxGapMs,
      });
      return {
        siteId: site.id,
        borrowerId: site.borrowerId,
        fromMs,
        toMs,
        windowMs: q.windowMs,
        helmets: helmets.length,
        totalHours: points.reduce((a, p) => a + p.hours, 0),
        points,
      };
    },
  );
}
