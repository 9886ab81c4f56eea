import { Type, type Static, type TObject, type TSchema } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { RiskfuseError } from '../core/errors.js';
import { ALERT_SEVERITIES, type AlertSeverity } from '../core/state/index.js';

/**
 * The built-in rules, their parameters (with units and defaults) and the settings document that configures
 * them — from the file named by ALERT_RULES_FILE and over the API, validated with TypeBox. A document that
 * fails is refused whole with every problem named by rule and field; nothing of it is applied.
 */
const Pct = (description: string, d: number) =>
  Type.Number({ minimum: 0, maximum: 100, default: d, description });
const Count = (description: string, d: number) =>
  Type.Integer({ minimum: 1, maximum: 10_000, default: d, description });
const Ms = (description: string, d: number) =>
  Type.Integer({ minimum: 0, maximum: 366 * 86_400_000, default: d, description: `${description}, ms` });

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

const SeriesRef = Type.Object(
  {
    kind: Type.Union([Type.Literal('stake'), Type.Literal('helmet'), Type.Literal('satellite')]),
    field: Type.String({ minLength: 1, maxLength: 64, description: 'a numeric reading field' }),
  },
  { additionalProperties: false },
);

/** Streaming detector parameters, shared by the anomaly rules. */
const detectorParams = {
  zThreshold: Type.Number({ minimum: 1, maximum: 100, default: 5, description: 'robust z-score to flag' }),
  persistReadings: Count('consecutive flagged readings to open', 2),
  clearReadings: Count('consecutive normal readings to clear', 6),
  seasonPeriodMs: Ms('seasonal period (0 = none)', DAY),
  seasonBins: Count('bins of the seasonal profile', 24),
  warmupReadings: Count('readings before the detector may flag', 48),
  halfLifeReadings: Count('half-life of the level and scale, readings', 200),
};

export const RULE_PARAMS = {
  'weight-drop': Type.Object(
    {
      dropPct: Pct('drop below the window baseline, % of max(pledged weight, baseline)', 35),
      windowMs: Ms('baseline window', 3 * DAY),
      medianOfReadings: Count('readings in the rolling median (persistence)', 5),
      restorePct: Pct('clears when the weight is back within this % of the pre-drop level', 15),
    },
    { additionalProperties: false },
  ),
  geofence: Type.Object(
    {
      outsideToOpen: Count('consecutive readings outside the site polygon to open', 3),
      insideToClear: Count('consecutive readings inside to clear', 3),
      maxAccuracyM: Type.Number({
        minimum: 1,
        maximum: 100_000,
        default: 200,
        description: 'fixes less accurate than this are ignored, m',
      }),
    },
    { additionalProperties: false },
  ),
  tamper: Type.Object(
    { closedToClear: Count('consecutive readings with the seal closed to clear', 4) },
    { additionalProperties: false },
  ),
  'device-offline': Type.Object(
    {
      silenceStakeMs: Ms('a stake silent this long is offline (0 = only presence)', 2 * HOUR),
      silenceHelmetMs: Ms('a helmet silent this long is offline (0 = only presence)', 0),
      silenceSatelliteMs: Ms('a satellite feed silent this long is offline (0 = only presence)', 0),
    },
    { additionalProperties: false },
  ),
  'battery-low': Type.Object(
    {
      belowPct: Pct('opens when the battery is below', 15),
      clearAbovePct: Pct('clears when it is back above', 25),
    },
    { additionalProperties: false },
  ),
  'inspection-offsite': Type.Object(
    {
      outsideToOpen: Count('consecutive inspection fixes outside the site polygon to open', 3),
      insideToClear: Count('consecutive inspection fixes inside to clear', 3),
      toleranceM: Type.Number({
        minimum: 0,
        maximum: 100_000,
        default: 250,
        description: 'fixes this close to the site centre count as on site, m',
      }),
    },
    { additionalProperties: false },
  ),
  'satellite-anomaly': Type.Object(
    {
      ...detectorParams,
      zThreshold: Type.Number({
        minimum: 1,
        maximum: 100,
        default: 3.5,
        description: 'robust z-score to flag',
      }),
      seasonPeriodMs: Ms('seasonal period (0 = none)', 365 * DAY),
      seasonBins: Count('bins of the seasonal profile', 52),
      warmupReadings: Count('readings before the detector may flag', 20),
      halfLifeReadings: Count('half-life of the level and scale, readings', 30),
      persistReadings: Count('consecutive flagged readings to open', 3),
      clearReadings: Count('consecutive normal readings to clear', 3),
      maxCloudPct: Pct('scenes cloudier than this are ignored', 40),
      direction: Type.Union([Type.Literal('low'), Type.Literal('both')], {
        default: 'low',
        description: 'low = only drops are anomalies',
      }),
    },
    { additionalProperties: false },
  ),
  'pd-threshold': Type.Object(
    {
      pdAbove: Type.Number({
        minimum: 0,
        maximum: 1,
        default: 0.2,
        description: 'opens when the PD crosses above',
      }),
      clearBelow: Type.Number({
        minimum: 0,
        maximum: 1,
        default: 0.15,
        description: 'clears when it falls below',
      }),
    },
    { additionalProperties: false },
  ),
  'grade-downgrade': Type.Object(
    { minSteps: Count('grade steps down (A→C = 2) to open', 1) },
    { additionalProperties: false },
  ),
  anomaly: Type.Object(
    {
      ...detectorParams,
      series: Type.Array(SeriesRef, {
        maxItems: 50,
        default: [{ kind: 'stake', field: 'temperatureC' }],
        description: 'numeric series watched, per device',
      }),
    },
    { additionalProperties: false },
  ),
} as const satisfies Record<string, TObject>;

export type RuleId = keyof typeof RULE_PARAMS;
export const RULE_IDS = Object.keys(RULE_PARAMS) as RuleId[];
export type RuleParams<R extends RuleId> = Static<(typeof RULE_PARAMS)[R]>;

export const RULE_DOCS: Record<RuleId, { description: string; severity: AlertSeverity; subject: string }> = {
  'weight-drop': {
    description:
      'collateral weight falls beyond dropPct within windowMs, against a rolling baseline, on a rolling median (restocks and daily sales are not drops)',
    severity: 'critical',
    subject: 'lot',
  },
  geofence: {
    description:
      'the stake reports positions outside its site polygon (hysteresis: N out to open, M in to clear)',
    severity: 'critical',
    subject: 'lot',
  },
  tamper: {
    description: 'the stake enclosure/seal switch reads open',
    severity: 'critical',
    subject: 'device',
  },
  'device-offline': {
    description:
      'the device went offline (last will / retained status) or sent nothing for the silence period',
    severity: 'warning',
    subject: 'device',
  },
  'battery-low': { description: 'battery below belowPct', severity: 'info', subject: 'device' },
  'inspection-offsite': {
    description: "an inspector's helmet (hlm-…-insp) reports inspection fixes outside the site",
    severity: 'critical',
    subject: 'device',
  },
  'satellite-anomaly': {
    description: "NDVI or activity index far below the series' seasonal baseline (cloudy scenes ignored)",
    severity: 'warning',
    subject: 'device',
  },
  'pd-threshold': {
    description: 'the official PD crosses above pdAbove',
    severity: 'warning',
    subject: 'borrower',
  },
  'grade-downgrade': {
    description: 'the official grade moves down by minSteps or more',
    severity: 'warning',
    subject: 'borrower',
  },
  anomaly: {
    description: 'streaming robust (median/MAD-like), seasonal anomaly detector on any numeric series',
    severity: 'info',
    subject: 'device',
  },
};

const Severity = Type.Union(ALERT_SEVERITIES.map((s) => Type.Literal(s)));
const BORROWER_KEY = '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$';

/** One rule's settings as written (file or API): everything optional, defaults fill in. */
export function ruleSettingsSchema(id: RuleId): TObject {
  const params = Type.Partial(RULE_PARAMS[id], { additionalProperties: false });
  const override = Type.Object(
    {
      enabled: Type.Optional(Type.Boolean()),
      severity: Type.Optional(Severity),
      params: Type.Optional(params),
    },
    { additionalProperties: false },
  );
  return Type.Object(
    {
      enabled: Type.Optional(Type.Boolean({ description: 'default true' })),
      severity: Type.Optional(Severity),
      autoResolve: Type.Optional(
        Type.Boolean({ description: 'resolve when the condition clears; default true' }),
      ),
      params: Type.Optional(params),
      overrides: Type.Optional(
        Type.Record(Type.String({ pattern: BORROWER_KEY }), override, {
          description: 'per borrower id: enabled, severity, params',
          maxProperties: 100_000,
        }),
      ),
    },
    { additionalProperties: false },
  );
}

export interface RuleOverride {
  readonly enabled?: boolean;
  readonly severity?: AlertSeverity;
  readonly params?: Readonly<Record<string, unknown>>;
}

export interface RuleSettings {
  readonly enabled?: boolean;
  readonly severity?: AlertSeverity;
  readonly autoResolve?: boolean;
  readonly params?: Readonly<Record<string, unknown>>;
  readonly overrides?: Readonly<Record<string, RuleOverride>>;
}

export type RulesDocument = { readonly rules: Partial<Record<RuleId, RuleSettings>> };

const compiled = new Map<RuleId, ReturnType<typeof TypeCompiler.Compile<TSchema>>>();
const checkerOf = (id: RuleId) => {
  let c = compiled.get(id);
  if (c === undefined) {
    c = TypeCompiler.Compile(ruleSettingsSchema(id));
    compiled.set(id, c);
  }
  return c;
};

export const isRuleId = (s: string): s is RuleId => Object.hasOwn(RULE_PARAMS, s);

/** Problems of one rule's settings, each naming the rule and field (empty when valid). */
export function ruleSettingsProblems(id: string, value: unknown): string[] {
  if (!isRuleId(id)) return [`rule ${JSON.stringify(id)}: unknown rule (one of ${RULE_IDS.join(', ')})`];
  const check = checkerOf(id);
  const problems = check.Check(value)
    ? []
    : [...check.Errors(value)].slice(0, 20).map((e) => {
        const field = e.path.replace(/^\//, '').replaceAll('/', '.') || '(settings)';
        return `rule ${id}: ${field} ${e.message.toLowerCase()}${e.value === undefined ? '' : ` (got ${JSON.stringify(e.value)})`}`;
      });
  if (problems.length === 0) {
    const s = value as RuleSettings;
    if (id === 'battery-low') {
      const p = resolveParams('battery-low', s.params);
      if (p.clearAbovePct < p.belowPct)
        problems.push(`rule battery-low: params.clearAbovePct must be ≥ params.belowPct`);
    }
    if (id === 'pd-threshold') {
      const p = resolveParams('pd-threshold', s.params);
      if (p.clearBelow > p.pdAbove)
        problems.push(`rule pd-threshold: params.clearBelow must be ≤ params.pdAbove`);
    }
  }
  return problems;
}

/** Validates a whole rules document (`{"rules": {id: settings}}`); throws CONFIG_INVALID listing every problem. */
export function parseRulesDocument(value: unknown, source: string): RulesDocument {
  const problems: string[] = [];
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    problems.push('expected an object {"rules": {"<rule id>": {…}}}');
  } else {
    for (const k of Object.keys(value))
      if (k !== 'rules') problems.push(`unknown top-level field ${JSON.stringify(k)}`);
    const rules = (value as { rules?: unknown }).rules;
    if (rules !== undefined) {
      if (typeof rules !== 'object' || rules === null || Array.isArray(rules))
        problems.push('rules must be an object');
      else for (const [id, s] of Object.entries(rules)) problems.push(...ruleSettingsProblems(id, s));
    }
  }
  if (problems.length > 0) {
    throw new RiskfuseError(
      'CONFIG_INVALID',
      `invalid alert rules in ${source}:\n  - ${problems.join('\n  - ')}`,
      {
        details: problems,
      },
    );
  }
  const rules = (value as { rules?: Record<string, RuleSettings> }).rules ?? {};
  return { rules: rules };
}

/** Defaults of a rule's parameters, overlaid by the given partial ones. */
export function resolveParams<R extends RuleId>(
  id: R,
  ...layers: (Readonly<Record<string, unknown>> | undefined)[]
): RuleParams<R> {
  const out: Record<string, unknown> = {};
  for (const [k, s] of Object.entries(RULE_PARAMS[id].properties))
    out[k] = (s as { default?: unknown }).default;
  for (const layer of layers) if (layer !== undefined) Object.assign(out, layer);
  return out as RuleParams<R>;
}

/** A rule as configured: its settings, with the parameters and overrides resolved per borrower on demand. */
export class EffectiveRule<R extends RuleId = RuleId> {
  readonly enabled: boolean;
  readonly severity: AlertSeverity;
  readonly autoResolve: boolean;
  readonly params: RuleParams<R>;
  private readonly perBorrower = new Map<
    string,
    { enabled: boolean; severity: AlertSeverity; params: RuleParams<R> }
  >();

  constructor(
    readonly id: R,
    readonly settings: RuleSettings,
  ) {
    this.enabled = settings.enabled ?? true;
    this.severity = settings.severity ?? RULE_DOCS[id].severity;
    this.autoResolve = settings.autoResolve ?? true;
    this.params = resolveParams(id, settings.params);
    for (const [b, o] of Object.entries(settings.overrides ?? {})) {
      this.perBorrower.set(b, {
        enabled: o.enabled ?? this.enabled,
        severity: o.severity ?? this.severity,
        params: resolveParams(id, settings.params, o.params),
      });
    }
  }

  for(borrowerId: string | undefined): { enabled: boolean; severity: AlertSeverity; params: RuleParams<R> } {
    return (borrowerId === undefined ? undefined : this.perBorrower.get(borrowerId)) ?? this;
  }
}

export type RuleSet = { readonly [R in RuleId]: EffectiveRule<R> };

/** Rules from layered documents (file, then API-saved settings per rule; a later layer replaces a rule's settings). */
export function buildRuleSet(...layers: RulesDocument[]): RuleSet {
  const out: Record<string, EffectiveRule> = {};
  for (const id of RULE_IDS) {
    let settings: RuleSettings = {};
    for (const l of layers) settings = l.rules[id] ?? settings;
    out[id] = new EffectiveRule(id, settings);
  }
  return out as unknown as RuleSet;
}
