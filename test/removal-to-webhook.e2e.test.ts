import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAlerts, policyBreachAlerts, type AlertsComponent } from '../alerts/index.js';
import { createCredit, type CreditComponent } from '../risk/credit/credit-app.js';
import { creditConfigSpec } from '../risk/credit/config.js';
import { brokerConfigSpec } from '../broker/config.js';
import { createBroker, type RiskfuseBroker } from '../broker/index.js';
import { parseConfig } from '../core/config.js';
import { issueToken } from '../core/credentials.js';
import { silentLogger } from '../core/logger.js';
import type { State } from '../core/state/index.js';
import { openTestState } from '../core/state/test/backends.js';
import { openSqliteTelemetryStore } from '../core/storage/sqlite-telemetry-store.js';
import type { TelemetryStore } from '../core/storage/telemetry-store.js';
import { createIngest, type Ingest } from '../ingest/app.js';
import { ingestConfigSpec } from '../ingest/config.js';
import {
  generateWorld,
  parseScenario,
  provisionWorld,
  runSimulation,
  type SimulationHandle,
} from '../simulators/index.js';
import { createWebhooks, newWebhookSecret, webhookConfigSpec, type Webhooks } from '../webhooks/index.js';
import { startReceiver, type Receiver } from '../webhooks/test/support.js';

const DAY_MS = 86_400_000;

/**
 * The issue's end to end, on real parts in one process: a simulated world whose borrower b0002 has its
 * collateral silently trucked out on day 6 → its devices publish over MQTT (QoS 1) to the riskfuse broker → the
 * ingest stores the readings and hands them to the rule engine → a weight-drop alert opens, with `alert.opened`
 * in the outbox in the same transaction → the webhook deliverer posts it to a local receiver, whose signature
 * the independent `standardwebhooks` package verifies. The credit monitor, fed the same stored readings, sees
 * b0002's verified coverage fall and announces `policy.breached` (webhook) with its alert.
 */
describe('silent collateral removal → alert → signed webhook', () => {
  let dir: string;
  let state: State;
  let telemetry: TelemetryStore;
  let broker: RiskfuseBroker;
  let ingest: Ingest;
  let alerts: AlertsComponent;
  let webhooks: Webhooks;
  let receiver: Receiver;
  let simulation: SimulationHandle | undefined;
  let credit: CreditComponent;
  /** The simulated clock: the newest device time stored (the world replays its past days at speed 150). */
  let simNow = 0;
  const secret = newWebhookSecret();
  const startMs = Math.floor((Date.now() - 10 * DAY_MS) / DAY_MS) * DAY_MS;
  const world = generateWorld({
    seed: 7,
    borrowers: 6,
    startMs,
    scenarios: [parseScenario('removal:b0002:5')],
  });
  const removed = new Set(world.lots.filter((l) => l.borrowerId === 'b0002').map((l) => l.id));

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rf-e2e-webhook-'));
    state = await openTestState(dir);
    telemetry = openSqliteTelemetryStore(join(dir, 'telemetry.db'));
    const { tokens } = await provisionWorld(world, state);
    const serviceToken = issueToken();
    broker = createBroker({
      config: parseConfig(brokerConfigSpec, {
        MQTT_PORT: '0',
        MQTT_HOST: '127.0.0.1',
        MQTT_SERVICE_TOKEN: serviceToken,
        MQTT_PERSISTENCE: 'memory',
      }),
      registry: state.devices,
      log: silentLogger,
    });
    const ports = await broker.listen();
    const mqttUrl = `mqtt://127.0.0.1:${ports.tcpPort}`;

    alerts = await createAlerts({
      state,
      log: silentLogger,
      config: { alertSilenceCheckIntervalMs: 0, alertStreamHeartbeatMs: 15_000, alertStreamPollMs: 50 },
    });
    receiver = await startReceiver();
    webhooks = createWebhooks({
      config: parseConfig(webhookConfigSpec, {
        WEBHOOK_ALLOW_LOOPBACK: 'true',
        WEBHOOK_RETRY_SCHEDULE: '50ms,100ms,200ms',
        WEBHOOK_POLL_INTERVAL_MS: '20',
      }),
      state,
      log: silentLogger,
    });
    await webhooks.store.createSubscription(
      { url: receiver.url, eventTypes: ['alert.opened', 'policy.breached'], enabled: true },
      secret,
    );
    webhooks.deliverer?.start();
    // Credit: coverage, LGD and EL move with the stored readings, on the simulated clock.
    credit = createCredit({
      config: parseConfig(creditConfigSpec, { CREDIT_DEBOUNCE_MS: '200' }),
      state,
      telemetry,
      log: silentLogger,
      now: () => simNow,
      ...policyBreachAlerts(alerts.service),
    });
    await credit.monitor.loadRegistry();

    ingest = createIngest({
      config: parseConfig(ingestConfigSpec, { MQTT_URL: mqttUrl, MQTT_SERVICE_TOKEN: serviceToken }, [
        'serviceToken',
      ]),
      telemetry,
      state,
      log: silentLogger,
      onStored: async (readings) => {
        for (const r of readings) simNow = Math.max(simNow, r.ts);
        credit.monitor.onReadings(readings);
        await alerts.engine.onReadings(readings);
      },
      onPresence: (presence) => {
        credit.monitor.onPresence(presence);
        return alerts.engine.onPresence(presence);
      },
    });
    await ingest.start();
    simulation = runSimulation({
      world,
      stateStore: state,
      mqttUrl,
      tokens,
      speed: 150,
      startMs,
      log: silentLogger,
    });
  }, 60_000);

  afterAll(async () => {
    await simulation?.stop();
    await ingest?.stop();
    await credit?.close();
    await webhooks?.deliverer?.close();
    await alerts?.close();
    await broker?.close();
    await receiver?.close();
    await telemetry?.close();
    await state?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('when b0002’s pledged stock is trucked out unannounced, then a signed alert.opened webhook for its lot reaches the receiver', async () => {
    const deadline = Date.now() + 90_000;
    const verifier = new Webhook(secret);
    let hit: { lot: string; headers: Record<string, string>; body: string } | undefined;
    while (hit === undefined && Date.now() < deadline) {
      for (const r of receiver.received) {
        const body = JSON.parse(r.body) as {
          type: string;
          data: { alert: { subjectId: string; ruleId: string } };
        };
        if (
          body.type === 'alert.opened' &&
          body.data.alert.ruleId === 'weight-drop' &&
          removed.has(body.data.alert.subjectId)
        ) {
          hit = { lot: body.data.alert.subjectId, headers: r.headers, body: r.body };
        }
      }
      if (hit === undefined) await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const seen = receiver.received.map((r) => {
      const b = JSON.parse(r.body) as {
        type: string;
        data: { alert?: { ruleId: string; subjectId: string } };
      };
      return `${b.type} ${b.data.alert?.ruleId ?? ''} ${b.data.alert?.subjectId ?? ''}`.trim();
    });
    expect(
      hit,
      `no alert.opened webhook for a removed lot within 90 s; received: ${seen.join('; ')}`,
    ).toBeDefined();
    if (hit === undefined) return;
    // The independent verifier accepts the signature; the webhook id is the outbox event's id.
    const verified = verifier.verify(hit.body, {
      'webhook-id': hit.headers['webhook-id'] as string,
      'webhook-timestamp': hit.headers['webhook-timestamp'] as string,
      'webhook-signature': hit.headers['webhook-signature'] as string,
    }) as { type: string };
    expect(verified.type).toBe('alert.opened');
    const event = await alerts.service.outbox.get(hit.headers['webhook-id'] as string);
    expect(event?.type).toBe('alert.opened');
    const alert = (await alerts.service.list({ limit: 100, ruleId: 'weight-drop' })).find(
      (a) => a.subjectId === hit?.lot,
    );
    expect(alert).toMatchObject({ status: 'open', borrowerId: 'b0002', subjectKind: 'lot' });
    // A tampered body does not verify.
    expect(() =>
      verifier.verify(hit?.body.replace('weight-drop', 'weight-dr0p') ?? '', {
        'webhook-id': hit?.headers['webhook-id'] as string,
        'webhook-timestamp': hit?.headers['webhook-timestamp'] as string,
        'webhook-signature': hit?.headers['webhook-signature'] as string,
      }),
    ).toThrow();
  }, 120_000);

  it('when b0002’s stock is removed, then its verified coverage falls under its claimed coverage, LGD moves toward the unsecured 45 %, and a policy.breached webhook and a policy-breached alert arrive', async () => {
    const deadline = Date.now() + 90_000;
    let hit:
      | { data: { borrowerId: string; codes: string[]; verifiedCoverage: number; claimedCoverage: number } }
      | undefined;
    while (hit === undefined && Date.now() < deadline) {
      for (const r of receiver.received) {
        const body = JSON.parse(r.body) as {
          type: string;
          data: { borrowerId: string; codes: string[]; verifiedCoverage: number; claimedCoverage: number };
        };
        if (
          body.type === 'policy.breached' &&
          body.data.borrowerId === 'b0002' &&
          body.data.codes.includes('POLICY_MIN_COVERAGE')
        )
          hit = body;
      }
      if (hit === undefined) await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(hit, 'no policy.breached webhook for b0002 within 90 s').toBeDefined();
    expect(hit?.data.verifiedCoverage).toBeLessThan(1);
    expect(hit?.data.claimedCoverage).toBeGreaterThan(1);
    // The stored figures once b0002's stakes have delivered everything the world has sent up to now. Until
    // then they may lag: the monitor's clock is the newest reading stored from any device, and at speed 150
    // (six simulated days a second) a stake whose queue lags the others' by a fraction of a second counts
    // as unverified for a moment — a breach that clears when its readings land.
    const stakes = world.devices.filter((d) => d.borrowerId === 'b0002' && d.kind === 'stake');
    const drained = () =>
      simulation?.caughtUp() === true &&
      stakes.every((d) => simulation?.device(d.id)?.queued === 0 && simulation.device(d.id)?.inflight === 0);
    while (!drained() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    expect(drained(), 'b0002’s stakes had not delivered their readings within 90 s').toBe(true);
    await credit.monitor.settled();
    const e = (await state.credit.getExposures(['b0002'])).get('b0002');
    expect(e?.breaches.map((b) => b.code)).toContain('POLICY_MIN_COVERAGE');
    expect(e?.verifiedCoverage ?? 1).toBeLessThan(1);
    expect(e?.verifiedCoverage ?? 1).toBeLessThan(e?.claimedCoverage ?? 0);
    // The unsecured part is at the 45 % unsecured LGD: LGD moved up from the secured level (14.5 %).
    expect(e?.lgd ?? 0).toBeGreaterThan(0.2);
    const alert = (await alerts.service.list({ limit: 10, ruleId: 'policy-breached' })).find(
      (a) => a.borrowerId === 'b0002',
    );
    expect(alert).toMatchObject({ status: 'open', severity: 'critical' });
  }, 120_000);
});
