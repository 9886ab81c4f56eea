import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireInfluxOrSkip, startInfluxd, type Influxd } from '../../test/support/influxd.js';
import type { Reading } from '../../core/contracts/index.js';
import { silentLogger } from '../../core/logger.js';
import { parseConfig } from '../../core/config.js';
import { createInfluxTelemetryStore } from '../../core/storage/influx-telemetry-store.js';
import { openSqliteTelemetryStore } from '../../core/storage/sqlite-telemetry-store.js';
import { telemetryConfigSpec } from '../../core/storage/telemetry-config.js';
import type { Loan, Repayment } from '../../core/state/index.js';
import { extractFeatures, loadPortfolio, type FeatureRow } from '../features/extract.js';
import type { RegionBaselines } from '../features/offline.js';
import { FEATURE_NAMES, FEATURES, OFFLINE_FEATURES, ONLINE_FEATURES } from '../features/spec.js';
import { join } from 'node:path';
import { buildTestWorld, DAY_MS, type TestWorld } from './support/world.js';

/** Row values by borrower, NaN-aware, for exact comparison. */
function byBorrower(rows: readonly FeatureRow[]): Map<string, number[]> {
  return new Map(
    rows.map((r) => [r.borrowerId, Array.from(r.values, (v) => (Number.isNaN(v) ? -999_999 : v))]),
  );
}

let w: TestWorld;
let t: number;

beforeAll(async () => {
  w = await buildTestWorld({ borrowers: 30, days: 160 });
  t = w.fromMs + 150 * DAY_MS;
}, 120_000);

afterAll(async () => {
  await w?.close();
});

describe('feature spec', () => {
  it('when listed, then every feature has a source, window, unit, missing policy and plain-words reasons', () => {
    expect(FEATURES.length).toBe(FEATURE_NAMES.length);
    expect(new Set(FEATURE_NAMES).size).toBe(FEATURE_NAMES.length);
    expect(ONLINE_FEATURES.length).toBeGreaterThanOrEqual(8);
    expect(OFFLINE_FEATURES.length).toBeGreaterThanOrEqual(10);
    for (const f of FEATURES) {
      for (const v of [f.source, f.window, f.unit, f.description, f.reasonUp, f.reasonDown])
        expect(v.length).toBeGreaterThan(0);
    }
  });
});

describe('feature extraction from the stores', () => {
  it('when extracted at a date, then online and offline features are filled in for borrowers with devices and loans', async () => {
    const rows = await extractFeatures({
      telemetryStore: w.telemetry,
      portfolio: await loadPortfolio(w.state),
      times: [t],
    });
    expect(rows.length).toBeGreaterThan(20);
    const col = (name: string): number[] => rows.map((r) => r.values[FEATURE_NAMES.indexOf(name)] as number);
    // Every borrower has stakes reporting: coverage and weight trends are present and plausible.
    const fill = col('collateral_fill').filter((v) => !Number.isNaN(v));
    expect(fill.length).toBeGreaterThan(rows.length * 0.8);
    for (const v of fill) expect(v).toBeGreaterThan(0);
    expect(col('weight_change_30d').filter((v) => !Number.isNaN(v)).length).toBeGreaterThan(
      rows.length * 0.8,
    );
    expect(col('worker_activity_ratio').filter((v) => v > 0.3 && v < 3).length).toBeGreaterThan(
      rows.length * 0.7,
    );
    expect(col('loan_age_days').every((v) => v > 0)).toBe(true);
    // A borrower without parcels has no NDVI — not applicable, so never an adverse-action reason.
    const portfolio = await loadPortfolio(w.state);
    for (const r of rows) {
      const parcels = portfolio.assets.get(r.borrowerId)?.parcelFeeds.length ?? 0;
      expect(r.notApplicable?.includes('ndvi_anomaly_30d') ?? false).toBe(parcels === 0);
      if (parcels === 0) expect(r.values[FEATURE_NAMES.indexOf('ndvi_anomaly_30d')]).toBeNaN();
    }
    expect(rows.some((r) => r.notApplicable?.includes('ndvi_anomaly_30d'))).toBe(true);
    expect(col('utilisation').every((v) => v >= 0 && v <= 1)).toBe(true);
  });

  it('when the same date is extracted alone (live) and among many (batch), then the features are identical', async () => {
    const portfolio = await loadPortfolio(w.state);
    const live = await extractFeatures({ telemetryStore: w.telemetry, portfolio, times: [t] });
    const batch = await extractFeatures({
      telemetryStore: w.telemetry,
      portfolio,
      times: [t - 14 * DAY_MS, t - 7 * DAY_MS, t],
    });
    expect(byBorrower(batch.filter((r) => r.t === t))).toEqual(byBorrower(live));
  });

  it("when one borrower is extracted with the portfolio run's region baselines, then its features equal the portfolio run's", async () => {
    let baselines: RegionBaselines | undefined;
    const all = await extractFeatures({
      telemetryStore: w.telemetry,
      portfolio: await loadPortfolio(w.state),
      times: [t],
      onBaselines: (_t, b) => (baselines = b),
      // As for a whole book: kind-wide reads, where one borrower reads its own devices.
      byDevice: false,
    });
    expect(baselines?.ndvi.size).toBeGreaterThan(0);
    // Every borrower: the portfolio reads whole kinds, one borrower its own devices (another store query plan).
    expect(all.length).toBeGreaterThan(20);
    for (const row of all) {
      const [one] = await extractFeatures({
        telemetryStore: w.telemetry,
        portfolio: await loadPortfolio(w.state, [row.borrowerId]),
        times: [t],
        regionBaselines: baselines as RegionBaselines,
      });
      expect(byBorrower(one === undefined ? [] : [one])).toEqual(byBorrower([row]));
    }
  });

  it('when features are read from the daily aggregates, then they equal features computed from the raw readings', async () => {
    const raw = openSqliteTelemetryStore(join(w.dir, 'telemetry.db'), { rawOnly: true });
    try {
      const portfolio = await loadPortfolio(w.state);
      const times = [t - 7 * DAY_MS, t, t + 13 * 3_600_000 + 1_234];
      const fromAggregates = await extractFeatures({ telemetryStore: w.telemetry, portfolio, times });
      const fromRaw = await extractFeatures({ telemetryStore: raw, portfolio, times });
      expect(fromAggregates.length).toBe(fromRaw.length);
      expect(fromAggregates.length).toBeGreaterThan(20);
      fromRaw.forEach((r, i) => {
        const o = fromAggregates[i] as FeatureRow;
        expect([o.borrowerId, o.t]).toEqual([r.borrowerId, r.t]);
        r.values.forEach((v, j) => {
          const u = o.values[j] as number;
          // Means are sums over counts in both; the sums may differ in the last bits with their order.
          if (Number.isNaN(v)) expect(u, FEATURE_NAMES[j]).toBeNaN();
          else expect(u, FEATURE_NAMES[j]).toBeCloseTo(v, 9);
        });
      });
    } finally {
      await raw.close();
    }
  });

  it('when a late reading lands on a day older than two between periodic runs, then the next run sees it', async () => {
    // The demo's b0047: a stake's offline queue drained a tamper reading five days back right before a periodic
    // run, which then reported a tamper share of 0 while an on-demand rescore a minute later saw 0.125.
    const portfolio = await loadPortfolio(w.state);
    const at = t - 3_600_000;
    const stake = (await w.state.devices.listDevices({ kind: 'stake' }))[0];
    if (stake === undefined) throw new Error('no stake');
    const share = (rows: readonly FeatureRow[]): number =>
      rows.find((r) => r.borrowerId === stake.borrowerId)?.values[
        FEATURE_NAMES.indexOf('tamper_share_30d')
      ] ?? Number.NaN;
    const first = await extractFeatures({ telemetryStore: w.telemetry, portfolio, times: [at] });
    const day = Math.floor(at / DAY_MS) * DAY_MS - 5 * DAY_MS;
    const [sameDay] = await w.telemetry.range({
      deviceIds: [stake.id],
      fromMs: day,
      toMs: day + DAY_MS,
      limit: 1,
    });
    expect(sameDay, 'the stake reported that day (its tamper flag then changes a counted day)').toBeDefined();
    await w.telemetry.writeReadings([
      {
        kind: 'stake',
        deviceId: stake.id,
        borrowerId: stake.borrowerId,
        siteId: stake.siteId,
        ts: day + 11 * 3_600_000 + 7,
        seq: 8_000_000,
        fields: {
          weightKg: 1_000,
          itemCount: 10,
          lat: 10,
          lon: 10,
          tamper: 1,
          temperatureC: 20,
          humidityPct: 50,
          batteryPct: 50,
        },
      },
    ]);
    const next = await extractFeatures({ telemetryStore: w.telemetry, portfolio, times: [at + 900_000] });
    const onDemand = await extractFeatures({
      telemetryStore: w.telemetry,
      portfolio: await loadPortfolio(w.state, [stake.borrowerId]),
      times: [at + 960_000],
    });
    expect(share(next)).toBeGreaterThan(share(first));
    expect(share(next)).toBe(share(onDemand));
  });

  it('when times are not UTC midnights (except the last), then extraction refuses rather than leak a partial day', async () => {
    await expect(
      extractFeatures({
        telemetryStore: w.telemetry,
        portfolio: await loadPortfolio(w.state),
        times: [t - 3_600_000, t],
      }),
    ).rejects.toThrow(/day boundary/);
  });

  it('when data arrives after t, then the features at t do not change; the same data before t does change them', async () => {
    const portfolio = await loadPortfolio(w.state);
    const before = byBorrower(await extractFeatures({ telemetryStore: w.telemetry, portfolio, times: [t] }));
    const stakes = await w.state.devices.listDevices({ kind: 'stake' });
    const helmets = await w.state.devices.listDevices({ kind: 'helmet' });
    const sats = await w.state.devices.listDevices({ kind: 'satellite' });
    const crash = (at: number, seq: number): Reading[] => [
      ...stakes.map((d) => ({
        kind: 'stake' as const,
        deviceId: d.id,
        borrowerId: d.borrowerId,
        siteId: d.siteId,
        ts: at,
        seq,
        fields: {
          weightKg: 0,
          itemCount: 0,
          lat: 10,
          lon: 10,
          tamper: 1,
          temperatureC: 20,
          humidityPct: 50,
          batteryPct: 5,
        },
      })),
      ...helmets.map((d) => ({
        kind: 'helmet' as const,
        deviceId: d.id,
        borrowerId: d.borrowerId,
        siteId: d.siteId,
        ts: at,
        seq,
        fields: {
          lat: 10,
          lon: 10,
          worn: 1,
          activity: 1,
          mode: 'inspection',
          inspectionId: 'x',
          batteryPct: 50,
        },
      })),
      ...sats.map((d) => ({
        kind: 'satellite' as const,
        deviceId: d.id,
        borrowerId: d.borrowerId,
        siteId: d.siteId,
        ts: at,
        seq,
        fields: { ndvi: -0.5, activityIndex: 0, cloudPct: 0, sceneId: 'leak' },
      })),
    ];
    await w.telemetry.writeReadings([
      ...crash(t, 9_000_001),
      ...crash(t + 3_600_000, 9_000_002),
      ...crash(t + 20 * DAY_MS, 9_000_003),
    ]);
    // The loan book changes after t too: every instalment paid the day after, a default, a new loan.
    const loans: Loan[] = await w.state.loans.listLoans();
    const repayments: Repayment[] = [];
    for (const l of loans) repayments.push(...(await w.state.loans.listRepayments(l.id)));
    await w.state.loans.upsertRepayments(
      repayments
        .filter((r) => r.paidAt === undefined || r.paidAt > t)
        .map((r) => ({ ...r, paidAt: t + DAY_MS, amountPaid: r.amountDue })),
    );
    const victim = loans.find((l) => l.startAt <= t && l.defaultedAt === undefined) as Loan;
    await w.state.loans.upsertLoans([
      { ...victim, status: 'defaulted', defaultedAt: t + 2 * DAY_MS },
      { ...victim, id: `${victim.id}-late`, startAt: t + 3 * DAY_MS, status: 'active' },
    ]);
    const after = byBorrower(
      await extractFeatures({
        telemetryStore: w.telemetry,
        portfolio: await loadPortfolio(w.state),
        times: [t],
      }),
    );
    expect(after).toEqual(before);

    // Control: the same crash one hour before t moves the collateral and satellite features.
    await w.telemetry.writeReadings(crash(t - 3_600_000, 9_000_000));
    const leaked = byBorrower(
      await extractFeatures({
        telemetryStore: w.telemetry,
        portfolio: await loadPortfolio(w.state),
        times: [t],
      }),
    );
    const changed = [...leaked].filter(([id, v]) => JSON.stringify(v) !== JSON.stringify(before.get(id)));
    expect(changed.length).toBe(before.size);
  });

  it('when raw readings older than the raw window are pruned, then the features are unchanged', async () => {
    const portfolio = await loadPortfolio(w.state);
    const times = [t - 7 * DAY_MS, t];
    const before = byBorrower(await extractFeatures({ telemetryStore: w.telemetry, portfolio, times }));
    const cut = t - 20 * DAY_MS;
    const pruned = await w.telemetry.prune({ rawBeforeMs: cut, hourlyBeforeMs: cut, dailyBeforeMs: 0 });
    expect(pruned.raw).toBeGreaterThan(1_000);
    expect(await w.telemetry.count({ toMs: cut })).toBe(0);
    const after = byBorrower(await extractFeatures({ telemetryStore: w.telemetry, portfolio, times }));
    expect(after).toEqual(before);
  });
});

describe.skipIf(requireInfluxOrSkip())('feature extraction on InfluxDB', () => {
  let influxd: Influxd | undefined;
  afterAll(async () => {
    await influxd?.stop();
  });

  it('when the same readings are in InfluxDB, then the features equal those from SQLite', async () => {
    influxd = await startInfluxd();
    const parity = await buildTestWorld({ borrowers: 12, days: 140, seed: 11 });
    try {
      const influx = createInfluxTelemetryStore(
        {
          ...parseConfig(telemetryConfigSpec, { INFLUX_URL: influxd.url, INFLUX_DATABASE: 'riskfeatures' }),
          influxUrl: influxd.url,
        },
        { log: silentLogger },
      );
      await influx.ensureDatabase();
      const all = await parity.telemetry.range({ fromMs: parity.fromMs, toMs: parity.toMs, limit: 10_000 });
      expect(all.length).toBeGreaterThan(0);
      // Copy everything, device by device (range caps at 10,000 readings per call).
      for (const d of await parity.state.devices.listDevices()) {
        let from = parity.fromMs;
        for (;;) {
          const page = await parity.telemetry.range({
            deviceIds: [d.id],
            fromMs: from,
            toMs: parity.toMs,
            limit: 10_000,
          });
          if (page.length === 0) break;
          await influx.writeReadings(page);
          from = (page[page.length - 1] as Reading).ts + 1;
          if (page.length < 10_000) break;
        }
      }
      expect(await influx.count({})).toBe(await parity.telemetry.count({}));
      const portfolio = await loadPortfolio(parity.state);
      const times = [parity.fromMs + 125 * DAY_MS, parity.fromMs + 132 * DAY_MS];
      const fromSqlite = await extractFeatures({ telemetryStore: parity.telemetry, portfolio, times });
      const fromInflux = await extractFeatures({ telemetryStore: influx, portfolio, times });
      expect(fromInflux.length).toBe(fromSqlite.length);
      fromSqlite.forEach((r, i) => {
        const o = fromInflux[i] as FeatureRow;
        expect(o.borrowerId).toBe(r.borrowerId);
        r.values.forEach((v, j) => {
          const u = o.values[j] as number;
          if (Number.isNaN(v)) expect(u, FEATURE_NAMES[j]).toBeNaN();
          else expect(u, FEATURE_NAMES[j]).toBeCloseTo(v, 6);
        });
      });
      await influx.close();
    } finally {
      await parity.close();
    }
  }, 180_000);
});
