import { describe, expect, it } from 'vitest';
import type { Device } from '../../core/state/index.js';
import { classifyTelemetry } from '../validate.js';

const NOW = Date.UTC(2026, 5, 1, 12);
const limits = { maxPayloadBytes: 262_144, maxFutureSkewMs: 300_000 };
const stake: Device = {
  id: 'stk-b0001-l1',
  kind: 'stake',
  borrowerId: 'b0001',
  siteId: 's0001',
  lotId: 'l0001',
  status: 'active',
  createdAt: NOW,
};
const good = (seq: number, extra: Record<string, unknown> = {}) => ({
  ts: NOW - 1000,
  seq,
  weightKg: 12_500.5,
  itemCount: 250,
  lat: 31.2,
  lon: 121.5,
  tamper: false,
  temperatureC: 18.5,
  humidityPct: 55,
  batteryPct: 88,
  ...extra,
});
const buf = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v));
const classify = (payload: Buffer, ...device: [Device | undefined] | []) =>
  classifyTelemetry('stk-b0001-l1', device.length === 0 ? stake : device[0], payload, NOW, limits);

describe('classifyTelemetry', () => {
  it('when a valid single reading arrives, then it becomes one reading with registry identity and 0/1 booleans', () => {
    const { readings, rejections } = classify(buf(good(7, { tamper: true })));
    expect(rejections).toEqual([]);
    expect(readings).toHaveLength(1);
    expect(readings[0]).toMatchObject({
      kind: 'stake',
      deviceId: 'stk-b0001-l1',
      borrowerId: 'b0001',
      seq: 7,
    });
    expect(readings[0]?.fields).toMatchObject({ weightKg: 12_500.5, tamper: 1 });
    expect(readings[0]?.fields).not.toHaveProperty('ts');
  });

  it('when a batch mixes good and bad readings, then the good ones are kept and each bad one is rejected with its index', () => {
    const { readings, rejections } = classify(
      buf({ batch: [good(1), good(2, { humidityPct: 140 }), good(3)] }),
    );
    expect(readings.map((r) => r.seq)).toEqual([1, 3]);
    expect(rejections).toHaveLength(1);
    expect(rejections[0]?.reason).toBe('SCHEMA_VIOLATION');
    expect(rejections[0]?.detail).toContain('batch[1]');
    expect(rejections[0]?.detail).toContain('/humidityPct');
  });

  it('when the payload is not JSON, then it is rejected as MALFORMED_JSON with the payload kept', () => {
    const { readings, rejections } = classify(buf('{"ts": 1, "seq": '));
    expect(readings).toEqual([]);
    expect(rejections[0]).toMatchObject({ reason: 'MALFORMED_JSON', payload: '{"ts": 1, "seq": ' });
  });

  it('when a value overflows to Infinity or NaN is spelled out, then the reading is refused', () => {
    const inf = classify(buf(JSON.stringify(good(1)).replace('12500.5', '1e999')));
    expect(inf.rejections[0]?.reason).toBe('SCHEMA_VIOLATION');
    const nan = classify(buf(JSON.stringify(good(1)).replace('12500.5', 'NaN')));
    expect(nan.rejections[0]?.reason).toBe('MALFORMED_JSON');
  });

  it('when values are out of range or of the wrong type or unknown, then each is a schema violation', () => {
    for (const bad of [
      good(1, { lat: 91 }),
      good(1, { weightKg: -5 }),
      good(1, { weightKg: '5' }),
      good(1, { itemCount: 2.5 }),
      good(1, { extra: 1 }),
      { ...good(1), seq: undefined },
      good(1, { seq: -1 }),
    ]) {
      expect(classify(buf(bad)).rejections[0]?.reason, JSON.stringify(bad)).toBe('SCHEMA_VIOLATION');
    }
  });

  it('when a timestamp is far in the future, then it is rejected; within the skew it is accepted', () => {
    expect(classify(buf(good(1, { ts: NOW + 3_600_000 }))).rejections[0]?.reason).toBe('FUTURE_TIMESTAMP');
    expect(classify(buf(good(1, { ts: NOW + 60_000 }))).readings).toHaveLength(1);
  });

  it('when the device is unknown or revoked, then nothing is stored and the reason says which', () => {
    expect(classify(buf(good(1)), undefined).rejections[0]?.reason).toBe('UNKNOWN_DEVICE');
    expect(classify(buf(good(1)), { ...stake, status: 'revoked' }).rejections[0]?.reason).toBe(
      'DEVICE_REVOKED',
    );
  });

  it('when a payload is larger than the limit, then it is rejected without parsing and the stored copy is truncated', () => {
    const big = Buffer.alloc(10 * 1024 * 1024, 'a');
    const { rejections } = classify(big);
    expect(rejections[0]?.reason).toBe('PAYLOAD_TOO_LARGE');
    expect(rejections[0]?.payload.length).toBeLessThan(5000);
  });

  it('when a batch is empty or too large, then it is refused whole', () => {
    expect(classify(buf({ batch: [] })).rejections[0]?.reason).toBe('EMPTY_BATCH');
    const many = Array.from({ length: 1001 }, (_, i) => good(i));
    expect(classify(buf({ batch: many })).rejections[0]?.reason).toBe('BATCH_TOO_LARGE');
  });

  it('when a reading comes from a helmet, then it is checked against the helmet contract, not the stake one', () => {
    const helmet: Device = { ...stake, id: 'hlm-b0001-1', kind: 'helmet' };
    const { rejections } = classifyTelemetry('hlm-b0001-1', helmet, buf(good(1)), NOW, limits);
    expect(rejections[0]?.reason).toBe('SCHEMA_VIOLATION');
  });
});

describe('classifyTelemetry edge cases', () => {
  it('when a reading carries a stray batch key, then the whole message is refused, not half-read', () => {
    const { readings, rejections } = classify(buf({ ...good(1_000_001), batch: [good(1)] }));
    expect(readings).toEqual([]);
    expect(rejections[0]?.reason).toBe('SCHEMA_VIOLATION');
    expect(rejections[0]?.detail).toContain('"seq"');
  });

  it('when a large text payload is cut inside a multi-byte character, then it is still stored as text', () => {
    const { rejections } = classifyTelemetry(
      'stk-b0001-l1',
      stake,
      Buffer.from(`a${'é'.repeat(200_000)}`),
      NOW,
      limits,
    );
    expect(rejections[0]?.reason).toBe('PAYLOAD_TOO_LARGE');
    expect(rejections[0]?.payload.startsWith('aé')).toBe(true);
  });

  it('when a batch item holds a number JSON cannot carry back, then the raw message is kept', () => {
    const raw = JSON.stringify({ batch: [good(1), good(2)] }).replace('12500.5', '1e999');
    const { rejections } = classify(buf(raw));
    expect(rejections[0]?.detail).toContain('batch[0]');
    expect(rejections[0]?.payload).toContain('1e999');
  });
});
