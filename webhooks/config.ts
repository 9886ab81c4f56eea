import { bool, defineConfig, int, str, type ConfigOf } from '../core/config.js';
import { RiskfuseError } from '../core/errors.js';

/** The webhooks' environment (README "Configuration › Webhooks"). */
export const webhookConfigSpec = defineConfig({
  webhookDelivery: bool('WEBHOOK_DELIVERY', {
    doc: 'Take part in the election of the one process that runs the webhook dispatcher and delivery workers (`riskfuse api`, `start`); false keeps this process out of it',
    default: true,
  }),
  webhookAllowPrivate: bool('WEBHOOK_ALLOW_PRIVATE', {
    doc: 'Allow webhook targets on private addresses (10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7)',
    default: false,
  }),
  webhookAllowLoopback: bool('WEBHOOK_ALLOW_LOOPBACK', {
    doc: 'Allow webhook targets on loopback addresses (127/8, ::1, localhost)',
    default: false,
  }),
  webhookTimeoutMs: int('WEBHOOK_TIMEOUT_MS', {
    doc: 'Time one delivery attempt may take (DNS, connect, response headers and body); then it counts as failed',
    unit: 'ms',
    default: 10_000,
    min: 50,
    max: 120_000,
  }),
  webhookRetrySchedule: str('WEBHOOK_RETRY_SCHEDULE', {
    doc: 'Waits before retry 1, 2, … (comma-separated, `ms`/`s`/`m`/`h` suffixes); each wait is drawn uniformly from [0, w] (full jitter); after the last retry fails the delivery is dead-lettered',
    default: '5s,30s,2m,10m,30m,1h,3h,6h,12h,24h',
  }),
  webhookRetryAfterMaxMs: int('WEBHOOK_RETRY_AFTER_MAX_MS', {
    doc: 'Longest wait a receiver’s `Retry-After` may ask for; longer asks are capped to this',
    unit: 'ms',
    default: 3_600_000,
    min: 0,
  }),
  webhookMaxResponseBytes: int('WEBHOOK_MAX_RESPONSE_BYTES', {
    doc: 'Response body bytes read from a receiver; the connection is closed beyond this',
    unit: 'bytes',
    default: 65_536,
    min: 0,
  }),
  webhookConcurrencyPerSubscription: int('WEBHOOK_CONCURRENCY_PER_SUBSCRIPTION', {
    doc: 'Deliveries in flight to one subscription at a time (its own queue: a slow receiver waits only on itself)',
    unit: 'requests',
    default: 4,
    min: 1,
    max: 64,
  }),
  webhookMaxConcurrency: int('WEBHOOK_MAX_CONCURRENCY', {
    doc: 'Deliveries in flight across all subscriptions',
    unit: 'requests',
    default: 256,
    min: 1,
  }),
  webhookPollIntervalMs: int('WEBHOOK_POLL_INTERVAL_MS', {
    doc: 'How often the dispatcher reads the event outbox and the workers look for due deliveries',
    unit: 'ms',
    default: 100,
    min: 5,
  }),
  webhookRotationOverlapS: int('WEBHOOK_ROTATION_OVERLAP_S', {
    doc: 'After a secret rotation, how long deliveries are also signed with the old secret (two signatures)',
    unit: 's',
    default: 86_400,
    min: 0,
    max: 2_592_000,
  }),
});

export type WebhookConfig = ConfigOf<typeof webhookConfigSpec>;

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** `5s,30s,2m` → [5000, 30000, 120000]; a bare number is milliseconds. */
export function parseRetrySchedule(text: string): number[] {
  const parts = text
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '');
  return parts.map((p) => {
    const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(p);
    if (m?.[1] === undefined) {
      throw new RiskfuseError(
        'CONFIG_INVALID',
        `WEBHOOK_RETRY_SCHEDULE: ${JSON.stringify(p)} is not a duration (e.g. 500ms, 5s, 2m, 1h)`,
      );
    }
    return Math.round(Number(m[1]) * (UNIT_MS[m[2] ?? 'ms'] ?? 1));
  });
}
