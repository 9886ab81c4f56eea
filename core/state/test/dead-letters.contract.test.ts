import { afterAll, describe, expect, it } from 'vitest';
import type { NewDeadLetter } from '../dead-letters/dead-letter-repository.js';
import { closeAll, STATE_BACKENDS } from './backends.js';

afterAll(closeAll);

const T0 = Date.UTC(2026, 0, 1);

const letter = (over: Partial<NewDeadLetter> = {}): NewDeadLetter => ({
  receivedAt: T0,
  topic: 'rf/v1/stk-1/telemetry',
  reason: 'MALFORMED_JSON',
  detail: 'Unexpected end of JSON input',
  payload: '{',
  ...over,
});

describe.each(STATE_BACKENDS)('dead letter repository on %s', (backend) => {
  it('when dead letters are added, then they read back newest first, whole, with or without a device', async () => {
    const state = await backend.open();
    await state.deadLetters.addDeadLetters([
      letter({ deviceId: 'stk-1' }),
      letter({ receivedAt: T0 + 1, topic: 'rf/v1/bogus', reason: 'UNKNOWN_TOPIC', payload: 'base64:AAE=' }),
    ]);
    const all = await state.deadLetters.listDeadLetters();
    expect(all.map(({ id: _id, ...rest }) => rest)).toEqual([
      letter({ receivedAt: T0 + 1, topic: 'rf/v1/bogus', reason: 'UNKNOWN_TOPIC', payload: 'base64:AAE=' }),
      letter({ deviceId: 'stk-1' }),
    ]);
    expect(all[0]?.id).toBeGreaterThan(all[1]?.id ?? Infinity);
    expect(all[0]).not.toHaveProperty('deviceId');
  });

  it('when dead letters are filtered and counted, then reason, device and limit apply', async () => {
    const state = await backend.open();
    await state.deadLetters.addDeadLetters([
      letter({ deviceId: 'stk-1' }),
      letter({ deviceId: 'stk-2', reason: 'SCHEMA_VIOLATION' }),
      letter({ deviceId: 'stk-1', reason: 'SCHEMA_VIOLATION' }),
      letter({ reason: 'FUTURE_TIMESTAMP' }),
    ]);
    const list = async (o?: Parameters<typeof state.deadLetters.listDeadLetters>[0]) =>
      (await state.deadLetters.listDeadLetters(o)).map((d) => `${d.reason}:${d.deviceId ?? '-'}`);
    expect(await list({ reason: 'SCHEMA_VIOLATION' })).toEqual([
      'SCHEMA_VIOLATION:stk-1',
      'SCHEMA_VIOLATION:stk-2',
    ]);
    expect(await list({ deviceId: 'stk-1' })).toEqual(['SCHEMA_VIOLATION:stk-1', 'MALFORMED_JSON:stk-1']);
    expect(await list({ deviceId: 'stk-1', reason: 'MALFORMED_JSON' })).toEqual(['MALFORMED_JSON:stk-1']);
    expect(await list({ limit: 1 })).toEqual(['FUTURE_TIMESTAMP:-']);
    // Out-of-range limits are clamped to 1 … 10,000.
    expect(await list({ limit: 0 })).toHaveLength(1);
    expect(await list({ limit: 1e9 })).toHaveLength(4);
    expect(await state.deadLetters.countDeadLetters()).toBe(4);
    expect(await state.deadLetters.countDeadLetters('SCHEMA_VIOLATION')).toBe(2);
    expect(await state.deadLetters.countDeadLetters('NOPE')).toBe(0);
  });

  it('when a batch is larger than one INSERT takes, then every letter is stored in order', async () => {
    const state = await backend.open();
    const batch = Array.from({ length: 2_500 }, (_, i) =>
      letter({ receivedAt: T0 + i, detail: `n${String(i)}` }),
    );
    await state.deadLetters.addDeadLetters(batch);
    expect(await state.deadLetters.countDeadLetters()).toBe(2_500);
    const newest = await state.deadLetters.listDeadLetters({ limit: 3 });
    expect(newest.map((d) => d.detail)).toEqual(['n2499', 'n2498', 'n2497']);
  });

  it('when a text holds U+0000, then the letter is stored with U+FFFD in its place (PostgreSQL TEXT cannot hold it)', async () => {
    const state = await backend.open();
    await state.deadLetters.addDeadLetters([
      letter({ deviceId: 'a\u0000b', detail: 'bad \u0000 value', payload: '{"x":"\u0000"}' }),
    ]);
    expect(await state.deadLetters.listDeadLetters()).toMatchObject([
      { deviceId: 'a\uFFFDb', detail: 'bad \uFFFD value', payload: '{"x":"\uFFFD"}' },
    ]);
  });
});
