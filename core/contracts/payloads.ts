import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';

/**
 * Device payload contracts, one per device kind. A message on `rf/v1/{deviceId}/telemetry` is one reading
 * or `{"batch":[…]}`. Every reading has a device timestamp `ts` (epoch ms) and a per-device sequence
 * number `seq`, so duplicates and gaps are visible. Field names carry units. The kind, borrower and site
 * of a reading come from the device registry, never from the payload.
 */
export const DEVICE_KINDS = ['stake', 'helmet', 'satellite'] as const;
export type DeviceKind = (typeof DEVICE_KINDS)[number];

/** Readings older than this are still accepted (device offline queues); newer than now + skew are not. */
export const MAX_BATCH_READINGS = 1000;

const Ts = Type.Integer({
  minimum: 946_684_800_000,
  maximum: 4_102_444_800_000,
  description: 'device time, epoch ms',
});
const Seq = Type.Integer({
  minimum: 0,
  maximum: Number.MAX_SAFE_INTEGER,
  description: 'per-device sequence number',
});
const Lat = Type.Number({ minimum: -90, maximum: 90, description: 'WGS84 latitude, degrees' });
const Lon = Type.Number({ minimum: -180, maximum: 180, description: 'WGS84 longitude, degrees' });
const GpsAccuracyM = Type.Number({ minimum: 0, maximum: 100_000, description: 'GPS horizontal accuracy, m' });
const BatteryPct = Type.Number({ minimum: 0, maximum: 100, description: 'battery charge, %' });

/** Collateral stake: a sensor pack on a pledged lot in a warehouse. */
export const StakeReading = Type.Object(
  {
    ts: Ts,
    seq: Seq,
    weightKg: Type.Number({
      minimum: 0,
      maximum: 100_000_000,
      description: 'load-cell weight of the lot, kg',
    }),
    itemCount: Type.Integer({
      minimum: 0,
      maximum: 10_000_000,
      description: 'counted items (bags, coils, pallets)',
    }),
    lat: Lat,
    lon: Lon,
    gpsAccuracyM: Type.Optional(GpsAccuracyM),
    tamper: Type.Boolean({ description: 'enclosure/seal tamper switch open' }),
    temperatureC: Type.Number({ minimum: -60, maximum: 100, description: 'ambient temperature, °C' }),
    humidityPct: Type.Number({ minimum: 0, maximum: 100, description: 'relative humidity, %' }),
    batteryPct: BatteryPct,
  },
  { additionalProperties: false },
);

/** Smart helmet: worn by field inspectors and by workers on the borrower's site. */
export const HelmetReading = Type.Object(
  {
    ts: Ts,
    seq: Seq,
    lat: Lat,
    lon: Lon,
    gpsAccuracyM: Type.Optional(GpsAccuracyM),
    worn: Type.Boolean({ description: 'helmet on a head (capacitive sensor)' }),
    activity: Type.Number({ minimum: 0, maximum: 1, description: 'motion intensity over the interval, 0–1' }),
    mode: Type.Union([Type.Literal('work'), Type.Literal('inspection')], {
      description: 'work shift or inspection',
    }),
    inspectionId: Type.Optional(
      Type.String({ minLength: 1, maxLength: 64, description: 'set in inspection mode' }),
    ),
    batteryPct: BatteryPct,
  },
  { additionalProperties: false },
);

/** Satellite feed: one observation of a parcel or site (NDVI for farms, activity index for factories). */
export const SatelliteReading = Type.Object(
  {
    ts: Ts,
    seq: Seq,
    ndvi: Type.Optional(
      Type.Number({ minimum: -1, maximum: 1, description: 'normalised difference vegetation index' }),
    ),
    activityIndex: Type.Optional(
      Type.Number({
        minimum: 0,
        maximum: 1000,
        description: 'night-light / activity index, site-normalised (100 = baseline)',
      }),
    ),
    stockpileM3: Type.Optional(
      Type.Number({ minimum: 0, maximum: 10_000_000, description: 'stockpile volume, m³' }),
    ),
    cloudPct: Type.Number({ minimum: 0, maximum: 100, description: 'cloud cover over the footprint, %' }),
    sceneId: Type.String({ minLength: 1, maxLength: 128, description: 'provider scene id' }),
  },
  { additionalProperties: false },
);

export type StakeReading = Static<typeof StakeReading>;
export type HelmetReading = Static<typeof HelmetReading>;
export type SatelliteReading = Static<typeof SatelliteReading>;
export type DevicePayload = StakeReading | HelmetReading | SatelliteReading;
export interface PayloadByKind {
  stake: StakeReading;
  helmet: HelmetReading;
  satellite: SatelliteReading;
}

export const PAYLOAD_SCHEMAS: { readonly [K in DeviceKind]: TSchema } = {
  stake: StakeReading,
  helmet: HelmetReading,
  satellite: SatelliteReading,
};

const checks: { [K in DeviceKind]: TypeCheck<TSchema> } = {
  stake: TypeCompiler.Compile(StakeReading),
  helmet: TypeCompiler.Compile(HelmetReading),
  satellite: TypeCompiler.Compile(SatelliteReading),
};

export type PayloadProblem = { path: string; message: string };

/** Validates one reading of `kind`; returns the problems (empty when valid). */
export function checkReading(kind: DeviceKind, value: unknown): PayloadProblem[] {
  const check = checks[kind];
  if (check.Check(value)) {
    if (kind === 'satellite') {
      const v = value as SatelliteReading;
      if (v.ndvi === undefined && v.activityIndex === undefined && v.stockpileM3 === undefined) {
        return [{ path: '/', message: 'a satellite reading needs ndvi, activityIndex or stockpileM3' }];
      }
    }
    if (kind === 'helmet') {
      const v = value as HelmetReading;
      if (v.mode === 'inspection' && v.inspectionId === undefined) {
        return [{ path: '/inspectionId', message: 'inspection mode needs an inspectionId' }];
      }
    }
    return [];
  }
  return [...check.Errors(value)].slice(0, 5).map((e) => ({ path: e.path || '/', message: e.message }));
}
