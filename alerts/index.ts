/** The alerts component's public surface: rules, the engine, the alert service and their wiring. */
export { alertView, AlertService, SYSTEM_ACTOR, type OpenAlertInput } from './alert-service.js';
export { AlertRules, alertMetrics, createAlerts, type AlertsComponent, type RuleView } from './app.js';
export { alertsConfigSpec, loadRulesFile, type AlertsConfig } from './config.js';
export { Hysteresis, StreamingDetector, type DetectorParams } from './detector.js';
export { AlertEngine, type ScoreChangeInput } from './engine.js';
export { POLICY_BREACH_RULE, policyBreachAlerts, type PolicyBreachInput } from './policy-breach.js';
export {
  MODEL_DRIFT_RULE,
  modelDriftAlerts,
  type ModelDriftAlerts,
  type ModelDriftInput,
} from './rules/model-drift.js';
export {
  buildRuleSet,
  parseRulesDocument,
  RULE_DOCS,
  RULE_IDS,
  RULE_PARAMS,
  ruleSettingsSchema,
  type RuleId,
  type RuleOverride,
  type RuleSettings,
  type RulesDocument,
} from './rules.js';
export {
  MAX_SUPPRESSION_MS,
  SuppressionGate,
  SuppressionService,
  type Hold,
  type NewSuppression,
} from './suppressions.js';
export { CaseService, type CaseDetail, type CaseTransition, type RulePrecision } from './cases.js';
export { per100BorrowersWeek } from './quality.js';
