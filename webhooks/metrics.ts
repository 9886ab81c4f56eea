import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { MetricSample, MetricsSource } from '../core/metrics.js';
import type { DeliveryStatus, WebhookRepository } from '../core/state/index.js';
import type { WebhookDeliverer } from './deliverer.js';

const STATUSES = ['pending', 'sending', 'delivered', 'dead'] as const satisfies readonly DeliveryStatus[];

/**
 * The deliverer's counters and the store's delivery states for `/metrics`. The states are counts in the state,
 * and `samples()` is synchronous (core/metrics.ts): a scrape shows the counts read at the previous scrape (or
 * at start) and starts the next read.
 */
export function webhookMetrics(
  deliverer: Pick<WebhookDeliverer, 'counters'>,
  store: Pick<WebhookRepository, 'countByStatus'>,
  log: Logger,
): MetricsSource {
  let byStatus: Record<DeliveryStatus, number> = { pending: 0, sending: 0, delivered: 0, dead: 0 };
  let reading: Promise<void> | undefined;
  const readStatuses = (): void => {
    reading ??= store
      .countByStatus()
      .then(
        (counts) => void (byStatus = counts),
        (err: unknown) =>
          log.warn({ err: errorMessage(err) }, 'could not count webhook deliveries for /metrics'),
      )
      .finally(() => (reading = undefined));
  };
  readStatuses();
  const counter = (name: string, help: string, value: number): MetricSample => ({
    name: `riskfuse_webhook_${name}`,
    help,
    type: 'counter',
    value,
  });
  return {
    samples(): MetricSample[] {
      const c = deliverer.counters;
      const shown = byStatus;
      readStatuses();
      return [
        counter('events_dispatched_total', 'Outbox events read by the dispatcher', c.eventsDispatched),
        counter('deliveries_created_total', 'Deliveries created from outbox events', c.deliveriesCreated),
        counter('attempts_total', 'Delivery attempts made', c.attempts),
        counter('delivered_total', 'Attempts answered with a 2xx', c.delivered),
        counter(
          'failed_attempts_total',
          'Attempts that failed (non-2xx, network error, timeout, blocked)',
          c.failedAttempts,
        ),
        counter(
          'dead_lettered_total',
          'Deliveries that ran out of attempts (or met a 410 / blocked target)',
          c.deadLettered,
        ),
        counter(
          'subscriptions_disabled_total',
          'Subscriptions disabled by a 410 Gone',
          c.subscriptionsDisabled,
        ),
        counter('blocked_targets_total', 'Attempts refused by the target address policy', c.blockedTargets),
        { name: 'riskfuse_webhook_in_flight', help: 'Attempts in flight', type: 'gauge', value: c.inFlight },
        ...STATUSES.map((status): MetricSample => ({
          name: 'riskfuse_webhook_deliveries',
          help: 'Deliveries in the store by status',
          type: 'gauge',
          value: shown[status],
          labels: { status },
        })),
      ];
    },
  };
}
