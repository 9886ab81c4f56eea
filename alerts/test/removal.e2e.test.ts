import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { State } from '../../core/state/index.js';
import { openTestState } from '../../core/state/test/backends.js';
import { openSqliteTelemetryStore } from '../../core/storage/sqlite-telemetry-store.js';
import type { TelemetryStore } from '../../core/storage/telemetry-store.js';
import { createEngine, generateWorld, parseScenario, provisionWorld } from '../../simulators/index.js';
import type { AlertsComponent } from '../app.js';
import { alertsOverIngest } from './support.js';

const DAY = 86_400_000;

/**
 * End to end, in one process: the simulated world with a silent collateral removal → the device payloads
 * through the real ingest pipeline (validation, the telemetry store) → its `onStored` feeds the rule engine →
 * the alert is opened and `alert.opened` is in the outbox. The same world's other lots, sold down and restocked
 * as usual, raise no weight-drop alert.
 */
describe('silent collateral removal, end to end', () => {
  let dir: string;
  let state: State;
  let telemetry: TelemetryStore;
  let alerts: AlertsComponent;
  const startMs = Math.floor((Date.now() - 14 * DAY) / DAY) * DAY;
  const world = generateWorld({
    seed: 7,
    borrowers: 8,
    startMs,
    scenarios: [parseScenario('removal:b0002:6')],
  });
  const removed = new Set(world.lots.filter((l) => l.borrowerId === 'b0002').map((l) => l.id));

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rf-alerts-e2e-'));
    state = await openTestState(dir);
    telemetry = openSqliteTelemetryStore(join(dir, 'telemetry.db'));
    await provisionWorld(world, state);
    // The engine queues each batch; `idle()` below waits for them all to be evaluated and stored.
    const wired = await alertsOverIngest(state, telemetry);
    alerts = wired.alerts;
    const pipeline = wired.pipeline;
    const engine = createEngine(world);
    let acked = 0;
    let sent = 0;
    for (let d = 0; d < 12; d++) {
      for (const g of engine.readings(startMs + d * DAY, startMs + (d + 1) * DAY)) {
        const id = world.devices[g.deviceIndex]?.id ?? '';
        pipeline.accept(`rf/v1/${id}/telemetry`, Buffer.from(JSON.stringify(g.payload)), () => acked++);
        sent++;
      }
    }
    await pipeline.stop(30_000);
    await alerts.engine.idle();
    expect(acked).toBe(sent);
    expect(alerts.engine.counters.errors).toBe(0);
  }, 120_000);

  afterAll(async () => {
    await alerts.close();
    await telemetry.close();
    await state.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('when most of a lot is trucked out at night, then a weight-drop alert opens on that lot with the readings as evidence, and alert.opened is in the outbox', async () => {
    const drops = await alerts.service.list({ limit: 100, ruleId: 'weight-drop' });
    const lots = new Set(drops.map((a) => a.subjectId));
    expect([...removed].filter((l) => lots.has(l)).length).toBeGreaterThan(0);
    const a = drops.find((x) => removed.has(x.subjectId));
    expect(a).toMatchObject({
      status: 'open',
      borrowerId: 'b0002',
      subjectKind: 'lot',
      severity: 'critical',
    });
    expect(Number(a?.evidence.medianKg)).toBeLessThan(0.65 * Number(a?.evidence.baselineKg));
    expect(a?.openedAt).toBeGreaterThanOrEqual(startMs + 6 * DAY);
    const opened = await alerts.service.outbox.after(0, { types: ['alert.opened'] });
    expect(opened.some((e) => (e.data.alert as { id: string }).id === a?.id)).toBe(true);
  });

  it('when the other lots are sold down and restocked as usual, then none of them raises a weight-drop alert', async () => {
    const others = (await alerts.service.list({ limit: 100, ruleId: 'weight-drop' })).filter(
      (a) => !removed.has(a.subjectId),
    );
    expect(others.map((a) => `${a.subjectId}: ${a.title}`)).toEqual([]);
  });
});
