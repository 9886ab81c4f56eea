import type { MetricSample, MetricsSource } from '../core/metrics.js';
import type { ScoringService } from './scoring-service.js';

/** The scoring service's counters for `/metrics`. */
export function scoringMetrics(scoring: Pick<ScoringService, 'counters'>): MetricsSource {
  return {
    samples(): MetricSample[] {
      const c = scoring.counters;
      return [
        {
          name: 'riskfuse_scoring_runs_total',
          help: 'Scoring runs (portfolio and event-triggered)',
          type: 'counter',
          value: c.runs,
        },
        {
          name: 'riskfuse_scoring_borrowers_scored_total',
          help: 'Champion scores stored',
          type: 'counter',
          value: c.borrowersScored,
        },
        {
          name: 'riskfuse_scoring_shadow_scored_total',
          help: 'Challenger (shadow) scores stored',
          type: 'counter',
          value: c.shadowScored,
        },
        {
          name: 'riskfuse_scoring_changes_published_total',
          help: 'Score changes published (grade or PD move)',
          type: 'counter',
          value: c.changesPublished,
        },
        {
          name: 'riskfuse_scoring_failures_total',
          help: 'Scoring runs that failed',
          type: 'counter',
          value: c.failures,
        },
        {
          name: 'riskfuse_scoring_last_run_ms',
          help: 'Duration of the last scoring run',
          type: 'gauge',
          value: c.lastRunMs,
        },
      ];
    },
  };
}
