import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../core/logger.js';
import { closeAll, STATE_BACKENDS } from '../../../core/state/test/backends.js';
import type { State } from '../../../core/state/index.js';
import { openSqliteTelemetryStore } from '../../../core/storage/sqlite-telemetry-store.js';
import { parseHaircuts } from '../../credit/collateral.js';
import { CreditMonitor, type BreachChange } from '../../credit/credit-monitor.js';
import { PolicyStore } from '../../policy/policy-store.js';
import { HOUR, seedSecuredBorrower, stakeReading as stake } from './fixtures.js';

afterAll(closeAll);

const NOW = Date.UTC(2026, 5, 1);

async function world(state: State) {
  await seedSecuredBorrower(state, NOW);
  await state.loans.upsertRepayments([
    { id: 'r1', loanId: 'ln1', dueAt: NOW + HOUR, amountDue: 60_000, amountPaid: 0 },
  ]);
}

/** A monitor with every collateral rule at a simple factor; breaches into `breaches`. */
function monitorOn(
  state: State,
  telemetry: ReturnType<typeof openSqliteTelemetryStore>,
  now: () => number,
  breaches: BreachChange[] = [],
): CreditMonitor {
  return new CreditMonitor({
    state,
    telemetry,
    params: {
      ccf: 0.75,
      unsecuredLgd: 0.45,
      recoveryRate: 0.9,
      liquidationCost: 0.05,
      collateralAtDefault: 1,
      collateral: {
        staleAfterMs: 24 * HOUR,
        staleFactor: 0,
        outsideFenceFactor: 0,
        tamperFactor: 0.5,
        tamperHoldMs: 7 * 24 * HOUR,
        offlineFactor: 0.5,
        haircut: parseHaircuts('{"*":0}'),
      },
    },
    policies: new PolicyStore(state, now),
    log: silentLogger,
    debounceMs: 10,
    refreshIntervalMs: 3_600_000,
    tamperHoldMs: 7 * 24 * HOUR,
    now,
    onBreach: (c) => {
      breaches.push(c);
      return Promise.resolve();
    },
  });
}

describe.each(STATE_BACKENDS)('credit monitor on %s', (backend) => {
  it('when a stake reports its lot outside the fence, then verified coverage and LGD move, EL rises, and one policy.breached event and a review commit with the figures', async () => {
    const state = await backend.open();
    await world(state);
    const telemetry = openSqliteTelemetryStore(join(mkdtempSync(join(tmpdir(), 'rf-credit-')), 't.db'));
    await telemetry.writeReadings([stake(NOW - HOUR, 1)]);
    let now = NOW;
    const breaches: BreachChange[] = [];
    const monitor = monitorOn(state, telemetry, () => now, breaches);
    await state.models.addModel({
      version: 'm1',
      name: 'm',
      kind: 'mlp',
      status: 'challenger',
      createdAt: NOW,
      artifactPath: 'x',
      dataHash: 'h',
      backend: 'wasm',
      meta: {},
    });
    await state.scores.addScores([
      {
        borrowerId: 'b1',
        at: NOW - HOUR,
        modelVersion: 'm1',
        shadow: false,
        pd: 0.05,
        score: 600,
        grade: 'C',
        reasons: [],
        trigger: 'periodic',
      },
    ]);
    await monitor.start();
    const before = (await state.credit.getExposures(['b1'])).get('b1');
    expect(before?.verifiedCoverage).toBeCloseTo(100_000 / 60_000);
    expect(before?.breaches).toEqual([]);
    const secured = 1 - 0.9 * 0.95;
    expect(before?.lgd).toBeCloseTo(secured);

    now = NOW + 60_000;
    monitor.onReadings([stake(NOW + 30_000, 2, { lat: 5, lon: 5 })]);
    await monitor.settled();
    const after = (await state.credit.getExposures(['b1'])).get('b1');
    expect(after?.claimedCoverage).toBeCloseTo(100_000 / 60_000);
    expect(after?.verifiedCoverage).toBe(0);
    expect(after?.lgd).toBeCloseTo(0.45);
    expect(after?.el).toBeCloseTo(0.05 * 0.45 * 60_000);
    expect(after?.el as number).toBeGreaterThan(before?.el as number);
    expect(after?.breaches.map((b) => b.code)).toEqual(['POLICY_MIN_COVERAGE']);
    const events = await state.outbox.after(0);
    expect(events.map((e) => e.type)).toEqual(['policy.breached', 'review.opened']);
    expect(events[0]?.data).toMatchObject({
      borrowerId: 'b1',
      codes: ['POLICY_MIN_COVERAGE'],
      verifiedCoverage: 0,
    });
    expect(breaches).toHaveLength(1);
    expect((await state.credit.listReviews({ limit: 5, status: 'open' })).map((r) => r.reason)).toEqual([
      'POLICY_MIN_COVERAGE',
    ]);

    // Still outside: recomputed, but nothing new is announced.
    monitor.onReadings([stake(NOW + 40_000, 3, { lat: 5, lon: 5 })]);
    await monitor.settled();
    expect(await state.outbox.after(0)).toHaveLength(2);
    // A reading older than the last applied does not bring the lot back.
    monitor.onReadings([stake(NOW + 20_000, 4)]);
    await monitor.settled();
    expect((await state.credit.getExposures(['b1'])).get('b1')?.verifiedCoverage).toBe(0);
    await monitor.close();
    await telemetry.close();
  });
  it('when the world is registered after the monitor started on an empty registry, then reload() counts its lots at the value their stakes last reported', async () => {
    const state = await backend.open();
    const telemetry = openSqliteTelemetryStore(join(mkdtempSync(join(tmpdir(), 'rf-credit-')), 't.db'));
    const monitor = monitorOn(state, telemetry, () => NOW);
    await monitor.start();
    expect((await state.credit.getExposures(['b1'])).get('b1')).toBeUndefined();
    await world(state);
    await telemetry.writeReadings([stake(NOW - HOUR, 1)]);
    await monitor.reload();
    const figures = (await state.credit.getExposures(['b1'])).get('b1');
    expect(figures?.claimedCoverage).toBeCloseTo(100_000 / 60_000);
    expect(figures?.verifiedCoverage).toBeCloseTo(100_000 / 60_000);
    await monitor.stop();
    await telemetry.close();
  });
});
