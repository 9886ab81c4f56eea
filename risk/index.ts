/**
 * risk/ — features, the TensorFlow.js fusion model, evaluation, the model registry and scoring. Public surface.
 */
export {
  FEATURES,
  FEATURE_NAMES,
  ONLINE_FEATURES,
  OFFLINE_FEATURES,
  featureSpecMarkdown,
  FEATURE_SPEC_VERSION,
  type FeatureDef,
} from './features/spec.js';
export { extractFeatures, loadPortfolio, type FeatureRow, type Portfolio } from './features/extract.js';
export { evaluate, evaluationTimes, type EvaluateOptions } from './evaluate.js';
export type { EvaluationResult, ModelReport } from './evaluation-result.js';
export { writeEvaluationReport, type ReportPaths } from './report.js';
export { evaluateCredit, type CreditEvaluation, type TruthDefault } from './evaluate-credit.js';
export { creditMarkdown } from './report-credit.js';
export { creditParams } from './credit/credit-app.js';
export { creditConfigSpec } from './credit/config.js';
export { ModelRegistry, readModelFile } from './registry.js';
export { RiskModel, RISK_MODEL_FORMAT, type RiskModelFile, type Scored } from './scorer.js';
export { gradeFor, pointsFor, GRADE_BANDS } from './grades.js';
export { initBackend, riskBackendConfigSpec } from './model/backend.js';
export { createRisk, shippedModelPath, type RiskComponent } from './app.js';
export { modelDir, riskConfigSpec } from './config.js';
export { scoringMetrics } from './scoring-metrics.js';
export { ScoringService, type ScoreChange, type ScoringRun } from './scoring-service.js';
export {
  psi,
  psiAgainst,
  psiBand,
  psiReference,
  stabilityReport,
  type PsiReference,
  type PsiResult,
  type StabilityReport,
} from './monitoring/psi.js';
