import mqtt, { type MqttClient } from 'mqtt';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ALL_TELEMETRY } from '../../core/contracts/index.js';
import { createBroker, type RiskfuseBroker } from '../app.js';
import { parseBrokerConfig } from '../config.js';
import { BrokerPersistence } from '../persistence.js';
import type { AedesPersistence } from '../persistence-port.js';
import { SERVICE_TOKEN, connectClient, eventually, provisionRegistry, type Registry } from './support.js';

/**
 * registered-clients.ts: a connection that ends while its CONNECT still waits for the session store must not
 * unregister the connection already registered under the same client id. The wait is made deterministic by
 * holding the store's answer to `subscriptionsByClient` (the first thing a persistent session's CONNECT asks
 * it, lib/handlers/connect.js `fetchSubs`), as a Redis that is reconnecting holds it.
 */
describe('a connection that ends before its CONNACK', () => {
  let registry: Registry;
  let broker: RiskfuseBroker | undefined;
  const clients: MqttClient[] = [];
  beforeAll(async () => {
    registry = await provisionRegistry();
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) await c.endAsync(true);
    await broker?.close();
    broker = undefined;
  });
  afterAll(async () => {
    await registry?.close();
  });

  it('when a second connection of a persistent session ends while its CONNECT waits for the store, then the first stays registered and a third connection of that id takes it over', async () => {
    const store = new BrokerPersistence() as unknown as AedesPersistence;
    const byClient = store.subscriptionsByClient.bind(store);
    let holding = false;
    let held = 0;
    let release = (): void => undefined;
    const released = new Promise<void>((resolve) => (release = resolve));
    store.subscriptionsByClient = async (client) => {
      if (holding) {
        held += 1;
        await released;
      }
      return byClient(client);
    };
    broker = createBroker({
      config: parseBrokerConfig({
        MQTT_HOST: '127.0.0.1',
        MQTT_PORT: '0',
        MQTT_SERVICE_TOKEN: SERVICE_TOKEN,
      }),
      registry: registry.store.devices,
      log: pino({ level: 'silent' }),
      persistence: store,
    });
    const { tcpPort } = await broker.listen();
    const url = `mqtt://127.0.0.1:${tcpPort}`;
    const session = {
      clientId: 'ingest',
      username: 'svc:ingest',
      password: SERVICE_TOKEN,
      clean: false,
      reconnectPeriod: 0,
    };
    const first = await connectClient(url, session);
    clients.push(first);
    await first.subscribeAsync(ALL_TELEMETRY, { qos: 1 });
    const firstClosed = new Promise<void>((resolve) => first.once('close', () => resolve()));

    holding = true;
    const second = mqtt.connect(url, { ...session, connectTimeout: 5_000 });
    second.on('error', () => undefined);
    await eventually(
      () => held,
      (n) => n === 1,
    );
    await second.endAsync(true);
    // The broker has seen the second connection go: one connection left.
    const b = broker;
    await eventually(
      () => b.counters.currentConnections,
      (n) => n === 1,
    );
    holding = false;
    release();
    expect(b.counters.currentClients).toBe(1);

    // [MQTT-3.1.4-2]: the broker closes the existing connection of a client id that connects again.
    const third = await connectClient(url, session);
    clients.push(third);
    await Promise.race([
      firstClosed,
      new Promise((_, reject) =>
        setTimeout(() => reject(new Error('the first connection was not taken over')), 5_000),
      ),
    ]);
    expect(b.counters.currentClients).toBe(1);
  }, 30_000);
});
