import { DAY_MS, localDay } from './calendar.js';
import { REGIONS } from './catalog.js';
import { Rng } from './random.js';
import { FRAUD_CREDIT_EFFECTS, isFraudKind, WORLD_RECOVERY, type FraudKind } from './fraud-credit.js';
import { HealthModel } from './health.js';
import { LoanBook } from './loan-book.js';
import { LotModel } from './lots.js';
import { scenarioEffects, type ScenarioEffects } from './scenario-effects.js';
import { SCENARIO_KINDS, type ScenarioKind, type ScenarioSpec } from './scenarios.js';
import { naturalOutages } from './signals/common.js';
import type { World } from './world.js';

/**
 * What really happened in a simulated world, for measuring alerts against (`npm run eval:alerts`): one true
 * event per injected scenario, plus the unplanned outages of stakes the world draws by itself (a flat pack, a
 * dead gateway: real, if not fraud). Each event names its borrowers and subjects (lot, device ids) and three
 * instants: `startMs` (the scenario begins), `onsetMs` (its first effect a device could see: the first truck
 * load, the departure, the first tamper episode, the off-site fix) and `endMs`.
 */
export interface TrueEvent {
  readonly id: string;
  /** A scenario kind, or `natural-outage`. */
  readonly kind: ScenarioKind | 'natural-outage';
  /** Injected by a scenario (vs drawn by the world itself). */
  readonly scenario: boolean;
  /** Collateral fraud: removal, moved, spoof, tamper. */
  readonly fraud: boolean;
  readonly borrowerIds: readonly string[];
  /** Lot and device ids the event is about; empty for borrower-wide events (decline). */
  readonly subjectIds: readonly string[];
  readonly startMs: number;
  readonly onsetMs: number;
  readonly endMs: number;
}

export const FRAUD_KINDS: readonly ScenarioKind[] = ['removal', 'moved', 'spoof', 'tamper'];

/**
 * Scenarios of every kind at random times and targets (seeded): `perKind` of each borrower-level kind on
 * distinct borrowers (so that an alert is attributable to one event), one regional drought. Collateral and
 * device scenarios start in [firstDay, lastDay]; declines and droughts start early enough to develop (a
 * satellite baseline needs ~3 weeks of scenes first, a decline ramps over a month).
 */
export function randomScenarios(
  world: World,
  opts: { seed: number; perKind: number; days: number; firstDay?: number },
): ScenarioSpec[] {
  const rng = new Rng(opts.seed ^ 0x5eed);
  const firstDay = opts.firstDay ?? 5;
  const lastDay = Math.max(firstDay, opts.days - 5);
  const pool = world.borrowers.map((b) => b.id);
  for (let i = pool.length - 1; i > 0; i--) {
    const j = rng.int(0, i);
    [pool[i], pool[j]] = [pool[j] as string, pool[i] as string];
  }
  const out: ScenarioSpec[] = [];
  const take = (): string => {
    const b = pool.pop();
    if (b === undefined) throw new RangeError('not enough borrowers for the scenarios asked for');
    return b;
  };
  const round1 = (x: number): number => Math.round(x * 10) / 10;
  for (const kind of SCENARIO_KINDS) {
    if (kind === 'drought') continue;
    const n = kind === 'decline' ? Math.max(1, Math.round(opts.perKind / 2)) : opts.perKind;
    for (let k = 0; k < n; k++) {
      const startDay =
        kind === 'decline'
          ? rng.range(firstDay + 5, Math.max(firstDay + 6, opts.days / 2))
          : rng.range(firstDay, lastDay);
      out.push({ kind, target: take(), startDay: round1(startDay) });
    }
  }
  // The drought: a region with farms in it, over the rest of the run.
  const farmRegions = [
    ...new Set(world.profiles.borrowers.filter((b) => b.sector === 'agriculture').map((b) => b.regionIndex)),
  ];
  const region = REGIONS[farmRegions[rng.int(0, farmRegions.length - 1)] ?? 0];
  if (region !== undefined) {
    out.push({
      kind: 'drought',
      target: region.code,
      startDay: round1(rng.range(firstDay + 10, opts.days / 2)),
    });
  }
  return out;
}

/** The true events of a world whose scenario effects are `effects`, over [world start, toMs). */
export function groundTruth(world: World, effects: ScenarioEffects, toMs: number): TrueEvent[] {
  const events: TrueEvent[] = [];
  const p = world.profiles;
  const lotIds = (lis: readonly number[]) => lis.map((li) => p.lots[li]?.lot.id ?? '');
  const deviceIds = (dis: readonly number[]) => dis.map((di) => world.devices[di]?.id ?? '');
  world.scenarios.forEach((s, si) => {
    const borrowerIds = s.borrowerIndexes.map((bi) => world.borrowers[bi]?.id ?? '');
    let onsetMs = s.startMs;
    let endMs = Math.min(s.endMs, toMs);
    let subjectIds: string[] = [...lotIds(s.lotIndexes), ...deviceIds(s.deviceIndexes)];
    let borrowers = borrowerIds;
    switch (s.kind) {
      case 'removal':
        onsetMs = Math.min(
          ...s.lotIndexes.map((li) => effects.removalByLot.get(li)?.loads[0]?.atMs ?? Infinity),
        );
        break;
      case 'moved':
      case 'spoof': {
        const rel = s.lotIndexes.map((li) => effects.relocationByLot.get(li));
        onsetMs = Math.min(...rel.map((r) => r?.departMs ?? Infinity));
        // The lot is gone until it is back: the drive home ends a road track after it starts.
        endMs = Math.min(toMs, Math.max(...rel.map((r) => r?.returnMs ?? 0)) + 2 * 3_600_000);
        break;
      }
      case 'tamper':
        onsetMs = Math.min(...s.lotIndexes.map((li) => effects.tamperByLot.get(li)?.[0]?.fromMs ?? Infinity));
        break;
      case 'inspection-offsite': {
        const o = s.deviceIndexes.flatMap((di) => effects.offsiteInspectionByDevice.get(di) ?? []);
        onsetMs = Math.min(...o.map((x) => x.startMs));
        endMs = Math.max(...o.map((x) => x.startMs + x.durationMs));
        break;
      }
      case 'drought': {
        // Visible in the NDVI feeds of the region's farms' parcels.
        const farms = p.borrowers.filter(
          (b) => s.regionIndexes.includes(b.regionIndex) && b.sector === 'agriculture',
        );
        borrowers = farms.map((b) => b.id);
        subjectIds = farms.flatMap((b) =>
          b.deviceIndexes
            .filter((di) => p.devices[di]?.product === 'ndvi')
            .map((di) => world.devices[di]?.id ?? ''),
        );
        break;
      }
      case 'decline':
        subjectIds = [];
        break;
      case 'outage':
        break;
    }
    if (!Number.isFinite(onsetMs) || onsetMs >= toMs) return;
    events.push({
      id: `sc${si + 1}:${s.kind}:${s.spec.target}`,
      kind: s.kind,
      scenario: true,
      fraud: FRAUD_KINDS.includes(s.kind),
      borrowerIds: borrowers,
      subjectIds,
      startMs: s.startMs,
      onsetMs,
      endMs: Math.max(endMs, onsetMs),
    });
  });
  // The stakes' own outages (signals/stake.ts draws 3 a year, ~5 h median), each reported once.
  for (const d of p.devices) {
    if (d.role !== 'stake') continue;
    const tz = p.borrowers[d.borrowerIndex]?.tzOffsetH ?? 0;
    const seen = new Set<number>();
    for (let day = localDay(world.startMs, tz); day * DAY_MS < toMs + DAY_MS; day++) {
      for (const o of naturalOutages(d.key, day, tz, 3, 5)) {
        if (seen.has(o.fromMs) || o.fromMs >= toMs || o.toMs <= world.startMs) continue;
        seen.add(o.fromMs);
        events.push({
          id: `nat:${d.device.id}:${o.fromMs}`,
          kind: 'natural-outage',
          scenario: false,
          fraud: false,
          borrowerIds: [d.device.borrowerId],
          subjectIds: [d.device.id, ...(d.device.lotId === undefined ? [] : [d.device.lotId])],
          startMs: o.fromMs,
          onsetMs: o.fromMs,
          endMs: Math.min(o.toMs, toMs),
        });
      }
    }
  }
  return events;
}

/**
 * A borrower's default as it really happened in the world, with what the lender lost.
 * - `ead`: what the defaulted loans still had due at the default instant (scheduled instalments less what was
 *   paid by then: the platform's outstanding, core/state/loans/sql-loan-repository.ts).
 * - `collateralValue`: market value of the pledged goods actually at their pledged spot at default (weight up
 *   to the pledge × unit price; a lot driven away and not back counts nothing).
 * - `recovery` = collateralValue × recovery rate × (1 − liquidation cost) × the title recovery of the worst
 *   fraud committed before the default (fraud-credit.ts), at most the EAD; `loss` = ead − recovery.
 */
export interface CreditOutcome {
  readonly borrowerId: string;
  readonly defaultedAt: number;
  readonly currency: string;
  readonly ead: number;
  readonly collateralValue: number;
  readonly recovery: number;
  readonly loss: number;
  /** The borrower's collateral fraud that began before the default (the earliest), if any. */
  readonly fraud?: { readonly kind: FraudKind; readonly onsetMs: number };
}

export interface CreditGroundTruth {
  readonly defaults: readonly CreditOutcome[];
  /** Every collateral fraud that began before `toMs`, by borrower (the earliest), defaulting or not. */
  readonly frauds: ReadonlyMap<string, { readonly kind: FraudKind; readonly onsetMs: number }>;
}

/** The defaults of [world start, toMs), with EAD and realised loss. Pinned by test/credit-outcomes.test.ts. */
export function creditGroundTruth(world: World, toMs: number): CreditGroundTruth {
  const health = new HealthModel(world);
  const effects = scenarioEffects(world);
  const book = new LoanBook(world, health);
  const lots = new LotModel(world, health, effects);
  const snapshot = book.snapshotAt(toMs);
  const frauds = new Map<string, { kind: FraudKind; onsetMs: number }>();
  for (const e of groundTruth(world, effects, toMs)) {
    if (!e.fraud || !isFraudKind(e.kind as FraudKind)) continue;
    for (const b of e.borrowerIds) {
      const seen = frauds.get(b);
      if (seen === undefined || e.onsetMs < seen.onsetMs)
        frauds.set(b, { kind: e.kind as FraudKind, onsetMs: e.onsetMs });
    }
  }
  const dueByLoan = new Map<string, { amountDue: number; amountPaid: number; paidAt?: number }[]>();
  for (const r of snapshot.repayments) {
    const list = dueByLoan.get(r.loanId) ?? [];
    list.push(r);
    dueByLoan.set(r.loanId, list);
  }
  const byBorrower = new Map<string, { at: number; currency: string; ead: number }>();
  for (const l of snapshot.loans) {
    if (l.status !== 'defaulted' || l.defaultedAt === undefined) continue;
    const at = l.defaultedAt;
    let owed = 0;
    for (const r of dueByLoan.get(l.id) ?? [])
      owed += r.amountDue - (r.paidAt !== undefined && r.paidAt <= at ? r.amountPaid : 0);
    const acc = byBorrower.get(l.borrowerId) ?? { at, currency: l.currency, ead: 0 };
    acc.ead += owed;
    byBorrower.set(l.borrowerId, acc);
  }
  const defaults: CreditOutcome[] = [];
  for (const bp of world.profiles.borrowers) {
    const d = byBorrower.get(bp.id);
    if (d === undefined) continue;
    let collateralValue = 0;
    for (const li of bp.lotIndexes) {
      const lp = world.profiles.lots[li];
      if (lp === undefined || lots.positionAt(li, d.at).where !== 'home') continue;
      collateralValue += Math.min(lots.weightAt(li, d.at), lp.lot.pledgedWeightKg) * lp.lot.unitPricePerKg;
    }
    const f = frauds.get(bp.id);
    const fraud = f !== undefined && f.onsetMs < d.at ? f : undefined;
    const title = fraud === undefined ? 1 : FRAUD_CREDIT_EFFECTS[fraud.kind].titleRecovery;
    const recovery = Math.min(
      d.ead,
      collateralValue * WORLD_RECOVERY.recoveryRate * (1 - WORLD_RECOVERY.liquidationCost) * title,
    );
    defaults.push({
      borrowerId: bp.id,
      defaultedAt: d.at,
      currency: d.currency,
      ead: d.ead,
      collateralValue,
      recovery,
      loss: d.ead - recovery,
      ...(fraud === undefined ? {} : { fraud }),
    });
  }
  return { defaults, frauds };
}
