import { describe, expect, it } from 'vitest';
import { checkPublish, checkSubscribe, checkWill, type Principal } from '../authorize.js';

const device: Principal = { kind: 'device', deviceId: 'stake-000001' };
const service: Principal = { kind: 'service', name: 'ingest' };
const anonymous: Principal = { kind: 'anonymous' };

describe('publish ACL', () => {
  it('when a device publishes to its own telemetry or status topic, then it is allowed', () => {
    expect(checkPublish(device, 'rf/v1/stake-000001/telemetry').allowed).toBe(true);
    expect(checkPublish(device, 'rf/v1/stake-000001/status').allowed).toBe(true);
  });

  it('when a device publishes to its cmd topic or another device’s topics, then it is refused without disconnecting', () => {
    for (const topic of [
      'rf/v1/stake-000001/cmd',
      'rf/v1/stake-000002/telemetry',
      'rf/v1/stake-000001/telemetry/x',
    ]) {
      expect(checkPublish(device, topic)).toMatchObject({ allowed: false, protocolViolation: false });
    }
  });

  it('when a service publishes to a device’s cmd topic, then it is allowed, and anywhere else refused', () => {
    expect(checkPublish(service, 'rf/v1/stake-000001/cmd').allowed).toBe(true);
    expect(checkPublish(service, 'rf/v1/stake-000001/telemetry').allowed).toBe(false);
    expect(checkPublish(service, 'rf/v1/no/cmd').allowed).toBe(false); // not a valid device id
  });

  it('when anyone publishes to a $ topic, then it is refused — even an anonymous development client', () => {
    expect(checkPublish(anonymous, '$SYS/broker/x').allowed).toBe(false);
    expect(checkPublish(anonymous, '$anything').allowed).toBe(false);
    expect(checkPublish(anonymous, 'any/topic').allowed).toBe(true);
  });

  it('when a topic name holds U+0000 or a wildcard, then it is a protocol violation [MQTT-4.7.3-2] [MQTT-3.3.2-2]', () => {
    expect(checkPublish(anonymous, 'a/\u0000/b')).toMatchObject({ allowed: false, protocolViolation: true });
    expect(checkPublish(anonymous, 'a/+/b')).toMatchObject({ allowed: false, protocolViolation: true });
    expect(checkPublish(anonymous, 'a/#')).toMatchObject({ allowed: false, protocolViolation: true });
  });
});

describe('subscribe ACL', () => {
  it('when a device subscribes, then only its own cmd topic is allowed', () => {
    expect(checkSubscribe(device, 'rf/v1/stake-000001/cmd').allowed).toBe(true);
    for (const filter of [
      'rf/v1/stake-000002/cmd',
      'rf/v1/+/cmd',
      'rf/v1/#',
      '#',
      'rf/v1/stake-000001/telemetry',
    ]) {
      expect(checkSubscribe(device, filter)).toMatchObject({ allowed: false, protocolViolation: false });
    }
  });

  it('when a service subscribes under rf/v1/, then it is allowed, and outside refused', () => {
    for (const filter of ['rf/v1/#', 'rf/v1/+/telemetry', 'rf/v1/+/status', 'rf/v1/stake-000001/cmd']) {
      expect(checkSubscribe(service, filter).allowed).toBe(true);
    }
    for (const filter of ['#', '+/v1/+/telemetry', '$SYS/#', 'rf/v2/#']) {
      expect(checkSubscribe(service, filter).allowed).toBe(false);
    }
  });

  it('when anyone asks for a shared subscription, then it is refused, since Aedes 1.x would treat it as a literal filter', () => {
    expect(checkSubscribe(service, '$share/ingest/rf/v1/+/telemetry')).toMatchObject({
      allowed: false,
      protocolViolation: false,
    });
    expect(checkSubscribe(anonymous, '$share/g/#').allowed).toBe(false);
  });
});

describe('will', () => {
  it('when a device’s will is its own status topic, then it is allowed, and any other topic refused', () => {
    expect(checkWill(device, 'rf/v1/stake-000001/status').allowed).toBe(true);
    expect(checkWill(device, 'rf/v1/stake-000001/telemetry').allowed).toBe(false);
    expect(checkWill(device, 'rf/v1/stake-000002/status').allowed).toBe(false);
  });

  it('when a service’s will is not a cmd topic, then it is refused', () => {
    expect(checkWill(service, 'rf/v1/stake-000001/status').allowed).toBe(false);
    expect(checkWill(service, 'rf/v1/stake-000001/cmd').allowed).toBe(true);
  });
});
