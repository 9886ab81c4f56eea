import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Alert, State } from '../../../core/state/index.js';
import { openTestState } from '../../../core/state/test/backends.js';
import { openSqliteTelemetryStore } from '../../../core/storage/sqlite-telemetry-store.js';
import {
  createEngine,
  generateWorld,
  parseScenario,
  provisionWorld,
  type World,
} from '../../../simulators/index.js';
import { alertsOverIngest } from '../../test/support.js';

export const DAY = 86_400_000;

/**
 * A small simulated world's device payloads through the real ingest pipeline (validation, SQLite telemetry
 * store) into the real rule engine, as `npm start` wires them; returns the world and every alert it raised.
 */
export async function runWorld(opts: {
  borrowers: number;
  days: number;
  scenarios?: readonly string[];
  seed?: number;
  /** The world's first day (default: `days` + 2 days ago), e.g. a growing season for NDVI. */
  startMs?: number;
  /** Only these devices' payloads are sent (default all): a rule over satellite scenes needs no stakes. */
  kinds?: readonly string[];
}): Promise<{ world: World; alerts: Alert[]; startMs: number }> {
  const startMs = opts.startMs ?? Math.floor((Date.now() - (opts.days + 2) * DAY) / DAY) * DAY;
  const world = generateWorld({
    seed: opts.seed ?? 7,
    borrowers: opts.borrowers,
    startMs,
    scenarios: (opts.scenarios ?? []).map(parseScenario),
  });
  const dir = mkdtempSync(join(tmpdir(), 'rf-rule-e2e-'));
  const state: State = await openTestState(dir);
  const telemetry = openSqliteTelemetryStore(join(dir, 'telemetry.db'));
  try {
    await provisionWorld(world, state);
    const { alerts, pipeline } = await alertsOverIngest(state, telemetry);
    const engine = createEngine(world);
    for (let d = 0; d < opts.days; d++) {
      const day = engine.readings(startMs + d * DAY, startMs + (d + 1) * DAY);
      day.sort((a, b) => a.trueMs - b.trueMs);
      for (const g of day) {
        const device = world.devices[g.deviceIndex];
        if (opts.kinds !== undefined && !opts.kinds.includes(device?.kind ?? '')) continue;
        const id = device?.id ?? '';
        pipeline.accept(`rf/v1/${id}/telemetry`, Buffer.from(JSON.stringify(g.payload)), () => undefined);
      }
      // A day's readings are stored before the next day's arrive, as devices reporting in real time are: sent all
      // at once, every device's whole run would wait on its first registry read and reach the rules device by
      // device, in the order the reads happened to finish, and the rules that compare devices would see a
      // different world in every run.
      while (pipeline.pendingMessages > 0) await new Promise((resolve) => setTimeout(resolve, 2));
    }
    await pipeline.stop(60_000);
    await alerts.engine.idle();
    if (alerts.engine.counters.errors > 0) throw new Error('the rule engine reported errors');
    const list = await alerts.service.list({ limit: 10_000 });
    await alerts.close();
    return { world, alerts: list, startMs };
  } finally {
    await telemetry.close();
    await state.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
