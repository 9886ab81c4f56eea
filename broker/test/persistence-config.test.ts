import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../core/config.js';
import { stateConfigSpec } from '../../core/state/index.js';
import { parseBrokerConfig } from '../config.js';
import { BrokerPersistence } from '../persistence.js';
import {
  brokerPersistenceConfigSpec,
  brokerPersistencePath,
  openBrokerPersistence,
} from '../persistence-config.js';

const silent = pino({ level: 'silent' });
const dir = mkdtempSync(join(tmpdir(), 'riskfuse-broker-persistence-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('broker persistence configuration', () => {
  it('when nothing is set, then sessions are kept in SQLite at DATA_DIR/broker.db', () => {
    const cfg = parseConfig(brokerPersistenceConfigSpec, {});
    expect(cfg.persistence).toBe('sqlite');
    expect(brokerPersistencePath(cfg)).toBe(join('./data', 'broker.db'));
    expect(brokerPersistencePath(parseConfig(brokerPersistenceConfigSpec, { DATA_DIR: '/var/lib/rf' }))).toBe(
      join('/var/lib/rf', 'broker.db'),
    );
  });

  it('when MQTT_PERSISTENCE_PATH is set, then that file is used', () => {
    const cfg = parseConfig(brokerPersistenceConfigSpec, {
      MQTT_PERSISTENCE_PATH: '/srv/broker-sessions.db',
    });
    expect(brokerPersistencePath(cfg)).toBe('/srv/broker-sessions.db');
  });

  it('when MQTT_PERSISTENCE is none of sqlite, memory, redis, then parsing fails naming the variable and the choices', () => {
    expect(() => parseConfig(brokerPersistenceConfigSpec, { MQTT_PERSISTENCE: 'mongodb' })).toThrow(
      /MQTT_PERSISTENCE must be one of sqlite, memory, redis/,
    );
  });

  it('when parsed together with the broker and state store variables, then DATA_DIR is shared', () => {
    const cfg = parseBrokerConfig(
      { DATA_DIR: dir, MQTT_PERSISTENCE: 'memory' },
      { ...stateConfigSpec, ...brokerPersistenceConfigSpec },
    );
    expect(cfg).toMatchObject({ dataDir: dir, persistence: 'memory', port: 1883 });
  });

  it('when sqlite is configured, then the store is opened on that file (created with its folder) and works', async () => {
    const path = join(dir, 'nested', 'broker.db');
    const store = openBrokerPersistence(
      { dataDir: dir, persistence: 'sqlite', persistencePath: path },
      silent,
    );
    await store.setup({ id: 'broker-a' });
    await store.addSubscriptions({ id: 'ingest' }, [{ topic: 'rf/v1/+/telemetry', qos: 1 }]);
    expect(existsSync(path)).toBe(true);
    expect(store).not.toBeInstanceOf(BrokerPersistence);
    await store.destroy();
  });

  it('when memory is configured, then it is the in-memory store and no file is created', async () => {
    const store = openBrokerPersistence({ dataDir: join(dir, 'unused'), persistence: 'memory' }, silent);
    expect(store).toBeInstanceOf(BrokerPersistence);
    await store.setup({ id: 'broker-a' });
    await store.addSubscriptions({ id: 'ingest' }, [{ topic: 'rf/v1/+/telemetry', qos: 1 }]);
    expect((await store.subscriptionsByTopic('rf/v1/stake-1/telemetry')).map((s) => s.clientId)).toEqual([
      'ingest',
    ]);
    expect(existsSync(join(dir, 'unused'))).toBe(false);
    await store.destroy();
  });
});
