import { Type, type Static, type TObject, type TSchema } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { RiskfuseError } from '../core/errors.js';
import { ALERT_SEVERITIES, type AlertSeverity } from '../core/state/index.js';
import * as activityDecline from './rules/activity-decline.js';
import * as anomaly from './rules/anomaly.js';
import * as batteryLow from './rules/battery-low.js';
import * as deviceOffline from './rules/device-offline.js';
import * as geofence from './rules/geofence.js';
import * as gpsFrozen from './rules/gps-frozen.js';
import * as inspectionOffsite from './rules/inspection-offsite.js';
import * as ndviDrought from './rules/ndvi-drought.js';
import * as satelliteAnomaly from './rules/satellite-anomaly.js';
import * as scoreRules from './rules/score-rules.js';
import * as tamper from './rules/tamper.js';
import * as weightDrop from './rules/weight-drop.js';

/**
 * The built-in rules' settings: their parameters (each rule's file under rules/ declares them, with units and
 * defaults) and the settings document that configures
 * them — from the file named by ALERT_RULES_FILE and over the API, validated with TypeBox. A document that
 * fails is refused whole with every problem named by rule and field; nothing of it is applied.
 */
export const RULE_PARAMS = {
  'weight-drop': weightDrop.params,
  geofence: geofence.params,
  'gps-frozen': gpsFrozen.params,
  tamper: tamper.params,
  'device-offline': deviceOffline.params,
  'battery-low': batteryLow.params,
  'inspection-offsite': inspectionOffsite.params,
  'satellite-anomaly': satelliteAnomaly.params,
  'ndvi-drought': ndviDrought.params,
  'activity-decline': activityDecline.params,
  'pd-threshold': scoreRules.pdThresholdParams,
  'grade-downgrade': scoreRules.gradeDowngradeParams,
  anomaly: anomaly.params,
} as const satisfies Record<string, TObject>;

export type RuleId = keyof typeof RULE_PARAMS;
export const RULE_IDS = Object.keys(RULE_PARAMS) as RuleId[];
export type RuleParams<R extends RuleId> = Static<(typeof RULE_PARAMS)[R]>;

export const RULE_DOCS: Record<RuleId, { description: string; severity: AlertSeverity; subject: string }> = {
  'weight-drop': weightDrop.doc,
  geofence: geofence.doc,
  'gps-frozen': gpsFrozen.doc,
  tamper: tamper.doc,
  'device-offline': deviceOffline.doc,
  'battery-low': batteryLow.doc,
  'inspection-offsite': inspectionOffsite.doc,
  'satellite-anomaly': satelliteAnomaly.doc,
  'ndvi-drought': ndviDrought.doc,
  'activity-decline': activityDecline.doc,
  'pd-threshold': scoreRules.pdThresholdDoc,
  'grade-downgrade': scoreRules.gradeDowngradeDoc,
  anomaly: anomaly.doc,
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
