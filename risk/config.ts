import { join } from 'node:path';
import { defineConfig, int, num, str } from '../core/config.js';

export const riskConfigSpec = defineConfig({
  scoreIntervalMs: int('RISK_SCORE_INTERVAL_MS', {
    doc: 'How often the whole portfolio is re-scored',
    unit: 'ms',
    default: 900_000,
    min: 1_000,
  }),
  eventDebounceMs: int('RISK_EVENT_DEBOUNCE_MS', {
    doc: 'A borrower is re-scored this long after the first significant reading or loan event (events in between join it)',
    unit: 'ms',
    default: 5_000,
    min: 0,
  }),
  pdChangeThreshold: num('RISK_PD_CHANGE', {
    doc: 'A score change is published when the grade changes or the PD moves by at least this much (absolute)',
    default: 0.02,
    min: 0,
    max: 1,
  }),
  pdFloor: num('RISK_PD_FLOOR', {
    doc: 'Lowest PD a model reports (a model file may carry its own); Basel III floors PDs at 0.03 %',
    default: 0.0003,
    min: 0,
    max: 0.5,
  }),
  monitorIntervalMs: int('RISK_MONITOR_INTERVAL_MS', {
    doc: 'How often model monitoring runs (drift of inputs and score against the training reference, backtests)',
    unit: 'ms',
    default: 86_400_000,
    min: 60_000,
  }),
  monitorMinPopulation: int('RISK_MONITOR_MIN_POPULATION', {
    doc: 'Fewest borrowers a model must have scored in the last day for its drift (PSI) to be computed',
    default: 30,
    min: 1,
  }),
  backtestWindowDays: int('RISK_BACKTEST_WINDOW_DAYS', {
    doc: 'How far back model monitoring backtests a model’s scores against outcomes',
    unit: 'days',
    default: 730,
    min: 1,
  }),
  modelDir: str('RISK_MODEL_DIR', { doc: 'Folder of model artifacts; default DATA_DIR/models' }),
});

/** Where model artifacts live: RISK_MODEL_DIR, else DATA_DIR/models. */
export function modelDir(cfg: { readonly modelDir?: string; readonly dataDir: string }): string {
  return cfg.modelDir ?? join(cfg.dataDir, 'models');
}
