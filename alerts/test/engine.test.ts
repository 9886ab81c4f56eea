import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Alert } from '../../core/state/index.js';
import { alertMetrics } from '../app.js';
import { buildRuleSet, parseRulesDocument, type RuleSettings } from '../rules.js';
import { helmet, MIN, satellite, stake, T0, world, type World } from './support.js';

const HOUR = 60 * MIN;
/** The events the engine itself writes (the case service adds case.* besides: alerts/test/cases.test.ts). */
const ENGINE_EVENTS = [
  'alert.opened',
  'alert.acknowledged',
  'alert.resolved',
  'device.offline',
  'device.online',
] as const;
const DAY = 24 * HOUR;

describe('alert rules on crafted readings', () => {
  let w: World;
  beforeEach(async () => {
    w = await world();
  });
  afterEach(() => w.close());

  const alerts = (ruleId?: string): Promise<Alert[]> =>
    w.alerts.service.list({ limit: 100, ...(ruleId === undefined ? {} : { ruleId }) });
  const events = async () =>
    (await w.alerts.service.outbox.after(0, { types: ENGINE_EVENTS })).map((e) => e.type);
  const feed = async (...rs: Parameters<typeof w.alerts.engine.onReadings>[0][]) => {
    for (const r of rs) await w.alerts.engine.onReadings(r);
  };

  it('when most of a lot disappears overnight and stays gone, then weight-drop opens with the baseline as evidence, and a restock resolves it', async () => {
    let t = T0;
    for (let i = 0; i < 20; i++) await feed([stake((t += 15 * MIN), { weightKg: 9_000 })]);
    expect(await alerts('weight-drop')).toEqual([]);
    for (let i = 0; i < 6; i++) await feed([stake((t += 15 * MIN), { weightKg: 2_000 })]);
    const [a] = await alerts('weight-drop');
    expect(a).toMatchObject({
      status: 'open',
      subjectKind: 'lot',
      subjectId: 'l1',
      borrowerId: 'b1',
      severity: 'critical',
    });
    expect(a?.evidence).toMatchObject({ baselineKg: 9_000, medianKg: 2_000, pledgedWeightKg: 10_000 });
    expect(await events()).toEqual(['alert.opened']);
    for (let i = 0; i < 6; i++) await feed([stake((t += 15 * MIN), { weightKg: 8_900 })]);
    expect((await alerts('weight-drop'))[0]).toMatchObject({ status: 'resolved', resolvedBy: 'system' });
    expect(await events()).toEqual(['alert.opened', 'alert.resolved']);
  });

  it('when a device’s older readings arrive after newer ones (a concurrent batch, an offline queue), then they do not step the rules back and a removal stays open', async () => {
    let t = T0;
    const before: ReturnType<typeof stake>[] = [];
    for (let i = 0; i < 20; i++) before.push(stake((t += 15 * MIN), { weightKg: 9_000 }));
    // The first 12 arrive in time; the last 8 are held back and arrive after the removal.
    await feed(before.slice(0, 12));
    for (let i = 0; i < 6; i++) await feed([stake((t += 15 * MIN), { weightKg: 2_000 })]);
    expect((await alerts('weight-drop'))[0]?.status).toBe('open');
    await feed(before.slice(12));
    expect((await alerts('weight-drop'))[0]?.status).toBe('open');
    expect(w.alerts.engine.counters).toMatchObject({ readingsLate: 8, readingsEvaluated: 26 });
    // Readings newer than the last evaluated one still count: a restock resolves it.
    for (let i = 0; i < 6; i++) await feed([stake((t += 15 * MIN), { weightKg: 8_900 })]);
    expect((await alerts('weight-drop'))[0]?.status).toBe('resolved');
  });

  it('when a lot is sold down through the working day and restocked by truck, then no weight-drop alert opens', async () => {
    let t = T0;
    let kg = 9_000;
    for (let day = 0; day < 10; day++) {
      for (let q = 0; q < 96; q++) {
        t += 15 * MIN;
        const h = (q / 4) | 0;
        if (h >= 8 && h < 17) kg -= (9_000 * 0.05) / 36; // 5 % a day in working hours
        if (day % 3 === 2 && h === 12 && q % 4 === 0) kg = 9_500; // a truck restocks
        await feed([stake(t, { weightKg: kg + (q % 2 === 0 ? 40 : -40) })]);
      }
    }
    // A one-reading glitch of the load cell is not a drop either (rolling median).
    await feed([stake((t += 15 * MIN), { weightKg: 0 })]);
    expect(await alerts('weight-drop')).toEqual([]);
  });

  it('when GPS jitters across the fence edge, then geofence does not flap; N outside readings open it and M inside clear it', async () => {
    let t = T0;
    // Jitter: alternating just-outside / inside fixes (never three outside in a row).
    for (let i = 0; i < 30; i++) await feed([stake((t += MIN), { lat: i % 3 === 0 ? 10.0012 : 10.0009 })]);
    expect(await alerts('geofence')).toEqual([]);
    for (let i = 0; i < 2; i++) await feed([stake((t += MIN), { lat: 10.05 })]);
    expect(await alerts('geofence')).toEqual([]);
    await feed([stake((t += MIN), { lat: 10.05 })]);
    expect(await alerts('geofence')).toMatchObject([{ status: 'open', subjectId: 'l1' }]);
    expect((await alerts('geofence'))[0]?.evidence.distanceFromSiteM).toBeGreaterThan(5_000);
    // Inaccurate fixes are ignored; two inside do not clear, three do.
    await feed(
      [stake((t += MIN), { lat: 10, gpsAccuracyM: 5_000 })],
      [stake((t += MIN))],
      [stake((t += MIN))],
    );
    expect((await alerts('geofence'))[0]?.status).toBe('open');
    await feed([stake((t += MIN))]);
    expect((await alerts('geofence'))[0]?.status).toBe('resolved');
  });

  it('when a condition flaps (a seal that opens every few hours), then one alert stands for it until the flapping hold has passed', async () => {
    let t = T0;
    const episode = async () => {
      await feed([stake((t += 15 * MIN), { tamper: 1 })], [stake((t += 15 * MIN), { tamper: 1 })]);
      for (let i = 0; i < 4; i++) await feed([stake((t += 15 * MIN))]);
    };
    await episode();
    expect(await alerts('tamper')).toMatchObject([{ status: 'resolved' }]);
    t += 2 * HOUR;
    await episode();
    expect(await alerts('tamper')).toHaveLength(1);
    expect(w.alerts.engine.counters.flapsHeld).toBe(1);
    // The held-back opening is not dropped: it is a suppressed alert, cause flapping, with its evidence.
    expect(await w.state.suppressions.listSuppressed({ limit: 10 })).toMatchObject([
      { cause: 'flapping', ruleId: 'tamper', subjectId: 'stk-l1', borrowerId: 'b1' },
    ]);
    // Quiet for longer than the hold (6 h): the next opening is a new alert.
    t += 7 * HOUR;
    await episode();
    expect(await alerts('tamper')).toHaveLength(2);
  });

  it('when a single reading shows the seal open (a reed switch bounce), then no tamper alert opens', async () => {
    let t = T0;
    for (let i = 0; i < 20; i++) await feed([stake((t += 15 * MIN), { tamper: i % 5 === 0 ? 1 : 0 })]);
    expect(await alerts('tamper')).toEqual([]);
  });

  it('when the tamper switch opens, then tamper opens on the second open reading, stays one alert while open, and clears after closed readings', async () => {
    let t = T0;
    await feed([stake((t += MIN), { tamper: 1 })], [stake((t += MIN), { tamper: 1 })]);
    expect(await alerts('tamper')).toMatchObject([
      { status: 'open', subjectKind: 'device', subjectId: 'stk-l1' },
    ]);
    for (let i = 0; i < 3; i++) await feed([stake((t += MIN))]);
    expect((await alerts('tamper'))[0]?.status).toBe('open');
    await feed([stake((t += MIN))]);
    expect((await alerts('tamper'))[0]?.status).toBe('resolved');
  });

  it('when the battery runs low, then battery-low opens below the threshold and clears only above the higher one', async () => {
    let t = T0;
    await feed([stake((t += MIN), { batteryPct: 12 })]);
    expect(await alerts('battery-low')).toMatchObject([{ status: 'open', severity: 'info' }]);
    await feed([stake((t += MIN), { batteryPct: 20 })]);
    expect((await alerts('battery-low'))[0]?.status).toBe('open');
    await feed([stake((t += MIN), { batteryPct: 80 })]);
    expect((await alerts('battery-low'))[0]?.status).toBe('resolved');
  });

  it('when a device goes offline (last will) and comes back, then device.offline/online events are written and device-offline opens and resolves', async () => {
    const e = w.alerts.engine;
    await e.onPresence([{ deviceId: 'stk-l1', status: 'offline', changedAt: T0 }]);
    await e.onPresence([{ deviceId: 'stk-l1', status: 'offline', changedAt: T0 + 1 }]); // retained repeat: no change
    expect(await alerts('device-offline')).toMatchObject([
      { status: 'open', evidence: { reason: 'presence' } },
    ]);
    await e.onPresence([{ deviceId: 'stk-l1', status: 'online', changedAt: T0 + 2 }]);
    expect((await alerts('device-offline'))[0]?.status).toBe('resolved');
    expect(await events()).toEqual(['device.offline', 'alert.opened', 'device.online', 'alert.resolved']);
  });

  it('when a stake sends nothing for the silence period, then device-offline opens, and its next reading resolves it', async () => {
    await feed([stake(T0)]);
    await w.alerts.engine.checkSilence(Date.now() + 3 * HOUR);
    expect(await alerts('device-offline')).toMatchObject([
      { status: 'open', evidence: { reason: 'silence' } },
    ]);
    await feed([stake(T0 + MIN)]);
    expect((await alerts('device-offline'))[0]?.status).toBe('resolved');
  });

  it('when an inspector logs an inspection far from the site, then inspection-offsite opens; a worker helmet never does', async () => {
    let t = T0;
    const far = { lat: 10.2, lon: 20.1, mode: 'inspection', inspectionId: 'insp-1' };
    for (let i = 0; i < 5; i++) await feed([helmet('hlm-b1-w1', (t += MIN), far)]);
    expect(await alerts('inspection-offsite')).toEqual([]);
    for (let i = 0; i < 3; i++) await feed([helmet('hlm-b1-insp', (t += MIN), far)]);
    expect(await alerts('inspection-offsite')).toMatchObject([{ status: 'open', subjectId: 'hlm-b1-insp' }]);
    expect((await alerts('inspection-offsite'))[0]?.evidence.distanceFromSiteM).toBeGreaterThan(20_000);
    for (let i = 0; i < 3; i++)
      await feed([helmet('hlm-b1-insp', (t += MIN), { mode: 'inspection', inspectionId: 'insp-2' })]);
    expect((await alerts('inspection-offsite'))[0]?.status).toBe('resolved');
  });

  it('when NDVI collapses against its seasonal baseline, then satellite-anomaly opens; cloudy scenes are ignored; recovery clears it', async () => {
    let t = T0;
    const ndvi = (d: number) => 0.5 + 0.2 * Math.sin((2 * Math.PI * d) / 365) + 0.01 * Math.sin(d * 7.3);
    for (let d = 0; d < 60; d++) await feed([satellite((t += DAY), { ndvi: ndvi(d) })]);
    await feed(
      [satellite((t += DAY), { ndvi: 0.05, cloudPct: 90 })],
      [satellite((t += DAY), { ndvi: 0.05, cloudPct: 90 })],
    );
    expect(await alerts('satellite-anomaly')).toEqual([]);
    for (let d = 0; d < 3; d++) await feed([satellite((t += DAY), { ndvi: 0.15 })]);
    expect(await alerts('satellite-anomaly')).toMatchObject([
      { status: 'open', evidence: { field: 'ndvi' } },
    ]);
    for (let d = 0; d < 3; d++) await feed([satellite((t += DAY), { ndvi: ndvi(60) })]);
    expect((await alerts('satellite-anomaly'))[0]?.status).toBe('resolved');
  });

  it('when a temperature series spikes far outside its daily profile, then the general anomaly detector opens once', async () => {
    // Watched at warehouses too (by default only heated plants: an unheated store follows the weather).
    await w.alerts.rules.set(
      'anomaly',
      { params: { series: [{ kind: 'stake', field: 'temperatureC' }] } },
      T0,
    );
    let t = T0;
    const temp = (ms: number) =>
      15 + 5 * Math.sin((2 * Math.PI * (ms % DAY)) / DAY) + 0.3 * Math.sin(ms / 7e5);
    for (let i = 0; i < 5 * 96; i++) await feed([stake((t += 15 * MIN), { temperatureC: temp(t) })]);
    expect(await alerts('anomaly')).toEqual([]);
    for (let i = 0; i < 4; i++) await feed([stake((t += 15 * MIN), { temperatureC: 60 })]);
    expect(await alerts('anomaly')).toHaveLength(1);
    expect((await alerts('anomaly'))[0]).toMatchObject({
      status: 'open',
      evidence: { field: 'temperatureC' },
    });
  });

  it('when the PD crosses its threshold or the grade drops, then pd-threshold and grade-downgrade open, and an upgrade clears them', async () => {
    const e = w.alerts.engine;
    await e.onScoreChange({
      borrowerId: 'b1',
      at: T0,
      previous: { pd: 0.05, grade: 'C' },
      current: { pd: 0.25, grade: 'E' },
      gradeSteps: 2,
    });
    expect((await alerts()).map((a) => a.ruleId).sort()).toEqual(['grade-downgrade', 'pd-threshold']);
    await e.onScoreChange({
      borrowerId: 'b1',
      at: T0 + 1,
      previous: { pd: 0.25, grade: 'E' },
      current: { pd: 0.1, grade: 'C' },
      gradeSteps: -2,
    });
    expect((await alerts()).map((a) => a.status)).toEqual(['resolved', 'resolved']);
  });
});

describe('alert lifecycle, de-duplication and the outbox', () => {
  let w: World;
  beforeEach(async () => {
    w = await world();
  });
  afterEach(() => w.close());
  const input = {
    ruleId: 'tamper',
    severity: 'critical' as const,
    subjectKind: 'device' as const,
    subjectId: 'stk-l1',
    borrowerId: 'b1',
    title: 't',
    evidence: { x: 1 },
    at: T0,
  };

  it('when the same rule fires twice on a subject while open, then there is one alert and one alert.opened event', async () => {
    const s = w.alerts.service;
    expect(await s.open(input)).toBeDefined();
    expect(await s.open(input)).toBeUndefined();
    expect(await s.list({ limit: 10 })).toHaveLength(1);
    expect((await s.outbox.after(0, { types: ENGINE_EVENTS })).map((e) => e.type)).toEqual(['alert.opened']);
    expect(s.counters.deduplicated).toBe(1);
  });

  it('when an alert is acknowledged then resolved, then who, when and the comments are kept and each step has its event', async () => {
    const s = w.alerts.service;
    const a = await s.open(input);
    if (a === undefined) throw new Error('not opened');
    expect(await s.acknowledge(a.id, 'key-1', 'looking', T0 + 5)).toMatchObject({
      status: 'acknowledged',
      acknowledgedBy: 'key-1',
      acknowledgeComment: 'looking',
    });
    await expect(s.acknowledge(a.id, 'key-1', undefined)).rejects.toThrow(/only an open alert/);
    // While acknowledged, the rule firing again does not open a second alert.
    expect(await s.open(input)).toBeUndefined();
    expect(await s.resolve(a.id, 'key-2', 'goods back', T0 + 9)).toMatchObject({
      status: 'resolved',
      resolvedBy: 'key-2',
      resolveComment: 'goods back',
      resolvedAt: T0 + 9,
    });
    await expect(s.resolve(a.id, 'key-2', undefined)).rejects.toThrow(/already resolved/);
    expect(
      (await s.outbox.after(0, { types: ENGINE_EVENTS })).map((e) => [
        e.type,
        (e.data.alert as Alert).status,
      ]),
    ).toEqual([
      ['alert.opened', 'open'],
      ['alert.acknowledged', 'acknowledged'],
      ['alert.resolved', 'resolved'],
    ]);
    // Resolved: the next firing is a new alert.
    expect(await s.open(input)).toBeDefined();
  });

  it('when a rule does not auto-resolve, then the clearing condition leaves its alert open', async () => {
    await w.alerts.rules.set('tamper', { autoResolve: false }, T0);
    let t = T0;
    for (let i = 0; i < 2; i++) await w.alerts.engine.onReadings([stake((t += MIN), { tamper: 1 })]);
    for (let i = 0; i < 10; i++) await w.alerts.engine.onReadings([stake((t += MIN))]);
    expect(await w.alerts.service.list({ limit: 5, ruleId: 'tamper' })).toMatchObject([{ status: 'open' }]);
  });

  it('when the transaction around an alert write fails, then neither the alert nor its event is stored', async () => {
    const s = w.alerts.service;
    await expect(
      w.state.transaction(async () => {
        await s.open(input);
        throw new Error('boom after the alert write');
      }),
    ).rejects.toThrow(/boom/);
    expect(await s.list({ limit: 10 })).toEqual([]);
    expect(await s.outbox.after(0, { types: ENGINE_EVENTS })).toEqual([]);
    // And memory does not believe it open: the next firing opens it.
    expect(await s.open(input)).toBeDefined();
    expect(await s.outbox.after(0, { types: ENGINE_EVENTS })).toHaveLength(1);
  });

  it('when readings arrive in batches without waiting for each other, then they are evaluated in order and the alert opens once', async () => {
    let t = T0;
    // Not awaited one by one, as the ingest hands them over: the engine runs them in arrival order.
    const batches = Array.from({ length: 8 }, () => [stake((t += MIN), { tamper: 1, batteryPct: 5 })]);
    await Promise.all(batches.map((b) => w.alerts.engine.onReadings(b)));
    const open = await w.alerts.service.list({ limit: 10, status: 'open' });
    expect(open.map((a) => a.ruleId).sort()).toEqual(['battery-low', 'tamper']);
    expect((await w.alerts.service.outbox.after(0, { types: ENGINE_EVENTS })).map((e) => e.type)).toEqual([
      'alert.opened',
      'alert.opened',
    ]);
    expect(w.alerts.engine.counters).toMatchObject({ readingsEvaluated: 8, errors: 0 });
  });

  it('when one batch both opens and clears an alert, then both are stored in order and memory knows it is resolved', async () => {
    let t = T0;
    await w.alerts.engine.onReadings([
      stake((t += MIN), { batteryPct: 5 }),
      stake((t += MIN), { batteryPct: 90 }),
      stake((t += MIN), { batteryPct: 5 }),
    ]);
    const battery = await w.alerts.service.list({ limit: 10, ruleId: 'battery-low' });
    expect(battery.map((a) => a.status)).toEqual(['open', 'resolved']);
    expect(w.alerts.service.activeAlert('battery-low', 'device', 'stk-l1')?.id).toBe(
      battery.find((a) => a.status === 'open')?.id,
    );
  });

  it('when alerts are active, then /metrics shows their count (read at the previous scrape) and the counters', async () => {
    const metrics = alertMetrics(w.alerts);
    const sample = (name: string) => metrics.samples().find((s) => s.name === name)?.value;
    await w.alerts.service.open(input);
    await w.alerts.service.open({ ...input, ruleId: 'battery-low' });
    await vi.waitFor(() => expect(sample('riskfuse_alerts_active')).toBe(2));
    expect(metrics.samples()).toContainEqual(
      expect.objectContaining({ name: 'riskfuse_alerts_opened_total', labels: { rule: 'tamper' }, value: 1 }),
    );
  });
});

describe('rule configuration', () => {
  it('when a rules file is valid, then its settings and per-borrower overrides apply over the defaults', () => {
    const doc = parseRulesDocument(
      {
        rules: {
          'weight-drop': {
            params: { dropPct: 50 },
            overrides: { b1: { params: { dropPct: 10 } }, b2: { enabled: false } },
          },
        },
      },
      'test',
    );
    const rules = buildRuleSet(doc);
    expect(rules['weight-drop'].params).toMatchObject({ dropPct: 50, windowMs: 3 * DAY });
    expect(rules['weight-drop'].for('b1').params.dropPct).toBe(10);
    expect(rules['weight-drop'].for('b2').enabled).toBe(false);
    expect(rules['weight-drop'].for('b3').params.dropPct).toBe(50);
  });

  it('when a rules file is bad, then the error names the file, the rule and the field, and nothing is applied', () => {
    const bad = {
      rules: {
        'weight-drop': { params: { dropPct: 150 } },
        geofence: { params: { outsideToOpen: 'three' } },
        nope: {},
      },
    };
    let message = '';
    try {
      parseRulesDocument(bad, 'rules.json');
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/rules\.json/);
    expect(message).toMatch(/rule weight-drop: params\.dropPct .*100/);
    expect(message).toMatch(/rule geofence: params\.outsideToOpen/);
    expect(message).toMatch(/rule "nope": unknown rule/);
    expect(() =>
      parseRulesDocument({ rules: { 'battery-low': { params: { belowPct: 30, clearAbovePct: 20 } } } }, 'x'),
    ).toThrow(/clearAbovePct must be ≥/);
  });

  it('when ALERT_RULES_FILE is invalid, then creating the alerts component fails with the problem; a valid file applies', async () => {
    const probe = await world();
    try {
      const dir = probe.dir;
      const badFile = join(dir, 'bad.json');
      writeFileSync(badFile, JSON.stringify({ rules: { tamper: { severity: 'apocalyptic' } } }));
      await expect(world({ rulesFile: badFile })).rejects.toThrow(/rule tamper: severity/);
      writeFileSync(join(dir, 'notjson.json'), '{');
      await expect(world({ rulesFile: join(dir, 'notjson.json') })).rejects.toThrow(/not JSON/);
      const good = join(dir, 'good.json');
      writeFileSync(good, JSON.stringify({ rules: { tamper: { severity: 'warning' } } }));
      const w2 = await world({ rulesFile: good });
      expect(w2.alerts.rules.view('tamper')).toMatchObject({ severity: 'warning', source: 'file' });
      await w2.close();
    } finally {
      await probe.close();
    }
  });

  it('when a rule is changed with a bad field, then nothing changes; a good change (a per-borrower override) applies at once', async () => {
    const w = await world();
    try {
      const before = w.alerts.rules.view('geofence');
      await expect(w.alerts.rules.set('geofence', { params: { insideToClear: 0 } }, T0)).rejects.toThrow(
        /rule geofence: params\.insideToClear/,
      );
      expect(w.alerts.rules.view('geofence')).toEqual(before);
      expect(await w.alerts.service.store.listRuleSettings()).toEqual([]);
      await w.alerts.rules.setOverride('geofence', 'b1', { params: { outsideToOpen: 1 } }, T0);
      expect(w.alerts.engine.ruleSet.geofence.for('b1').params.outsideToOpen).toBe(1);
      await w.alerts.engine.onReadings([stake(T0, { lat: 11 })]);
      expect(await w.alerts.service.list({ limit: 5, ruleId: 'geofence' })).toHaveLength(1);
    } finally {
      await w.close();
    }
  });

  it('when two per-borrower overrides are set at once, then both are kept, in memory and in the state', async () => {
    const w = await world();
    try {
      await Promise.all([
        w.alerts.rules.setOverride('tamper', 'b1', { severity: 'info' }, T0),
        w.alerts.rules.setOverride('tamper', 'b2', { enabled: false }, T0),
      ]);
      expect(Object.keys(w.alerts.rules.view('tamper').overrides).sort()).toEqual(['b1', 'b2']);
      const [saved] = await w.alerts.service.store.listRuleSettings();
      expect(Object.keys((saved?.settings as RuleSettings).overrides ?? {}).sort()).toEqual(['b1', 'b2']);
    } finally {
      await w.close();
    }
  });
});
