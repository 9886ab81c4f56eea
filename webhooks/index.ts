import type { Logger } from '../core/logger.js';
import type { MetricsSource } from '../core/metrics.js';
import type { State, WebhookRepository } from '../core/state/index.js';
import { runElected, type LeaderElection } from '../core/state/leader.js';
import { parseRetrySchedule, type WebhookConfig } from './config.js';
import { WebhookDeliverer, zeroCounters, type DelivererOptions } from './deliverer.js';
import { webhookMetrics } from './metrics.js';
import { WebhookService } from './service.js';
import type { Lookup } from './ssrf.js';

export { webhookConfigSpec, parseRetrySchedule, type WebhookConfig } from './config.js';
export { WebhookDeliverer } from './deliverer.js';
export { WebhookService } from './service.js';
export { newWebhookSecret, signPayload, signatureHeader, webhookBody } from './signing.js';
export { classifyAddress, parseTargetUrl, resolveTarget, type TargetPolicy } from './ssrf.js';
export * from './types.js';

export interface Webhooks {
  /** The state's webhook repository (`state.webhooks`). */
  readonly store: WebhookRepository;
  readonly service: WebhookService;
  /** Present when this process delivers (WEBHOOK_DELIVERY=true): start it, close it on shutdown. */
  readonly deliverer?: WebhookDeliverer;
  readonly metrics: MetricsSource;
}

/**
 * Wiring of the webhooks component on the state: the API's service and — in the one process that delivers
 * (`riskfuse start` or `riskfuse api`, WEBHOOK_DELIVERY) — the dispatcher and workers.
 * `now` is the deliverer's and the service's clock; the repository's (a secret's overlap) is the state's own
 * (`openSqliteState(path, { now })`).
 */
export function createWebhooks(deps: {
  readonly config: WebhookConfig;
  readonly state: State;
  readonly log: Logger;
  readonly now?: () => number;
  readonly lookup?: Lookup;
  readonly onAttempt?: DelivererOptions['onAttempt'];
}): Webhooks {
  const { config } = deps;
  const now = deps.now ?? Date.now;
  const retryScheduleMs = parseRetrySchedule(config.webhookRetrySchedule);
  const log = deps.log.child({ component: 'webhooks' });
  const policy = { allowPrivate: config.webhookAllowPrivate, allowLoopback: config.webhookAllowLoopback };
  const deliverer = config.webhookDelivery
    ? new WebhookDeliverer({
        state: deps.state,
        log,
        policy,
        timeoutMs: config.webhookTimeoutMs,
        retryScheduleMs,
        retryAfterMaxMs: config.webhookRetryAfterMaxMs,
        maxResponseBytes: config.webhookMaxResponseBytes,
        concurrencyPerSubscription: config.webhookConcurrencyPerSubscription,
        maxConcurrency: config.webhookMaxConcurrency,
        pollIntervalMs: config.webhookPollIntervalMs,
        now,
        ...(deps.lookup === undefined ? {} : { lookup: deps.lookup }),
        ...(deps.onAttempt === undefined ? {} : { onAttempt: deps.onAttempt }),
      })
    : undefined;
  const service = new WebhookService(deps.state, {
    policy,
    rotationOverlapS: config.webhookRotationOverlapS,
    now,
    ...(deps.lookup === undefined ? {} : { lookup: deps.lookup }),
    ...(deliverer === undefined ? {} : { wake: () => deliverer.kick() }),
  });
  const idle = { counters: zeroCounters() };
  return {
    store: deps.state.webhooks,
    service,
    ...(deliverer === undefined ? {} : { deliverer }),
    metrics: webhookMetrics(deliverer ?? idle, deps.state.webhooks, log),
  };
}

/**
 * Runs delivery in the one elected process of the deployment (core/state/leader.ts; on the embedded SQLite this
 * process always leads). On election it first hands back the deliveries the previous leader had claimed — it
 * is gone, since the lock is ours — so they go out now instead of after their lease (up to
 * 4 × WEBHOOK_TIMEOUT_MS + 2 s), then delivers until it stops leading. Stop the returned election on shutdown,
 * before the API and the stores: no new attempts, the ones in flight finish or time out.
 */
export function runElectedDelivery(
  deliverer: WebhookDeliverer,
  state: State,
  config: Parameters<typeof runElected>[3],
  log: Logger,
): LeaderElection {
  const job = {
    async start() {
      const released = await state.webhooks.releaseAll();
      if (released > 0)
        log.info({ released }, 'webhook deliveries claimed by the previous leader handed back');
      deliverer.start();
    },
    stop: () => deliverer.stop(),
  };
  return runElected(state.db, 'webhook-delivery', job, config, log);
}
