import { RiskfuseError } from '../core/errors.js';

/**
 * Scenarios: faults and frauds injected into the simulated world at a chosen day, each visible in the
 * readings (see test/scenarios.test.ts). Syntax on the command line: `kind:target[:startDay[:durationDays]]`,
 * e.g. `removal:b0003:10`. `startDay` counts days from the world's start (fractions allowed); the duration
 * defaults per kind (below).
 */
export const SCENARIO_KINDS = [
  'removal',
  'moved',
  'tamper',
  'spoof',
  'outage',
  'inspection-offsite',
  'drought',
  'decline',
] as const;
export type ScenarioKind = (typeof SCENARIO_KINDS)[number];

export interface ScenarioSpec {
  readonly kind: ScenarioKind;
  /** A borrower (`b0003`), lot (`b0003-l1`), site (`b0003-s1`), device id, or for drought a region code (`SK-SAS`). */
  readonly target: string;
  /** Days after the world's start; default 3. */
  readonly startDay: number;
  /** Default per kind: DEFAULT_DURATION_DAYS. */
  readonly durationDays?: number;
}

export const SCENARIO_DOCS: { readonly [K in ScenarioKind]: string } = {
  removal:
    'silent collateral removal: most of a lot trucked out at night, never restocked (lot, stake or borrower = all its lots)',
  moved: 'collateral driven out of its geofence and kept elsewhere (lot, stake or borrower = its first lot)',
  tamper:
    'stake enclosure opened: tamper switch open in episodes, some goods pilfered (lot, stake or borrower = its first lot)',
  spoof:
    'GPS spoofing: the lot is driven away but the stake reports a frozen in-fence fix (lot, stake or borrower = its first lot)',
  outage: 'devices stop reporting (device, site = all its devices, borrower = all its devices)',
  'inspection-offsite':
    "an inspection logged by the inspector's helmet 15–40 km from the site (borrower or inspector helmet)",
  drought:
    'regional drought: NDVI depressed over the growing season, farm incomes hit (region code or borrower = its region)',
  decline: "business decline: the borrower's latent health drifts down and stays down (borrower)",
};

/** Days; `Infinity` means until the end of the simulation. */
export const DEFAULT_DURATION_DAYS: { readonly [K in ScenarioKind]: number } = {
  removal: 60,
  moved: 14,
  tamper: 2,
  spoof: 21,
  outage: 3,
  'inspection-offsite': 1,
  drought: 120,
  decline: Number.POSITIVE_INFINITY,
};

export const DEFAULT_START_DAY = 3;

const isKind = (s: string): s is ScenarioKind => (SCENARIO_KINDS as readonly string[]).includes(s);

/** Parses `kind:target[:startDay[:durationDays]]`; throws VALIDATION_FAILED with a readable message. */
export function parseScenario(text: string): ScenarioSpec {
  const parts = text.split(':');
  const [kind = '', target = '', start, duration] = parts;
  const fail = (why: string): never => {
    throw new RiskfuseError('VALIDATION_FAILED', `invalid scenario ${JSON.stringify(text)}: ${why}`);
  };
  if (parts.length < 2 || parts.length > 4) fail('expected kind:target[:startDay[:durationDays]]');
  if (!isKind(kind)) fail(`unknown kind ${JSON.stringify(kind)} (one of ${SCENARIO_KINDS.join(', ')})`);
  if (target === '') fail('missing target');
  const startDay = start === undefined || start === '' ? DEFAULT_START_DAY : Number(start);
  if (!Number.isFinite(startDay) || startDay < 0)
    fail(`startDay must be a number ≥ 0, got ${JSON.stringify(start)}`);
  const spec: ScenarioSpec = { kind: kind as ScenarioKind, target, startDay };
  if (duration === undefined || duration === '') return spec;
  const durationDays = Number(duration);
  if (!Number.isFinite(durationDays) || durationDays <= 0) {
    fail(`durationDays must be a number > 0, got ${JSON.stringify(duration)}`);
  }
  return { ...spec, durationDays };
}

export function formatScenario(s: ScenarioSpec): string {
  return `${s.kind}:${s.target}:${s.startDay}${s.durationDays === undefined ? '' : `:${s.durationDays}`}`;
}
