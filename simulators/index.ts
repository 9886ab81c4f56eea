/**
 * The simulated world (ARCHITECTURE.md, `simulators/`): a seeded portfolio of borrowers, sites, pledged
 * collateral and devices whose latent business health drives both the devices (over MQTT) and the online
 * loan book, with injectable scenarios; a live runner and a backfill.
 */
export {
  generateWorld,
  type World,
  type WorldOptions,
  type BorrowerProfile,
  type DeviceProfile,
  type LotProfile,
  type SiteProfile,
  type DeclineEvent,
  type ResolvedScenario,
} from './world.js';
export {
  parseScenario,
  formatScenario,
  SCENARIO_KINDS,
  SCENARIO_DOCS,
  DEFAULT_DURATION_DAYS,
  type ScenarioKind,
  type ScenarioSpec,
} from './scenarios.js';
export { createEngine, WorldEngine } from './engine.js';
export { DeviceStream, type GeneratedReading } from './stream.js';
export { LoanBook, DEFAULT_DPD, type LoanBookSnapshot } from './loan-book.js';
export { LoanBookWriter } from './loan-sync.js';
export { activityLevel, HealthModel } from './health.js';
export { provisionWorld, type ProvisionedWorld } from './provision.js';
export {
  DeviceClient,
  emptyPublishStats,
  type DeviceClientOptions,
  type PublishStats,
} from './device-client.js';
export {
  runSimulation,
  type RunSimulationOptions,
  type SimulationHandle,
  type SimulationProgress,
  type SimulationStats,
} from './runner.js';
export { backfill, type BackfillOptions, type BackfillProgress, type BackfillResult } from './backfill.js';
export { simulateCommand, simulateHelp, type SimulateCommandOptions } from './cli.js';
export { simulateConfigSpec } from './config.js';
export { ndviSeasonal } from './ndvi-curve.js';
export { REGIONS } from './catalog.js';
export { demoScenarios } from './demo-scenarios.js';
export {
  applyFraudDistress,
  FRAUD_CREDIT_EFFECTS,
  FRAUD_DISTRESS,
  FRAUD_KIND_WEIGHTS,
  fraudScenarios,
  WORLD_RECOVERY,
  type FraudKind,
} from './fraud-credit.js';
export { creditGroundTruth, type CreditGroundTruth, type CreditOutcome } from './ground-truth.js';
