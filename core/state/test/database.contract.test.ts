import { afterAll, describe, expect, it } from 'vitest';
import type { RiskfuseError } from '../../errors.js';
import { isConstraintError } from '../database.js';
import { closeAll, STATE_BACKENDS } from './backends.js';

afterAll(closeAll);

const borrower = (id: string) =>
  [id, `name ${id}`, 'trading', 'north', 1] as const satisfies readonly (string | number)[];
const INSERT = 'INSERT INTO borrowers (id, name, sector, region, created_at) VALUES (?, ?, ?, ?, ?)';

describe.each(STATE_BACKENDS)('the state database on %s', (backend) => {
  it('when a transaction throws, then none of its writes (nested ones included) remain', async () => {
    const { db } = await backend.open();
    await expect(
      db.transaction(async () => {
        await db.run(INSERT, [...borrower('b1')]);
        await db.transaction(async () => db.run(INSERT, [...borrower('b2')]));
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(await db.all('SELECT id FROM borrowers')).toEqual([]);
  });

  it('when a statement outside a transaction runs while one is open, then it neither joins nor sees it', async () => {
    const { db } = await backend.open();
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const tx = db.transaction(async () => {
      await db.run(INSERT, [...borrower('inside')]);
      await held;
      throw new Error('rolled back');
    });
    // Outside: this write must survive the transaction's rollback, and it must not see the uncommitted row.
    const outside = db.run(INSERT, [...borrower('outside')]);
    const seen = db.all<{ id: string }>('SELECT id FROM borrowers ORDER BY id');
    await new Promise((r) => setTimeout(r, 50));
    release();
    await expect(tx).rejects.toThrow('rolled back');
    await outside;
    expect((await seen).map((r) => r.id)).not.toContain('inside');
    expect((await db.all<{ id: string }>('SELECT id FROM borrowers ORDER BY id')).map((r) => r.id)).toEqual([
      'outside',
    ]);
  });

  it('when a unique key is taken, then the error is a ConstraintError of kind unique (409)', async () => {
    const { db } = await backend.open();
    await db.run(INSERT, [...borrower('b1')]);
    const err = await db.run(INSERT, [...borrower('b1')]).catch((e: unknown) => e);
    expect(isConstraintError(err, 'unique')).toBe(true);
    expect((err as RiskfuseError).status).toBe(409);
  });

  it('when the audit log is updated or deleted, then the database refuses (append-only)', async () => {
    const { db } = await backend.open();
    await db.run("INSERT INTO audit_log (at, action, resource) VALUES (1, 'create', 'borrower')");
    for (const sql of ["UPDATE audit_log SET action = 'x'", 'DELETE FROM audit_log']) {
      const err = await db.run(sql).catch((e: unknown) => e);
      expect(isConstraintError(err, 'append-only')).toBe(true);
    }
    expect(await db.all('SELECT action FROM audit_log')).toEqual([{ action: 'create' }]);
  });

  it('when a statement failed inside a transaction and the caller swallowed it, then the commit is not reported as done', async () => {
    const { db } = await backend.open();
    const run = db.transaction(async () => {
      await db.run(INSERT, [...borrower('b1')]);
      await db.run('INSERT INTO no_such_table VALUES (1)').catch(() => undefined);
      return 'committed?';
    });
    if (db.dialect === 'postgres') {
      // PostgreSQL aborted the whole transaction at the failed statement: COMMIT answers ROLLBACK.
      await expect(run).rejects.toThrow(/rolled back/);
      expect(await db.all('SELECT id FROM borrowers')).toEqual([]);
    } else {
      // SQLite aborts only the statement: the rest commits, as the caller intended.
      await expect(run).resolves.toBe('committed?');
      expect(await db.all('SELECT id FROM borrowers')).toEqual([{ id: 'b1' }]);
    }
  });

  it('when two transactions try the same named lock, then the second is refused at once on PostgreSQL', async () => {
    const { db } = await backend.open();
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let firstGot: boolean | undefined;
    const first = db.transaction(async () => {
      firstGot = await db.tryLock('import:loans');
      await held;
    });
    while (firstGot === undefined) await new Promise((r) => setTimeout(r, 5));
    const second = db.transaction(() => db.tryLock('import:loans'));
    if (db.dialect === 'postgres') {
      expect(await second).toBe(false);
      release();
    } else {
      // SQLite runs write transactions one at a time: the second waits for the first, then gets the lock.
      release();
      expect(await second).toBe(true);
    }
    await first;
    expect(firstGot).toBe(true);
    await expect(db.tryLock('import:loans')).rejects.toThrow(/needs a transaction/);
  });
});
