import type { AlertService } from '../alert-service.js';

/**
 * The model-drift alert (rule id `model-drift`, subject kind `model`, subject id the model version): raised
 * through the alert service when the daily model monitoring (risk/monitoring/monitor.ts) finds the population
 * the champion now scores has moved from its training reference — the population stability index of the score
 * or of any input in the moderate band (0.1–0.25: `warning`) or the major band (> 0.25: `critical`; Siddiqi,
 * "Credit Risk Scorecards", 2006, ch. 8). Resolved as `system` when a later day is stable again. Like the
 * policy-breach alert (alerts/policy-breach.ts) it is not one of the rule engine's rules over readings: its
 * condition is computed elsewhere and arrives as a structural type (alerts/ does not import risk/).
 *
 * One alert per model version: a move from warning to critical resolves the warning and opens a critical one
 * (the alert's severity is what routes it, and an open warning must not hide a major shift); a move back down
 * keeps the critical one open until the day is stable. Pinned by risk/test/model-monitor.test.ts.
 */
export const MODEL_DRIFT_RULE = 'model-drift';

export interface ModelDriftInput {
  readonly modelVersion: string;
  readonly modelName: string;
  readonly at: number;
  readonly band: 'stable' | 'moderate' | 'major';
  readonly scorePsi: number;
  readonly worstInput?: string;
  readonly worstPsi?: number;
  /** Inputs (and `score`) not stable, most shifted first, with their PSI. */
  readonly shifted: readonly { readonly name: string; readonly psi: number }[];
  readonly referenceSource: 'training' | 'first-scored';
  readonly population: number;
}

export interface ModelDriftAlerts {
  onDrift(d: ModelDriftInput): Promise<void>;
  onStable(d: ModelDriftInput): Promise<void>;
}

export function modelDriftAlerts(service: AlertService): ModelDriftAlerts {
  const evidence = (d: ModelDriftInput): Record<string, unknown> => ({
    modelVersion: d.modelVersion,
    modelName: d.modelName,
    band: d.band,
    scorePsi: d.scorePsi,
    worstInput: d.worstInput ?? null,
    worstPsi: d.worstPsi ?? null,
    shifted: d.shifted.map((s) => ({ ...s })),
    referenceSource: d.referenceSource,
    population: d.population,
  });
  return {
    async onDrift(d) {
      if (d.band === 'stable') return;
      const severity = d.band === 'major' ? 'critical' : 'warning';
      const active = await service.store.findActive(MODEL_DRIFT_RULE, 'model', d.modelVersion);
      if (active !== undefined) {
        if (active.severity === 'critical' || severity === 'warning') return;
        await service.clear(MODEL_DRIFT_RULE, 'model', d.modelVersion, d.at, {
          ...evidence(d),
          escalated: true,
        });
      }
      const top = d.shifted
        .slice(0, 3)
        .map((s) => `${s.name} ${s.psi.toFixed(2)}`)
        .join(', ');
      await service.open({
        ruleId: MODEL_DRIFT_RULE,
        severity,
        subjectKind: 'model',
        subjectId: d.modelVersion,
        title: `Model ${d.modelVersion} (${d.modelName}): ${d.band === 'major' ? 'major' : 'moderate'} population shift — PSI ${top}`,
        evidence: evidence(d),
        at: d.at,
      });
    },
    async onStable(d) {
      await service.clear(MODEL_DRIFT_RULE, 'model', d.modelVersion, d.at, evidence(d));
    },
  };
}
