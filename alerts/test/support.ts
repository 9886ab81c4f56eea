import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Reading } from '../../core/contracts/index.js';
import { silentLogger } from '../../core/logger.js';
import type { State } from '../../core/state/index.js';
import { openTestState } from '../../core/state/test/backends.js';
import type { TelemetryStore } from '../../core/storage/telemetry-store.js';
import { IngestPipeline } from '../../ingest/pipeline.js';
import { createAlerts, type AlertsComponent } from '../app.js';

export const T0 = Date.UTC(2026, 0, 5);
export const MIN = 60_000;
/** Site s1's square geofence around (10, 20), about 220 m a side. */
export const FENCE: [number, number][] = [
  [9.999, 19.999],
  [9.999, 20.001],
  [10.001, 20.001],
  [10.001, 19.999],
];

export interface World {
  readonly state: State;
  readonly alerts: AlertsComponent;
  readonly dir: string;
  close(): Promise<void>;
}

/** A real state with borrower b1: site s1 (geofenced), lot l1 (10 t pledged), stake, helmets, satellite. */
export async function world(env: { rulesFile?: string; now?: () => number } = {}): Promise<World> {
  const dir = mkdtempSync(join(tmpdir(), 'rf-alerts-'));
  const state = await openTestState(dir);
  let alerts: AlertsComponent;
  try {
    alerts = await seededAlerts(state, env);
  } catch (err) {
    await closeWorld(state, dir);
    throw err;
  }
  return { state, alerts, dir, close: () => closeWorld(state, dir, alerts) };
}

async function closeWorld(state: State, dir: string, alerts?: AlertsComponent): Promise<void> {
  await alerts?.close();
  await state.close();
  rmSync(dir, { recursive: true, force: true });
}

async function seededAlerts(
  state: State,
  env: { rulesFile?: string; now?: () => number },
): Promise<AlertsComponent> {
  await state.portfolio.upsertBorrowers([
    { id: 'b1', name: 'Grain Co', sector: 'trading', region: 'north', createdAt: T0 },
  ]);
  await state.portfolio.upsertSites([
    { id: 's1', borrowerId: 'b1', name: 'Depot', kind: 'warehouse', lat: 10, lon: 20, geofence: FENCE },
  ]);
  await state.portfolio.upsertLots([
    {
      id: 'l1',
      borrowerId: 'b1',
      siteId: 's1',
      commodity: 'wheat',
      pledgedWeightKg: 10_000,
      unitPricePerKg: 0.3,
      currency: 'EUR',
      pledgedAt: T0,
    },
  ]);
  const cred = (id: string) => ({ deviceId: id, salt: 'x', tokenHash: 'y' });
  await state.devices.upsertDevices(
    (
      [
        ['stk-l1', 'stake', 'l1'],
        ['hlm-b1-insp', 'helmet', undefined],
        ['hlm-b1-w1', 'helmet', undefined],
        ['sat-b1', 'satellite', undefined],
      ] as const
    ).map(([id, kind, lotId]) => ({
      device: {
        id,
        kind,
        borrowerId: 'b1',
        siteId: 's1',
        ...(lotId === undefined ? {} : { lotId }),
        ...(kind === 'helmet'
          ? { role: id.endsWith('-insp') ? ('inspector' as const) : ('worker' as const) }
          : {}),
        status: 'active' as const,
        createdAt: T0,
      },
      credentials: cred(id),
    })),
  );
  return createAlerts({
    state,
    log: silentLogger,
    ...(env.now === undefined ? {} : { now: env.now }),
    config: {
      alertSilenceCheckIntervalMs: 0,
      alertStreamHeartbeatMs: 15_000,
      alertStreamPollMs: 50,
      ...(env.rulesFile === undefined ? {} : { alertRulesFile: env.rulesFile }),
    },
  });
}

let seq = 0;
export function stake(ts: number, fields: Partial<Record<string, number>> = {}): Reading {
  return {
    kind: 'stake',
    deviceId: 'stk-l1',
    borrowerId: 'b1',
    siteId: 's1',
    ts,
    seq: seq++,
    fields: {
      weightKg: 9_000,
      itemCount: 300,
      // A real fix scatters (a repeated one is what gps-frozen looks for).
      lat: 10 + ((seq % 7) - 3) * 1e-6,
      lon: 20 + ((seq % 5) - 2) * 1e-6,
      tamper: 0,
      temperatureC: 15,
      humidityPct: 50,
      batteryPct: 90,
      ...fields,
    },
  };
}

export function helmet(deviceId: string, ts: number, fields: Record<string, number | string>): Reading {
  return {
    kind: 'helmet',
    deviceId,
    borrowerId: 'b1',
    siteId: 's1',
    ts,
    seq: seq++,
    fields: { lat: 10, lon: 20, worn: 1, activity: 0.5, mode: 'work', batteryPct: 80, ...fields },
  };
}

export function satellite(ts: number, fields: Record<string, number | string>): Reading {
  return {
    kind: 'satellite',
    deviceId: 'sat-b1',
    borrowerId: 'b1',
    siteId: 's1',
    ts,
    seq: seq++,
    fields: { cloudPct: 5, sceneId: `scene-${seq}`, ...fields },
  };
}

/**
 * The alert engine fed by the real ingest pipeline (validation, the telemetry store) as `npm start` wires them:
 * each stored batch and presence change goes to the engine, which queues it (`alerts.engine.idle()` waits for
 * them all). Used by alerts/test/removal.e2e.test.ts and the per-rule tests (alerts/rules/test/pipeline.ts).
 */
export async function alertsOverIngest(
  state: State,
  telemetry: TelemetryStore,
): Promise<{ alerts: AlertsComponent; pipeline: IngestPipeline }> {
  const alerts = await createAlerts({
    state,
    log: silentLogger,
    config: { alertSilenceCheckIntervalMs: 0, alertStreamHeartbeatMs: 15_000, alertStreamPollMs: 50 },
  });
  const pipeline = new IngestPipeline({
    telemetry,
    state,
    log: silentLogger,
    batchMaxReadings: 500,
    flushIntervalMs: 5,
    maxBufferedReadings: 1_000_000,
    writeConcurrency: 1,
    maxFutureSkewMs: 300_000,
    maxPayloadBytes: 65_536,
    registryCacheMs: 60_000,
    retryMinMs: 5,
    retryMaxMs: 50,
    onStored: (readings) => void alerts.engine.onReadings(readings),
    onPresence: (presence) => void alerts.engine.onPresence(presence),
  });
  return { alerts, pipeline };
}
