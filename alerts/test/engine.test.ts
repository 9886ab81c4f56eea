import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Alert } from '../../core/storage/alert-store.js';
import { buildRuleSet, parseRulesDocument } from '../rules.js';
import { helmet, MIN, satellite, stake, T0, world, type World } from './support.js';

const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

describe('alert rules on crafted readings', () => {
  let w: World;
  beforeEach(() => {
    w = world();
  });
  afterEach(() => w.close());

  const alerts = (ruleId?: string): Alert[] =>
    w.alerts.service.list({ limit: 100, ...(ruleId === undefined ? {} : { ruleId }) });
  const events = () => w.alerts.service.outbox.after(0).map((e) => e.type);
  const feed = (...rs: Parameters<typeof w.alerts.engine.onReadings>[0][]) =>
    rs.forEach((r) => w.alerts.engine.onReadings(r));

  it('when most of a lot disappears overnight and stays gone, then weight-drop opens with the baseline as evidence, and a restock resolves it', () => {
    let t = T0;
    for (let i = 0; i < 20; i++) feed([stake((t += 15 * MIN), { weightKg: 9_000 })]);
    expect(alerts('weight-drop')).toEqual([]);
    for (let i = 0; i < 6; i++) feed([stake((t += 15 * MIN), { weightKg: 2_000 })]);
    const [a] = alerts('weight-drop');
    expect(a).toMatchObject({
      status: 'open',
      subjectKind: 'lot',
      subjectId: 'l1',
      borrowerId: 'b1',
      severity: 'critical',
    });
    expect(a?.evidence).toMatchObject({ baselineKg: 9_000, medianKg: 2_000, pledgedWeightKg: 10_000 });
    expect(events()).toEqual(['alert.opened']);
    for (let i = 0; i < 6; i++) feed([stake((t += 15 * MIN), { weightKg: 8_900 })]);
    expect(alerts('weight-drop')[0]).toMatchObject({ status: 'resolved', resolvedBy: 'system' });
    expect(events()).toEqual(['alert.opened', 'alert.resolved']);
  });

  it('when a lot is sold down through the working day and restocked by truck, then no weight-drop alert opens', () => {
    let t = T0;
    let kg = 9_000;
    for (let day = 0; day < 10; day++) {
      for (let q = 0; q < 96; q++) {
        t += 15 * MIN;
        const h = (q / 4) | 0;
        if (h >= 8 && h < 17) kg -= (9_000 * 0.05) / 36; // 5 % a day in working hours
        if (day % 3 === 2 && h === 12 && q % 4 === 0) kg = 9_500; // a truck restocks
        feed([stake(t, { weightKg: kg + (q % 2 === 0 ? 40 : -40) })]);
      }
    }
    // A one-reading glitch of the load cell is not a drop either (rolling median).
    feed([stake((t += 15 * MIN), { weightKg: 0 })]);
    expect(alerts('weight-drop')).toEqual([]);
  });

  it('when GPS jitters across the fence edge, then geofence does not flap; N outside readings open it and M inside clear it', () => {
    let t = T0;
    // Jitter: alternating just-outside / inside fixes (never three outside in a row).
    for (let i = 0; i < 30; i++) feed([stake((t += MIN), { lat: i % 3 === 0 ? 10.0012 : 10.0009 })]);
    expect(alerts('geofence')).toEqual([]);
    for (let i = 0; i < 2; i++) feed([stake((t += MIN), { lat: 10.05 })]);
    expect(alerts('geofence')).toEqual([]);
    feed([stake((t += MIN), { lat: 10.05 })]);
    expect(alerts('geofence')).toMatchObject([{ status: 'open', subjectId: 'l1' }]);
    expect(alerts('geofence')[0]?.evidence.distanceFromSiteM).toBeGreaterThan(5_000);
    // Inaccurate fixes are ignored; two inside do not clear, three do.
    feed([stake((t += MIN), { lat: 10, gpsAccuracyM: 5_000 })], [stake((t += MIN))], [stake((t += MIN))]);
    expect(alerts('geofence')[0]?.status).toBe('open');
    feed([stake((t += MIN))]);
    expect(alerts('geofence')[0]?.status).toBe('resolved');
  });

  it('when the tamper switch opens, then tamper opens at once, stays one alert while open, and clears after closed readings', () => {
    let t = T0;
    feed([stake((t += MIN), { tamper: 1 })], [stake((t += MIN), { tamper: 1 })]);
    expect(alerts('tamper')).toMatchObject([{ status: 'open', subjectKind: 'device', subjectId: 'stk-l1' }]);
    for (let i = 0; i < 3; i++) feed([stake((t += MIN))]);
    expect(alerts('tamper')[0]?.status).toBe('open');
    feed([stake((t += MIN))]);
    expect(alerts('tamper')[0]?.status).toBe('resolved');
  });

  it('when the battery runs low, then battery-low opens below the threshold and clears only above the higher one', () => {
    let t = T0;
    feed([stake((t += MIN), { batteryPct: 12 })]);
    expect(alerts('battery-low')).toMatchObject([{ status: 'open', severity: 'info' }]);
    feed([stake((t += MIN), { batteryPct: 20 })]);
    expect(alerts('battery-low')[0]?.status).toBe('open');
    feed([stake((t += MIN), { batteryPct: 80 })]);
    expect(alerts('battery-low')[0]?.status).toBe('resolved');
  });

  it('when a device goes offline (last will) and comes back, then device.offline/online events are written and device-offline opens and resolves', () => {
    const e = w.alerts.engine;
    e.onPresence([{ deviceId: 'stk-l1', status: 'offline', changedAt: T0 }]);
    e.onPresence([{ deviceId: 'stk-l1', status: 'offline', changedAt: T0 + 1 }]); // retained repeat: no change
    expect(alerts('device-offline')).toMatchObject([{ status: 'open', evidence: { reason: 'presence' } }]);
    e.onPresence([{ deviceId: 'stk-l1', status: 'online', changedAt: T0 + 2 }]);
    expect(alerts('device-offline')[0]?.status).toBe('resolved');
    expect(events()).toEqual(['device.offline', 'alert.opened', 'device.online', 'alert.resolved']);
  });

  it('when a stake sends nothing for the silence period, then device-offline opens, and its next reading resolves it', () => {
    feed([stake(T0)]);
    w.alerts.engine.checkSilence(Date.now() + 3 * HOUR);
    expect(alerts('device-offline')).toMatchObject([{ status: 'open', evidence: { reason: 'silence' } }]);
    feed([stake(T0 + MIN)]);
    expect(alerts('device-offline')[0]?.status).toBe('resolved');
  });

  it('when an inspector logs an inspection far from the site, then inspection-offsite opens; a worker helmet never does', () => {
    let t = T0;
    const far = { lat: 10.2, lon: 20.1, mode: 'inspection', inspectionId: 'insp-1' };
    for (let i = 0; i < 5; i++) feed([helmet('hlm-b1-w1', (t += MIN), far)]);
    expect(alerts('inspection-offsite')).toEqual([]);
    for (let i = 0; i < 3; i++) feed([helmet('hlm-b1-insp', (t += MIN), far)]);
    expect(alerts('inspection-offsite')).toMatchObject([{ status: 'open', subjectId: 'hlm-b1-insp' }]);
    expect(alerts('inspection-offsite')[0]?.evidence.distanceFromSiteM).toBeGreaterThan(20_000);
    for (let i = 0; i < 3; i++)
      feed([helmet('hlm-b1-insp', (t += MIN), { mode: 'inspection', inspectionId: 'insp-2' })]);
    expect(alerts('inspection-offsite')[0]?.status).toBe('resolved');
  });

  it('when NDVI collapses against its seasonal baseline, then satellite-anomaly opens; cloudy scenes are ignored; recovery clears it', () => {
    let t = T0;
    const ndvi = (d: number) => 0.5 + 0.2 * Math.sin((2 * Math.PI * d) / 365) + 0.01 * Math.sin(d * 7.3);
    for (let d = 0; d < 60; d++) feed([satellite((t += DAY), { ndvi: ndvi(d) })]);
    feed(
      [satellite((t += DAY), { ndvi: 0.05, cloudPct: 90 })],
      [satellite((t += DAY), { ndvi: 0.05, cloudPct: 90 })],
    );
    expect(alerts('satellite-anomaly')).toEqual([]);
    for (let d = 0; d < 3; d++) feed([satellite((t += DAY), { ndvi: 0.15 })]);
    expect(alerts('satellite-anomaly')).toMatchObject([{ status: 'open', evidence: { field: 'ndvi' } }]);
    for (let d = 0; d < 3; d++) feed([satellite((t += DAY), { ndvi: ndvi(60) })]);
    expect(alerts('satellite-anomaly')[0]?.status).toBe('resolved');
  });

  it('when a temperature series spikes far outside its daily profile, then the general anomaly detector opens once', () => {
    let t = T0;
    const temp = (ms: number) =>
      15 + 5 * Math.sin((2 * Math.PI * (ms % DAY)) / DAY) + 0.3 * Math.sin(ms / 7e5);
    for (let i = 0; i < 5 * 96; i++) feed([stake((t += 15 * MIN), { temperatureC: temp(t) })]);
    expect(alerts('anomaly')).toEqual([]);
    for (let i = 0; i < 4; i++) feed([stake((t += 15 * MIN), { temperatureC: 60 })]);
    expect(alerts('anomaly')).toHaveLength(1);
    expect(alerts('anomaly')[0]).toMatchObject({ status: 'open', evidence: { field: 'temperatureC' } });
  });

  it('when the PD crosses its threshold or the grade drops, then pd-threshold and grade-downgrade open, and an upgrade clears them', () => {
    const e = w.alerts.engine;
    e.onScoreChange({
      borrowerId: 'b1',
      at: T0,
      previous: { pd: 0.05, grade: 'C' },
      current: { pd: 0.25, grade: 'E' },
      gradeSteps: 2,
    });
    expect(
      alerts()
        .map((a) => a.ruleId)
        .sort(),
    ).toEqual(['grade-downgrade', 'pd-threshold']);
    e.onScoreChange({
      borrowerId: 'b1',
      at: T0 + 1,
      previous: { pd: 0.25, grade: 'E' },
      current: { pd: 0.1, grade: 'C' },
      gradeSteps: -2,
    });
    expect(alerts().map((a) => a.status)).toEqual(['resolved', 'resolved']);
  });
});

describe('alert lifecycle, de-duplication and the outbox', () => {
  let w: World;
  beforeEach(() => {
    w = world();
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

  it('when the same rule fires twice on a subject while open, then there is one alert and one alert.opened event', () => {
    const s = w.alerts.service;
    expect(s.open(input)).toBeDefined();
    expect(s.open(input)).toBeUndefined();
    expect(s.list({ limit: 10 })).toHaveLength(1);
    expect(s.outbox.after(0).map((e) => e.type)).toEqual(['alert.opened']);
    expect(s.counters.deduplicated).toBe(1);
  });

  it('when an alert is acknowledged then resolved, then who, when and the comments are kept and each step has its event', () => {
    const s = w.alerts.service;
    const a = s.open(input);
    if (a === undefined) throw new Error('not opened');
    expect(s.acknowledge(a.id, 'key-1', 'looking', T0 + 5)).toMatchObject({
      status: 'acknowledged',
      acknowledgedBy: 'key-1',
      acknowledgeComment: 'looking',
    });
    expect(() => s.acknowledge(a.id, 'key-1', undefined)).toThrow(/only an open alert/);
    // While acknowledged, the rule firing again does not open a second alert.
    expect(s.open(input)).toBeUndefined();
    expect(s.resolve(a.id, 'key-2', 'goods back', T0 + 9)).toMatchObject({
      status: 'resolved',
      resolvedBy: 'key-2',
      resolveComment: 'goods back',
      resolvedAt: T0 + 9,
    });
    expect(() => s.resolve(a.id, 'key-2', undefined)).toThrow(/already resolved/);
    expect(s.outbox.after(0).map((e) => [e.type, (e.data.alert as Alert).status])).toEqual([
      ['alert.opened', 'open'],
      ['alert.acknowledged', 'acknowledged'],
      ['alert.resolved', 'resolved'],
    ]);
    // Resolved: the next firing is a new alert.
    expect(s.open(input)).toBeDefined();
  });

  it('when a rule does not auto-resolve, then the clearing condition leaves its alert open', () => {
    w.alerts.rules.set('tamper', { autoResolve: false }, T0);
    let t = T0;
    w.alerts.engine.onReadings([stake((t += MIN), { tamper: 1 })]);
    for (let i = 0; i < 10; i++) w.alerts.engine.onReadings([stake((t += MIN))]);
    expect(w.alerts.service.list({ limit: 5, ruleId: 'tamper' })).toMatchObject([{ status: 'open' }]);
  });

  it('when the transaction around an alert write fails, then neither the alert nor its event is stored', () => {
    const s = w.alerts.service;
    expect(() =>
      w.state.transaction(() => {
        s.open(input);
        throw new Error('boom after the alert write');
      }),
    ).toThrow(/boom/);
    expect(s.list({ limit: 10 })).toEqual([]);
    expect(s.outbox.after(0)).toEqual([]);
    // And memory does not believe it open: the next firing opens it.
    expect(s.open(input)).toBeDefined();
    expect(s.outbox.after(0)).toHaveLength(1);
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

  it('when ALERT_RULES_FILE is invalid, then creating the alerts component fails with the problem; a valid file applies', () => {
    const probe = world();
    const dir = probe.dir;
    const badFile = join(dir, 'bad.json');
    writeFileSync(badFile, JSON.stringify({ rules: { tamper: { severity: 'apocalyptic' } } }));
    expect(() => world({ rulesFile: badFile })).toThrow(/rule tamper: severity/);
    writeFileSync(join(dir, 'notjson.json'), '{');
    expect(() => world({ rulesFile: join(dir, 'notjson.json') })).toThrow(/not JSON/);
    const good = join(dir, 'good.json');
    writeFileSync(good, JSON.stringify({ rules: { tamper: { severity: 'warning' } } }));
    const w2 = world({ rulesFile: good });
    expect(w2.alerts.rules.view('tamper')).toMatchObject({ severity: 'warning', source: 'file' });
    w2.close();
    probe.close();
  });

  it('when a rule is changed with a bad field, then nothing changes; a good change (a per-borrower override) applies at once', () => {
    const w = world();
    const before = w.alerts.rules.view('geofence');
    expect(() => w.alerts.rules.set('geofence', { params: { insideToClear: 0 } }, T0)).toThrow(
      /rule geofence: params\.insideToClear/,
    );
    expect(w.alerts.rules.view('geofence')).toEqual(before);
    w.alerts.rules.setOverride('geofence', 'b1', { params: { outsideToOpen: 1 } }, T0);
    expect(w.alerts.engine.ruleSet.geofence.for('b1').params.outsideToOpen).toBe(1);
    w.alerts.engine.onReadings([stake(T0, { lat: 11 })]);
    expect(w.alerts.service.list({ limit: 5, ruleId: 'geofence' })).toHaveLength(1);
    w.close();
  });
});
