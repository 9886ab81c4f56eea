/**
 * `npm run eval:alerts` — the alert rules measured against the simulated world's ground truth.
 *
 * A seeded world of EVAL_BORROWERS (500) borrowers over EVAL_DAYS (60) days, with every scenario kind the
 * simulator knows injected at random times and targets (simulators/ground-truth.ts `randomScenarios`). Every
 * device's readings are generated (the same generator the live devices and the backfill use) and handed to the
 * real AlertEngine in arrival order, in 15-minute batches as the ingest would hand over what it stored, on a
 * simulated clock (so silence is judged in simulated time); alerts are stored in a real SQLite state store.
 * MQTT and the telemetry store are left out: they do not change what the rules see, and 14 M readings through
 * them would take an hour. The alerts are then scored against the world's true events (alerts/quality.ts states
 * the definitions). Writes reports/alerts-eval.json and .md; the last line of output is one JSON object.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AlertEngine, AlertService } from '../alerts/index.js';
import { per100BorrowersWeek, scoreAlerts, type QualityReport, type ScoredAlert } from '../alerts/quality.js';
import type { Reading } from '../core/contracts/index.js';
import { silentLogger } from '../core/logger.js';
import { openSqliteState } from '../core/state/index.js';
import { createEngine, generateWorld, provisionWorld, type GeneratedReading } from '../simulators/index.js';
import { groundTruth, randomScenarios } from '../simulators/ground-truth.js';

const envInt = (name: string, fallback: number): number => {
  const v = Number(process.env[name] ?? fallback);
  if (!Number.isSafeInteger(v) || v <= 0) {
    process.stderr.write(`${name} must be a positive integer, got ${process.env[name]}\n`);
    process.exit(1);
  }
  return v;
};
const BORROWERS = envInt('EVAL_BORROWERS', 500);
const DAYS = envInt('EVAL_DAYS', 60);
const SEED = envInt('EVAL_SEED', 7);
const PER_KIND = envInt('EVAL_SCENARIOS_PER_KIND', 16);
const DAY = 86_400_000;
const STEP_MS = 15 * 60_000;
/** May to June: the growing season, when a drought shows in NDVI. */
const START_MS = Date.UTC(2026, 3, 20);
const END_MS = START_MS + DAYS * DAY;
const t0 = performance.now();
const log = (s: string) => process.stderr.write(`${s}\n`);

const plain = generateWorld({ seed: SEED, borrowers: BORROWERS, startMs: START_MS });
const scenarios = randomScenarios(plain, { seed: SEED, perKind: PER_KIND, days: DAYS });
const world = generateWorld({ seed: SEED, borrowers: BORROWERS, startMs: START_MS, scenarios });
const sim = createEngine(world);
const events = groundTruth(world, sim.effects, END_MS);
log(
  `world: ${BORROWERS} borrowers, ${world.devices.length} devices, ${DAYS} days, ${scenarios.length} scenarios (${events.length - scenarios.length} natural outages besides)`,
);

const dir = mkdtempSync(join(tmpdir(), 'rf-eval-alerts-'));
const state = openSqliteState(join(dir, 'state.db'));
let simNow = START_MS;
try {
  await provisionWorld(world, state);
  const service = new AlertService(state, { now: () => simNow });
  await service.load();
  const engine = new AlertEngine({
    service,
    state,
    log: silentLogger,
    silenceCheckIntervalMs: 0,
    now: () => simNow,
    // The registry does not change during the run; re-reading it every simulated minute would only cost time.
    registryCacheMs: (DAYS + 1) * DAY,
  });
  await engine.load();
  const streams = world.profiles.devices.map((p) => sim.stream(p.index, START_MS));
  const buf: GeneratedReading[] = [];
  let readings = 0;
  for (let t = START_MS; t < END_MS; t += STEP_MS) {
    buf.length = 0;
    for (const s of streams) s.drain(t + STEP_MS, buf);
    // Arrival order: each reading is published when it is taken.
    buf.sort((a, b) => a.trueMs - b.trueMs);
    const batch: Reading[] = buf.map((g) => sim.toReading(g));
    simNow = t + STEP_MS;
    if (batch.length > 0) await engine.onReadings(batch);
    await engine.checkSilence(simNow);
    readings += batch.length;
    if ((t + STEP_MS - START_MS) % DAY === 0) {
      const day = (t + STEP_MS - START_MS) / DAY;
      if (day % 5 === 0 || day === DAYS) {
        log(
          `day ${day}/${DAYS}: ${readings.toLocaleString('en')} readings, ${service.counters.opened} alerts, ${((performance.now() - t0) / 1000).toFixed(0)} s`,
        );
      }
    }
  }
  await engine.stop();
  const stored = await state.alerts.queryAlerts({ limit: 10_000_000 });
  const alerts: ScoredAlert[] = stored.map((a) => ({
    ruleId: a.ruleId,
    severity: a.severity,
    subjectId: a.subjectId,
    openedAt: a.openedAt,
    ...(a.borrowerId === undefined ? {} : { borrowerId: a.borrowerId }),
    ...(a.deviceId === undefined ? {} : { deviceId: a.deviceId }),
    ...(a.lotId === undefined ? {} : { lotId: a.lotId }),
  }));
  const report = scoreAlerts(alerts, events, { borrowers: BORROWERS, fromMs: START_MS, toMs: END_MS });
  const alertsPer100BorrowersWeek =
    per100BorrowersWeek(report.alerts, { borrowers: BORROWERS, fromMs: START_MS, toMs: END_MS }) ?? 0;
  const seconds = (performance.now() - t0) / 1000;
  mkdirSync('reports', { recursive: true });
  const full = {
    eval: 'alerts',
    seed: SEED,
    days: DAYS,
    readings,
    readingsLate: engine.counters.readingsLate,
    scenarios: scenarios.map((s) => `${s.kind}:${s.target}:${s.startDay}`),
    alertsPer100BorrowersWeek,
    ...report,
    runtimeS: seconds,
  };
  writeFileSync('reports/alerts-eval.json', `${JSON.stringify(full, null, 2)}\n`);
  writeFileSync('reports/alerts-eval.md', markdown(report, alertsPer100BorrowersWeek, readings, seconds));
  process.stdout.write(markdown(report, alertsPer100BorrowersWeek, readings, seconds));
  const fraudKinds = ['removal', 'moved', 'spoof', 'tamper'];
  process.stdout.write(
    `${JSON.stringify({
      eval: 'alerts',
      borrowers: BORROWERS,
      days: DAYS,
      readings,
      alerts: report.alerts,
      alertsPer100BorrowersWeek: round(alertsPer100BorrowersWeek),
      noisePer100BorrowersWeek: round(report.noisePer100BorrowersWeek),
      precision: round(report.precision),
      criticalPrecision: round(report.criticalPrecision),
      fraudRecallWithin6h: round(report.fraudRecallWithin6h),
      recallByKind: Object.fromEntries(Object.entries(report.byKind).map(([k, v]) => [k, round(v.recall)])),
      ttdP50HByFraudKind: Object.fromEntries(
        fraudKinds.map((k) => [k, round(report.byKind[k]?.ttdP50H ?? null)]),
      ),
      runtimeS: Math.round(seconds),
    })}\n`,
  );
} finally {
  await state.close();
  rmSync(dir, { recursive: true, force: true });
}

function round(x: number | null): number | null {
  return x === null ? null : Math.round(x * 1000) / 1000;
}

function markdown(r: QualityReport, per100: number, readings: number, seconds: number): string {
  const f = (x: number | null, d = 2) => (x === null ? '–' : x.toFixed(d));
  const lines = [
    `# Alert quality against ground truth`,
    ``,
    `World: seed ${SEED}, ${r.borrowers} borrowers, ${DAYS} days (${r.weeks.toFixed(1)} weeks), ${readings.toLocaleString('en')} readings; ${seconds.toFixed(0)} s.`,
    `An alert overlaps a true event when it is on the event's subject (lot, device) or borrower and opened between the event's start and its end + ${r.graceH} h; an event is detected by an overlapping alert on its subject (borrower-wide events: on its borrower). Time to detect counts from the event's first visible effect.`,
    ``,
    `| figure | value | aim |`,
    `| --- | --- | --- |`,
    `| alerts | ${r.alerts} | |`,
    `| alerts per 100 borrowers per week | ${f(per100)} | |`,
    `| noise: alerts outside true events per 100 borrowers per week | ${f(r.noisePer100BorrowersWeek)} | ≤ 5 |`,
    `| precision (all alerts) | ${f(r.precision)} | |`,
    `| precision (critical alerts) | ${f(r.criticalPrecision)} | ≥ 0.9 |`,
    `| recall of fraud scenarios within 6 h | ${f(r.fraudRecallWithin6h)} | ≥ 0.95 |`,
    ``,
    `## Per rule`,
    ``,
    `| rule | alerts | overlap a true event | precision | noise per 100 borrowers per week |`,
    `| --- | --- | --- | --- | --- |`,
    ...Object.entries(r.byRule)
      .sort((a, b) => b[1].alerts - a[1].alerts)
      .map(
        ([k, v]) =>
          `| ${k} | ${v.alerts} | ${v.truePositives} | ${f(v.precision)} | ${f(v.noisePer100BorrowersWeek)} |`,
      ),
    ``,
    `## Per kind of true event`,
    ``,
    `| kind | events | detected | recall | within 6 h | time to detect p50 / p90, h | detected by |`,
    `| --- | --- | --- | --- | --- | --- | --- |`,
    ...Object.entries(r.byKind).map(
      ([k, v]) =>
        `| ${k} | ${v.events} | ${v.detected} | ${f(v.recall)} | ${f(v.recallWithin6h)} | ${f(v.ttdP50H, 1)} / ${f(v.ttdP90H, 1)} | ${Object.entries(
          v.byRule,
        )
          .map(([rule, n]) => `${rule} ${n}`)
          .join(', ')} |`,
    ),
    ``,
  ];
  return `${lines.join('\n')}\n`;
}
