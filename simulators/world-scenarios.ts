import { RiskfuseError } from '../core/errors.js';
import type { Borrower, CollateralLot, Device, Site } from '../core/state/index.js';
import { DAY_MS } from './calendar.js';
import { REGIONS } from './catalog.js';
import { DEFAULT_DURATION_DAYS, type ScenarioSpec } from './scenarios.js';
import type { BorrowerProfile, DeviceProfile, LotProfile, ResolvedScenario } from './world-types.js';

/**
 * A scenario's target resolved against a generated world: its start and end instants and the borrowers, lots,
 * devices and regions it acts on (see scenarios.ts for the targets each kind accepts). Pinned by
 * test/scenarios.test.ts.
 */
export function resolveScenario(
  spec: ScenarioSpec,
  worldStartMs: number,
  w: {
    borrowers: readonly Borrower[];
    sites: readonly Site[];
    lots: readonly CollateralLot[];
    devices: readonly Device[];
    bProfiles: readonly BorrowerProfile[];
    lProfiles: readonly LotProfile[];
    dProfiles: readonly DeviceProfile[];
  },
): ResolvedScenario {
  const startMs = worldStartMs + Math.round(spec.startDay * DAY_MS);
  const duration = spec.durationDays ?? DEFAULT_DURATION_DAYS[spec.kind];
  const endMs = Number.isFinite(duration)
    ? startMs + Math.round(duration * DAY_MS)
    : Number.POSITIVE_INFINITY;
  const t = spec.target;
  const bIndex = w.borrowers.findIndex((b) => b.id === t);
  const lIndex = w.lots.findIndex((l) => l.id === t);
  const sIndex = w.sites.findIndex((s) => s.id === t);
  const dIndex = w.devices.findIndex((d) => d.id === t);
  const rIndex = REGIONS.findIndex((r) => r.code === t);
  const unknown = (what: string): never => {
    throw new RiskfuseError(
      'VALIDATION_FAILED',
      `scenario ${spec.kind}: target ${JSON.stringify(t)} is not ${what} in this world`,
    );
  };
  const out = {
    spec,
    kind: spec.kind,
    startMs,
    endMs,
    borrowerIndexes: [] as number[],
    lotIndexes: [] as number[],
    deviceIndexes: [] as number[],
    regionIndexes: [] as number[],
  };
  const lotsOf = (bi: number): readonly number[] => (w.bProfiles[bi] as BorrowerProfile).lotIndexes;
  switch (spec.kind) {
    case 'removal':
    case 'moved':
    case 'tamper':
    case 'spoof': {
      const stakeLot = dIndex >= 0 ? (w.dProfiles[dIndex] as DeviceProfile).lotIndex : -1;
      const lotIdx = lIndex >= 0 ? [lIndex] : stakeLot >= 0 ? [stakeLot] : [];
      if (lotIdx.length === 0 && bIndex >= 0) {
        const all = lotsOf(bIndex);
        lotIdx.push(...(spec.kind === 'removal' ? all : all.slice(0, 1)));
      }
      if (lotIdx.length === 0) unknown('a borrower, lot or stake');
      out.lotIndexes = lotIdx;
      out.borrowerIndexes = [...new Set(lotIdx.map((li) => (w.lProfiles[li] as LotProfile).borrowerIndex))];
      out.deviceIndexes = w.dProfiles.filter((d) => lotIdx.includes(d.lotIndex)).map((d) => d.index);
      break;
    }
    case 'outage': {
      if (dIndex >= 0) out.deviceIndexes = [dIndex];
      else if (sIndex >= 0)
        out.deviceIndexes = w.dProfiles.filter((d) => d.siteIndex === sIndex).map((d) => d.index);
      else if (bIndex >= 0) out.deviceIndexes = [...(w.bProfiles[bIndex] as BorrowerProfile).deviceIndexes];
      else unknown('a device, site or borrower');
      out.borrowerIndexes = [
        ...new Set(out.deviceIndexes.map((di) => (w.dProfiles[di] as DeviceProfile).borrowerIndex)),
      ];
      break;
    }
    case 'inspection-offsite': {
      const inspector =
        dIndex >= 0 && (w.dProfiles[dIndex] as DeviceProfile).role === 'inspector'
          ? dIndex
          : bIndex >= 0
            ? w.dProfiles.findIndex((d) => d.borrowerIndex === bIndex && d.role === 'inspector')
            : -1;
      if (inspector < 0) unknown("a borrower or an inspector's helmet");
      out.deviceIndexes = [inspector];
      out.borrowerIndexes = [(w.dProfiles[inspector] as DeviceProfile).borrowerIndex];
      break;
    }
    case 'drought': {
      if (rIndex >= 0) out.regionIndexes = [rIndex];
      else if (bIndex >= 0) out.regionIndexes = [(w.bProfiles[bIndex] as BorrowerProfile).regionIndex];
      else unknown(`a region code (${REGIONS.map((r) => r.code).join(', ')}) or a borrower`);
      out.borrowerIndexes = w.bProfiles
        .filter((b) => out.regionIndexes.includes(b.regionIndex))
        .map((b) => b.index);
      break;
    }
    case 'decline': {
      if (bIndex < 0) unknown('a borrower');
      out.borrowerIndexes = [bIndex];
      break;
    }
  }
  return out;
}
