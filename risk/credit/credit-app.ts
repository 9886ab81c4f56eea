import type { Logger } from '../../core/logger.js';
import type { MetricSample, MetricsSource } from '../../core/metrics.js';
import type { State } from '../../core/state/index.js';
import type { TelemetryStore } from '../../core/storage/telemetry-store.js';
import { PolicyStore } from '../policy/policy-store.js';
import type { CreditParams } from './borrower-credit.js';
import { parseHaircuts } from './collateral.js';
import type { CreditConfig } from './config.js';
import { CreditMonitor, type CreditMonitorOptions } from './credit-monitor.js';

/**
 * The credit component, wired: the EL parameters from the config, the lending policy in force, and the live
 * monitor of coverage, LGD, EL and policy breaches. `riskfuse start` feeds the monitor the ingest's stored
 * readings and presence, and the scoring service's score changes.
 */
export interface CreditComponent {
  readonly config: CreditConfig;
  readonly params: CreditParams;
  readonly policies: PolicyStore;
  readonly monitor: CreditMonitor;
  readonly metrics: MetricsSource;
  close(): Promise<void>;
}

export function creditParams(config: CreditConfig): CreditParams {
  return {
    ccf: config.ccf,
    unsecuredLgd: config.unsecuredLgd,
    recoveryRate: config.recoveryRate,
    liquidationCost: config.liquidationCost,
    collateralAtDefault: config.collateralAtDefault,
    collateral: {
      staleAfterMs: config.staleAfterMs,
      staleFactor: config.staleFactor,
      outsideFenceFactor: config.outsideFenceFactor,
      tamperFactor: config.tamperFactor,
      tamperHoldMs: config.tamperHoldMs,
      offlineFactor: config.offlineFactor,
      haircut: parseHaircuts(config.haircuts),
    },
  };
}

export function createCredit(deps: {
  config: CreditConfig;
  state: State;
  telemetry: TelemetryStore;
  log: Logger;
  now?: () => number;
  /** See CreditMonitorOptions.reloadObservations (`riskfuse risk`). */
  reloadObservations?: boolean;
  onBreach?: CreditMonitorOptions['onBreach'];
  onCleared?: CreditMonitorOptions['onCleared'];
}): CreditComponent {
  const now = deps.now ?? Date.now;
  const params = creditParams(deps.config);
  const policies = new PolicyStore(deps.state, now);
  const monitor = new CreditMonitor({
    state: deps.state,
    telemetry: deps.telemetry,
    params,
    policies,
    log: deps.log.child({ component: 'credit' }),
    debounceMs: deps.config.debounceMs,
    refreshIntervalMs: deps.config.refreshIntervalMs,
    tamperHoldMs: deps.config.tamperHoldMs,
    now,
    ...(deps.reloadObservations === undefined ? {} : { reloadObservations: deps.reloadObservations }),
    ...(deps.onBreach === undefined ? {} : { onBreach: deps.onBreach }),
    ...(deps.onCleared === undefined ? {} : { onCleared: deps.onCleared }),
  });
  const metrics: MetricsSource = {
    samples(): MetricSample[] {
      const c = monitor.counters;
      return [
        {
          name: 'riskfuse_credit_refreshes_total',
          help: 'Credit exposure recomputations (event or periodic)',
          type: 'counter',
          value: c.refreshes,
        },
        {
          name: 'riskfuse_credit_borrowers_recomputed_total',
          help: 'Borrowers whose EAD, coverage, LGD and EL were recomputed',
          type: 'counter',
          value: c.borrowersRecomputed,
        },
        {
          name: 'riskfuse_credit_policy_breaches_total',
          help: 'policy.breached events announced',
          type: 'counter',
          value: c.breachesOpened,
        },
        {
          name: 'riskfuse_credit_refresh_failures_total',
          help: 'Credit recomputations that failed (logged)',
          type: 'counter',
          value: c.failures,
        },
      ];
    },
  };
  return { config: deps.config, params, policies, monitor, metrics, close: () => monitor.close() };
}
