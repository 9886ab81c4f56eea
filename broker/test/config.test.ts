import { describe, expect, it } from 'vitest';
import { describeConfig } from '../../core/config.js';
import { RiskfuseError } from '../../core/errors.js';
import { brokerConfigSpec, parseBrokerConfig } from '../config.js';

function problems(env: Record<string, string>): string[] {
  try {
    parseBrokerConfig(env);
  } catch (err) {
    if (err instanceof RiskfuseError && err.code === 'CONFIG_INVALID') return err.details as string[];
    throw err;
  }
  return [];
}

describe('broker configuration', () => {
  it('when nothing is set, then the defaults apply and WebSocket, TLS and service logins are off', () => {
    const config = parseBrokerConfig({});
    expect(config).toMatchObject({
      host: '0.0.0.0',
      port: 1883,
      maxPayloadBytes: 262_144,
      devAnonymous: false,
      connectTimeoutMs: 10_000,
    });
    expect(config.wsPort).toBeUndefined();
    expect(config.tlsPort).toBeUndefined();
    expect(config.serviceToken).toBeUndefined();
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('when several variables are wrong, then every problem is reported at once', () => {
    expect(
      problems({
        MQTT_PORT: 'x',
        MQTT_TLS_PORT: '8883',
        MQTT_SERVICE_TOKEN: 'short',
        MQTT_DEV_ANONYMOUS: 'maybe',
      }),
    ).toEqual([
      'MQTT_PORT must be a number, got "x"',
      'MQTT_DEV_ANONYMOUS must be true or false, got "maybe"',
      'MQTT_TLS_PORT needs MQTT_TLS_CERT_FILE and MQTT_TLS_KEY_FILE',
      'MQTT_SERVICE_TOKEN must be at least 16 characters',
    ]);
  });

  it('when a certificate is given without a TLS port, then that is reported instead of silently ignored', () => {
    expect(problems({ MQTT_TLS_CERT_FILE: '/x.pem', MQTT_TLS_KEY_FILE: '/k.pem' })).toHaveLength(1);
  });

  it('when the help table is printed, then the service token shows as a secret without a default', () => {
    const table = describeConfig(brokerConfigSpec);
    expect(table).toContain('| `MQTT_SERVICE_TOKEN` |');
    expect(table).toMatch(/MQTT_SERVICE_TOKEN.*\(secret, no default\)/);
    expect(table).toMatch(/MQTT_MAX_PAYLOAD_BYTES.*\| bytes \| `262144` \|/);
  });
});
