import type { ConfigOf } from '../config.js';
import { RiskfuseError, errorMessage } from '../errors.js';
import type { Logger } from '../logger.js';
import type { ElectedJob } from '../state/leader.js';
import type { ScoreRepository } from '../state/index.js';
import type { telemetryConfigSpec } from './telemetry-config.js';
import type { PruneResult, RetentionCuts, TelemetryStore } from './telemetry-store.js';

/**
 * Retention, one pass per RETENTION_INTERVAL_MS in the elected replica (`runElected(db, 'retention', …)`):
 * raw readings older than TELEMETRY_RAW_RETENTION_DAYS go, their hourly and daily aggregates stay for their own
 * windows (features and charts read those, core/storage/resolution.ts); scores older than
 * SCORES_THIN_AFTER_DAYS are thinned to the last of each borrower, model and day. Cut-offs fall on UTC
 * midnights, so a day is kept or cut whole. Pinned by core/test/retention.test.ts and the stores' contracts.
 */
export type RetentionConfig = Pick<
  ConfigOf<typeof telemetryConfigSpec>,
  | 'telemetryRawRetentionDays'
  | 'telemetryHourlyRetentionDays'
  | 'telemetryDailyRetentionDays'
  | 'scoresThinAfterDays'
  | 'retentionIntervalMs'
>;

const DAY_MS = 86_400_000;

export interface RetentionPass {
  readonly telemetry?: PruneResult;
  readonly scoresDeleted: number;
}

/** The cut-offs at `nowMs`; a window of 0 days keeps forever (cut at 0). A coarser window never ends first. */
export function retentionCuts(cfg: RetentionConfig, nowMs: number): RetentionCuts {
  const today = Math.floor(nowMs / DAY_MS) * DAY_MS;
  const cut = (days: number): number => (days === 0 ? 0 : Math.max(0, today - days * DAY_MS));
  const raw = cut(cfg.telemetryRawRetentionDays);
  const hourly = Math.min(raw, cut(cfg.telemetryHourlyRetentionDays));
  return {
    rawBeforeMs: raw,
    hourlyBeforeMs: hourly,
    dailyBeforeMs: Math.min(hourly, cut(cfg.telemetryDailyRetentionDays)),
  };
}

export class RetentionJob implements ElectedJob {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly deps: {
      readonly config: RetentionConfig;
      readonly telemetry: TelemetryStore;
      readonly scores: Pick<ScoreRepository, 'thinScores'>;
      readonly log: Logger;
      readonly now?: () => number;
    },
  ) {}

  /** One pass: prune telemetry (when the store keeps its own aggregates), thin scores. */
  async runOnce(): Promise<RetentionPass> {
    const { config, telemetry, scores, log } = this.deps;
    const nowMs = (this.deps.now ?? Date.now)();
    let pruned: PruneResult | undefined;
    try {
      pruned = await telemetry.prune(retentionCuts(config, nowMs));
    } catch (err) {
      // InfluxDB keeps no aggregates of its own yet: its retention policy applies; say so once per pass.
      if (!(err instanceof RiskfuseError && err.code === 'STORE_REJECTED')) throw err;
      log.debug({ err: errorMessage(err) }, 'telemetry retention left to the store');
    }
    const scoresDeleted =
      config.scoresThinAfterDays === 0
        ? 0
        : await scores.thinScores(Math.floor(nowMs / DAY_MS) * DAY_MS - config.scoresThinAfterDays * DAY_MS);
    log.info({ telemetry: pruned, scoresDeleted }, 'retention pass');
    return { ...(pruned === undefined ? {} : { telemetry: pruned }), scoresDeleted };
  }

  start(): void {
    const tick = (): void => {
      this.running = this.runOnce().catch((err: unknown) =>
        this.deps.log.error({ err: errorMessage(err) }, 'retention pass failed; retried next interval'),
      );
    };
    tick();
    this.timer = setInterval(tick, this.deps.config.retentionIntervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }
}
