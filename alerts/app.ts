import { CaseService } from './cases.js';
import { errorMessage, RiskfuseError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { MetricSample, MetricsSource } from '../core/metrics.js';
import type { AlertSeverity, State } from '../core/state/index.js';
import { AlertService } from './alert-service.js';
import { loadRulesFile, type AlertsConfig } from './config.js';
import { AlertEngine } from './engine.js';
import { SuppressionGate, SuppressionService } from './suppressions.js';
import {
  buildRuleSet,
  isRuleId,
  RULE_DOCS,
  RULE_IDS,
  ruleSettingsProblems,
  type RuleId,
  type RuleOverride,
  type RuleSettings,
  type RulesDocument,
} from './rules.js';

/**
 * The alerts component, wired: the service (lifecycle + outbox), the rule engine, and the rule settings —
 * the file's (ALERT_RULES_FILE), then those saved over the API (per rule, in the state store), which win.
 */
export interface RuleView {
  readonly id: RuleId;
  readonly description: string;
  readonly subject: string;
  readonly enabled: boolean;
  readonly severity: AlertSeverity;
  readonly autoResolve: boolean;
  readonly params: Record<string, unknown>;
  readonly overrides: Record<string, RuleOverride>;
  /** Where the settings come from. */
  readonly source: 'default' | 'file' | 'api';
}

export class AlertRules {
  private api: RulesDocument;

  private constructor(
    private readonly service: AlertService,
    private readonly engine: AlertEngine,
    private readonly file: RulesDocument,
    saved: readonly { ruleId: string; settings: unknown }[],
  ) {
    const rules: Record<string, RuleSettings> = {};
    for (const s of saved) {
      // Saved settings were validated when saved; a rule that no longer exists, or no longer validates after
      // an upgrade, is skipped rather than stopping the platform.
      if (ruleSettingsProblems(s.ruleId, s.settings).length === 0)
        rules[s.ruleId] = s.settings as RuleSettings;
    }
    this.api = { rules };
    this.engine.setRules(buildRuleSet(this.file, this.api));
  }

  /** The rules of the file, then those saved over the API (read from the state), applied to the engine. */
  static async load(service: AlertService, engine: AlertEngine, file: RulesDocument): Promise<AlertRules> {
    return new AlertRules(service, engine, file, await service.store.listRuleSettings());
  }

  list(): RuleView[] {
    return RULE_IDS.map((id) => this.view(id));
  }

  view(id: RuleId): RuleView {
    const r = this.engine.ruleSet[id];
    return {
      id,
      description: RULE_DOCS[id].description,
      subject: RULE_DOCS[id].subject,
      enabled: r.enabled,
      severity: r.severity,
      autoResolve: r.autoResolve,
      params: { ...(r.params as Record<string, unknown>) },
      overrides: { ...(r.settings.overrides ?? {}) },
      source:
        this.api.rules[id] !== undefined ? 'api' : this.file.rules[id] !== undefined ? 'file' : 'default',
    };
  }

  settings(id: RuleId): RuleSettings {
    return this.api.rules[id] ?? this.file.rules[id] ?? {};
  }

  /**
   * Replaces a rule's settings (validated whole; on any problem nothing changes). Memory changes before the
   * save is awaited, so that a second change read-modify-writes on top of this one (two per-borrower overrides
   * at once both stay); a failed save takes it back.
   */
  async set(id: string, settings: unknown, atMs: number): Promise<RuleView> {
    if (!isRuleId(id))
      throw new RiskfuseError('NOT_FOUND', `no alert rule ${id} (one of ${RULE_IDS.join(', ')})`);
    const problems = ruleSettingsProblems(id, settings);
    if (problems.length > 0) {
      throw new RiskfuseError('VALIDATION_FAILED', problems.join('; '), {
        details: { errors: problems.map((m) => ({ path: 'body', message: m })) },
      });
    }
    const before = this.api;
    const after: RulesDocument = { rules: { ...before.rules, [id]: settings as RuleSettings } };
    this.apply(after);
    try {
      await this.service.store.saveRuleSettings(id, settings, atMs);
    } catch (err) {
      if (this.api === after) this.apply(before);
      throw err;
    }
    return this.view(id);
  }

  /** Sets (or with `undefined`, removes) one borrower's override of a rule. */
  async setOverride(
    id: string,
    borrowerId: string,
    override: RuleOverride | undefined,
    atMs: number,
  ): Promise<RuleView> {
    if (!isRuleId(id))
      throw new RiskfuseError('NOT_FOUND', `no alert rule ${id} (one of ${RULE_IDS.join(', ')})`);
    const current = this.settings(id);
    const overrides = { ...(current.overrides ?? {}) };
    if (override === undefined) {
      if (overrides[borrowerId] === undefined)
        throw new RiskfuseError('NOT_FOUND', `rule ${id} has no override for borrower ${borrowerId}`);
      delete overrides[borrowerId];
    } else overrides[borrowerId] = override;
    return this.set(id, { ...current, overrides }, atMs);
  }

  private apply(api: RulesDocument): void {
    this.api = api;
    this.engine.setRules(buildRuleSet(this.file, this.api));
  }
}

export interface AlertsComponent {
  readonly service: AlertService;
  readonly engine: AlertEngine;
  readonly rules: AlertRules;
  /** Alerts grouped per borrower into cases (alerts/cases.ts). */
  readonly cases: CaseService;
  /** Maintenance windows and snoozes (alerts/suppressions.ts). */
  readonly suppressions: SuppressionService;
  readonly config: AlertsConfig;
  readonly log: Logger;
  /** Stops the engine's timer; resolves once the inputs handed to it are evaluated and stored. */
  close(): Promise<void>;
}

/** The alerts component on the state: reads the active alerts, the presence and the saved rule settings. */
export async function createAlerts(deps: {
  readonly state: State;
  readonly config: AlertsConfig;
  readonly log: Logger;
  readonly now?: () => number;
}): Promise<AlertsComponent> {
  const rulesFile = loadRulesFile(deps.config.alertRulesFile);
  const log = deps.log.child({ component: 'alerts' });
  const service = new AlertService(deps.state, deps.now === undefined ? {} : { now: deps.now });
  const gate = new SuppressionGate(deps.state, deps.now);
  const engine = new AlertEngine({
    service,
    state: deps.state,
    log,
    gate,
    silenceCheckIntervalMs: deps.config.alertSilenceCheckIntervalMs,
    ...(deps.now === undefined ? {} : { now: deps.now }),
  });
  await service.load();
  await engine.load();
  const rules = await AlertRules.load(service, engine, rulesFile);
  const cases = new CaseService(deps.state, service);
  const suppressions = new SuppressionService(deps.state, gate);
  return {
    service,
    engine,
    rules,
    cases,
    suppressions,
    config: deps.config,
    log,
    close: () => engine.stop(),
  };
}

/**
 * The alert counters for `/metrics`. The active-alerts gauge is a count in the state, and `samples()` is
 * synchronous (core/metrics.ts): a scrape shows the count read at the previous scrape (or at start) and starts
 * the next read.
 */
export function alertMetrics(alerts: Pick<AlertsComponent, 'service' | 'engine' | 'log'>): MetricsSource {
  let active = 0;
  let reading: Promise<void> | undefined;
  const readActive = (): void => {
    reading ??= alerts.service
      .countActive()
      .then(
        (n) => void (active = n),
        (err: unknown) =>
          alerts.log.warn({ err: errorMessage(err) }, 'could not count active alerts for /metrics'),
      )
      .finally(() => (reading = undefined));
  };
  readActive();
  return {
    samples(): MetricSample[] {
      const shown = active;
      readActive();
      const c = alerts.service.counters;
      const e = alerts.engine.counters;
      return [
        ...RULE_IDS.map((rule): MetricSample => ({
          name: 'riskfuse_alerts_opened_total',
          help: 'Alerts opened, by rule',
          type: 'counter',
          value: c.openedByRule[rule] ?? 0,
          labels: { rule },
        })),
        {
          name: 'riskfuse_alerts_deduplicated_total',
          help: 'Firings of an already open alert (no new alert)',
          type: 'counter',
          value: c.deduplicated,
        },
        {
          name: 'riskfuse_alerts_acknowledged_total',
          help: 'Alerts acknowledged',
          type: 'counter',
          value: c.acknowledged,
        },
        {
          name: 'riskfuse_alerts_resolved_total',
          help: 'Alerts resolved (by people and automatically)',
          type: 'counter',
          value: c.resolved,
        },
        {
          name: 'riskfuse_alerts_auto_resolved_total',
          help: 'Alerts resolved because the condition cleared',
          type: 'counter',
          value: c.autoResolved,
        },
        {
          name: 'riskfuse_alerts_events_written_total',
          help: 'Events written to the outbox by the alerts component',
          type: 'counter',
          value: c.eventsWritten,
        },
        {
          name: 'riskfuse_alerts_readings_evaluated_total',
          help: 'Readings evaluated by the rule engine',
          type: 'counter',
          value: e.readingsEvaluated,
        },
        {
          name: 'riskfuse_alerts_readings_late_total',
          help: 'Readings older than one already evaluated from the same device, not stepped through the rules',
          type: 'counter',
          value: e.readingsLate,
        },
        {
          name: 'riskfuse_alerts_presence_changes_total',
          help: 'Device presence changes seen',
          type: 'counter',
          value: e.presenceChanges,
        },
        {
          name: 'riskfuse_alerts_score_changes_total',
          help: 'Score changes evaluated',
          type: 'counter',
          value: e.scoreChanges,
        },
        {
          name: 'riskfuse_alerts_evaluation_errors_total',
          help: 'Rule evaluations that failed (logged)',
          type: 'counter',
          value: e.errors,
        },
        {
          name: 'riskfuse_alerts_active',
          help: 'Alerts not yet resolved (open or acknowledged)',
          type: 'gauge',
          value: shown,
        },
      ];
    },
  };
}
