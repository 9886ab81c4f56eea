import type { MetricSample, MetricsSource } from '../core/metrics.js';
import type { WebhookDeliverer } from './deliverer.js';
import type { WebhookStore } from './store.js';

/** The deliverer's counters and the store's delivery states for `/metrics`. */
export function webhookMetrics(
  deliverer: Pick<WebhookDeliverer, 'counters'>,
  store: WebhookStore,
): MetricsSource {
  const counter = (name: string, help: string, value: number): MetricSample => ({
    name: `riskfuse_webhook_${name}`,
    help,
    type: 'counter',
    value,
  });
  return {
    samples(): MetricSample[] {
      const c = deliverer.counters;
      const byStatus = store.countByStatus();
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
        ...(['pending', 'sending', 'delivered', 'dead'] as const).map((status): MetricSample => ({
          name: 'riskfuse_webhook_deliveries',
          help: 'Deliveries in the store by status',
          type: 'gauge',
          value: byStatus[status],
          labels: { status },
        })),
      ];
    },
  };
}
