import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import type { SuppressedAlert, Suppression } from '../index.js';
import { STATE_BACKENDS, closeAll } from './backends.js';

const T0 = 1_700_000_000_000;
const H = 3_600_000;

const suppression = (over: Partial<Suppression> = {}): Suppression => ({
  id: `sup_${randomBytes(12).toString('hex')}`,
  kind: 'maintenance',
  scopeKind: 'lot',
  scopeId: 'lot-1',
  ruleId: 'weight-drop',
  reason: 'stake recalibration',
  fromMs: T0,
  untilMs: T0 + 4 * H,
  createdBy: 'key_ops',
  createdAt: T0 - H,
  suppressed: 0,
  ...over,
});

const held = (over: Partial<SuppressedAlert> = {}): SuppressedAlert => ({
  id: `sal_${randomBytes(12).toString('hex')}`,
  cause: 'maintenance',
  ruleId: 'weight-drop',
  severity: 'critical',
  subjectKind: 'lot',
  subjectId: 'lot-1',
  borrowerId: 'b1',
  deviceId: 'stk-lot-1',
  lotId: 'lot-1',
  title: 'weight drop on lot-1',
  evidence: { weightKg: 400, baselineKg: 1000 },
  at: T0 + H,
  ...over,
});

describe.each(STATE_BACKENDS)('suppression repository on %s', (backend) => {
  afterAll(closeAll);

  it('when a suppression is inserted, then it reads back field for field, optional fields absent when not set', async () => {
    const { suppressions } = await backend.open();
    const full = suppression();
    const { ruleId: _r, ...bare } = suppression({ kind: 'snooze', scopeKind: 'borrower', scopeId: 'b2' });
    await suppressions.insertSuppression(full);
    await suppressions.insertSuppression(bare);
    expect(await suppressions.getSuppression(full.id)).toEqual(full);
    expect(await suppressions.getSuppression(bare.id)).toEqual(bare);
    expect(await suppressions.getSuppression('sup_missing')).toBeUndefined();
  });

  it('when suppressions are listed active at a time, then only those in force then and not revoked come back, newest first', async () => {
    const { suppressions } = await backend.open();
    const early = suppression({ fromMs: T0, untilMs: T0 + H, createdAt: T0 - 3 });
    const late = suppression({ fromMs: T0 + 2 * H, untilMs: T0 + 3 * H, createdAt: T0 - 2 });
    const wide = suppression({
      scopeKind: 'device',
      scopeId: 'hlm-1',
      untilMs: T0 + 9 * H,
      createdAt: T0 - 1,
    });
    for (const s of [early, late, wide]) await suppressions.insertSuppression(s);
    const ids = async (q: Parameters<typeof suppressions.listSuppressions>[0]) =>
      (await suppressions.listSuppressions(q)).map((s) => s.id);
    expect(await ids({ limit: 10 })).toEqual([wide.id, late.id, early.id]);
    expect(await ids({ limit: 10, activeAt: T0 + H / 2 })).toEqual([wide.id, early.id]);
    // until is exclusive, from inclusive
    expect(await ids({ limit: 10, activeAt: T0 + H })).toEqual([wide.id]);
    expect(await ids({ limit: 10, activeAt: T0 + 2 * H })).toEqual([wide.id, late.id]);
    expect(await ids({ limit: 10, scopeKind: 'device', scopeId: 'hlm-1' })).toEqual([wide.id]);
    expect(await ids({ limit: 1 })).toEqual([wide.id]);
    expect((await suppressions.listCurrent(T0 + 1.5 * H)).map((s) => s.id)).toEqual([wide.id, late.id]);

    expect(await suppressions.revokeSuppression(wide.id, 'key_officer', T0 + 30)).toBe(true);
    expect(await ids({ limit: 10, activeAt: T0 + H / 2 })).toEqual([early.id]);
    expect((await suppressions.listCurrent(T0)).map((s) => s.id)).toEqual([early.id, late.id]);
    expect(await suppressions.getSuppression(wide.id)).toEqual({
      ...wide,
      revokedAt: T0 + 30,
      revokedBy: 'key_officer',
    });
  });

  it('when a suppression is revoked twice or does not exist, then the second and the unknown one report false and change nothing', async () => {
    const { suppressions } = await backend.open();
    const s = suppression();
    await suppressions.insertSuppression(s);
    expect(await suppressions.revokeSuppression(s.id, 'key_a', T0 + 1)).toBe(true);
    expect(await suppressions.revokeSuppression(s.id, 'key_b', T0 + 2)).toBe(false);
    expect(await suppressions.revokeSuppression('sup_missing', 'key_b', T0 + 2)).toBe(false);
    expect((await suppressions.getSuppression(s.id))?.revokedBy).toBe('key_a');
  });

  it('when openings are held back, then each reads back with its cause, the holding suppression counts it, and they list newest first by suppression and borrower', async () => {
    const state = await backend.open();
    const { suppressions } = state;
    const s = suppression();
    await suppressions.insertSuppression(s);
    const a = held({ suppressionId: s.id, at: T0 + H });
    const b = held({ suppressionId: s.id, at: T0 + 2 * H, subjectId: 'lot-2', lotId: 'lot-2' });
    const {
      borrowerId: _b,
      deviceId: _d,
      lotId: _l,
      ...flap
    } = held({
      cause: 'flapping',
      ruleId: 'geofence',
      at: T0 + 3 * H,
    });
    // Recorded inside the caller's transaction, as the engine does with the alert changes of a job.
    await state.transaction(async () => {
      await suppressions.recordSuppressed(a);
      await suppressions.recordSuppressed(b);
      await suppressions.recordSuppressed(flap);
    });
    expect((await suppressions.getSuppression(s.id))?.suppressed).toBe(2);
    expect(await suppressions.listSuppressed({ limit: 10 })).toEqual([flap, b, a]);
    expect(await suppressions.listSuppressed({ limit: 10, suppressionId: s.id })).toEqual([b, a]);
    expect(await suppressions.listSuppressed({ limit: 10, borrowerId: 'b1' })).toEqual([b, a]);
    expect(await suppressions.listSuppressed({ limit: 1 })).toEqual([flap]);
  });

  it('when the transaction recording a held-back opening rolls back, then neither the record nor the count remains', async () => {
    const state = await backend.open();
    const s = suppression();
    await state.suppressions.insertSuppression(s);
    await expect(
      state.transaction(async () => {
        await state.suppressions.recordSuppressed(held({ suppressionId: s.id }));
        throw new Error('store down');
      }),
    ).rejects.toThrow('store down');
    expect((await state.suppressions.getSuppression(s.id))?.suppressed).toBe(0);
    expect(await state.suppressions.listSuppressed({ limit: 10 })).toEqual([]);
  });
});
