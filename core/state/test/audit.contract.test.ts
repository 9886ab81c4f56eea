import { afterAll, describe, expect, it } from 'vitest';
import { isConstraintError } from '../database.js';
import { closeAll, STATE_BACKENDS } from './backends.js';

afterAll(closeAll);

const T0 = Date.UTC(2026, 0, 1);

describe.each(STATE_BACKENDS)('audit repository on %s', (backend) => {
  it('when the audit log is written, then entries read back newest first and UPDATE or DELETE is refused', async () => {
    const state = await backend.open();
    const first = await state.audit.appendAudit({
      at: T0,
      actorKeyId: 'k1',
      actorRole: 'admin',
      action: 'update',
      resource: 'borrower',
      resourceId: 'b1',
      before: { name: 'Grain Co' },
      after: { name: 'Grain Co Ltd' },
      requestId: 'req-1',
    });
    const second = await state.audit.appendAudit({
      at: T0 + 1,
      action: 'create',
      resource: 'api-key',
      resourceId: 'k2',
    });
    expect(second).toBeGreaterThan(first);
    const all = await state.audit.listAudit({ limit: 10 });
    expect(all.map((e) => e.id)).toEqual([second, first]);
    expect(all[1]).toEqual({
      id: first,
      at: T0,
      actorKeyId: 'k1',
      actorRole: 'admin',
      action: 'update',
      resource: 'borrower',
      resourceId: 'b1',
      before: { name: 'Grain Co' },
      after: { name: 'Grain Co Ltd' },
      requestId: 'req-1',
    });
    expect(all[0]).toEqual({
      id: second,
      at: T0 + 1,
      action: 'create',
      resource: 'api-key',
      resourceId: 'k2',
    });
    expect((await state.audit.listAudit({ limit: 10, beforeId: second })).map((e) => e.id)).toEqual([first]);
    expect(await state.audit.listAudit({ limit: 10, resource: 'api-key' })).toHaveLength(1);

    const update = await state.db.run('UPDATE audit_log SET action = ?', ['x']).catch((err: unknown) => err);
    expect(isConstraintError(update, 'append-only')).toBe(true);
    expect((update as Error).message).toMatch(/append-only/);
    const remove = await state.db.run('DELETE FROM audit_log').catch((err: unknown) => err);
    expect(isConstraintError(remove, 'append-only')).toBe(true);
    expect(await state.audit.listAudit({ limit: 10 })).toHaveLength(2);
  });

  it('when the log is filtered and paged, then every filter narrows it and pages never overlap', async () => {
    const state = await backend.open();
    const ids: number[] = [];
    for (let i = 0; i < 6; i++) {
      ids.push(
        await state.audit.appendAudit({
          at: T0 + i,
          actorKeyId: i % 2 === 0 ? 'k1' : 'k2',
          action: i < 3 ? 'create' : 'delete',
          resource: 'borrower',
          resourceId: `b${String(i % 3)}`,
          after: i,
        }),
      );
    }
    const newestFirst = [...ids].reverse();
    const page1 = await state.audit.listAudit({ limit: 4 });
    const page2 = await state.audit.listAudit({ limit: 4, beforeId: page1.at(-1)?.id ?? 0 });
    expect([...page1, ...page2].map((e) => e.id)).toEqual(newestFirst);
    expect(page2.map((e) => e.after)).toEqual([1, 0]);
    const byActor = await state.audit.listAudit({ limit: 10, actorKeyId: 'k2' });
    expect(byActor.map((e) => e.id)).toEqual([ids[5], ids[3], ids[1]]);
    const deletesOfB0 = await state.audit.listAudit({
      limit: 10,
      action: 'delete',
      resource: 'borrower',
      resourceId: 'b0',
    });
    expect(deletesOfB0.map((e) => e.id)).toEqual([ids[3]]);
    expect(await state.audit.listAudit({ limit: 10, resource: 'site' })).toEqual([]);
  });
});
