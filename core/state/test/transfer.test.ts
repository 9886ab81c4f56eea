import { afterAll, describe, expect, it } from 'vitest';
import { RiskfuseError } from '../../errors.js';
import type { State } from '../state.js';
import { schemaTables, TABLE_ORDER } from '../transfer/tables.js';
import { exportState, importState } from '../transfer/transfer.js';
import { closeAll, postgresBackend, sqliteBackend, STATE_BACKENDS } from './backends.js';

afterAll(closeAll);

async function lines(state: State): Promise<string[]> {
  const out: string[] = [];
  for await (const line of exportState(state.db)) out.push(line);
  return out;
}

async function* iterate(list: readonly string[]): AsyncGenerator<string> {
  for (const l of list) yield await Promise.resolve(l);
}

/** A small state touching the tables with generated ids, a self reference and the dispatcher singleton. */
async function seed(state: State): Promise<void> {
  await state.portfolio.upsertBorrowers([
    { id: 'b1', name: 'Acme Grain', sector: 'agriculture', region: 'north', createdAt: 1_000 },
    { id: 'b2', name: 'Steel & Co', sector: 'trading', region: 'south', createdAt: 2_000 },
  ]);
  await state.portfolio.upsertSites([
    {
      id: 's1',
      borrowerId: 'b1',
      name: 'Silo',
      kind: 'warehouse',
      lat: 1,
      lon: 2,
      geofence: [
        [1, 2],
        [1, 3],
        [2, 3],
      ],
    },
  ]);
  await state.apiKeys.createApiKey(
    { id: 'k1', name: 'first', role: 'admin', createdAt: 10 },
    { salt: 's', keyHash: 'h' },
  );
  await state.apiKeys.createApiKey(
    { id: 'k0', name: 'rotated', role: 'admin', createdAt: 20, rotatedFrom: 'k1' },
    { salt: 's', keyHash: 'h2' },
  );
  for (let i = 0; i < 3; i++)
    await state.audit.appendAudit({ at: 100 + i, action: 'create', resource: 'borrower' });
  await state.deadLetters.addDeadLetters([
    { receivedAt: 5, topic: 'rf/v1/x/telemetry', reason: 'MALFORMED_JSON', detail: 'd', payload: 'p' },
  ]);
  await state.outbox.append([{ id: 'evt_1', type: 'alert.opened', occurredAt: 7, data: { a: 1 } }]);
}

describe('state export and import', () => {
  it.each(STATE_BACKENDS)(
    'when the schema on %s is listed, then every table is in TABLE_ORDER',
    async (b) => {
      const state = await b.open();
      expect((await schemaTables(state.db)).filter((t) => !TABLE_ORDER.includes(t))).toEqual([]);
    },
  );

  it('when an embedded state is exported and imported into PostgreSQL and back, then rows and ids are equal', async () => {
    const source = await sqliteBackend.open();
    await seed(source);
    const exported = await lines(source);

    const pg = await postgresBackend.open();
    const counts = await importState(pg.db, iterate(exported));
    expect(counts.borrowers).toBe(2);
    expect(counts.audit_log).toBe(3);
    expect((await pg.audit.listAudit({ limit: 10 })).map((e) => e.id)).toEqual([3, 2, 1]);
    expect((await pg.apiKeys.getApiKey('k0'))?.rotatedFrom).toBe('k1');
    // New rows continue after the copied ids instead of colliding with them.
    expect(await pg.audit.appendAudit({ at: 200, action: 'update', resource: 'borrower' })).toBe(4);
    expect(await pg.outbox.lastSeq()).toBe(1);

    const back = await sqliteBackend.open();
    await importState(back.db, iterate(await lines(pg)));
    const again = await lines(back);
    // Same rows (the header's time and source differ).
    expect(again.slice(1).filter((l) => !l.includes('"audit_log"'))).toEqual(
      exported.slice(1).filter((l) => !l.includes('"audit_log"')),
    );
    expect(await back.audit.appendAudit({ at: 300, action: 'update', resource: 'borrower' })).toBe(5);
  });

  it.each(STATE_BACKENDS)(
    'when the target on %s already holds state, then the import is refused and changes nothing',
    async (b) => {
      const source = await sqliteBackend.open();
      await seed(source);
      const target = await b.open();
      await target.portfolio.upsertBorrowers([
        { id: 'other', name: 'Other', sector: 'trading', region: 'east', createdAt: 1 },
      ]);
      await expect(importState(target.db, iterate(await lines(source)))).rejects.toThrow(
        /already holds state/,
      );
      expect((await target.portfolio.listBorrowers()).map((x) => x.id)).toEqual(['other']);
    },
  );

  it.each(STATE_BACKENDS)(
    'when an export of another schema version is imported on %s, then it is refused',
    async (b) => {
      const source = await sqliteBackend.open();
      const exported = await lines(source);
      const header = JSON.parse(exported[0] ?? '{}') as Record<string, unknown>;
      const target = await b.open();
      const err = await importState(
        target.db,
        iterate([JSON.stringify({ ...header, schemaVersion: 999 }), ...exported.slice(1)]),
      ).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RiskfuseError);
      expect((err as RiskfuseError).message).toMatch(/schema version 999/);
    },
  );

  it.each(STATE_BACKENDS)(
    'when a row in the file breaks a constraint on %s, then nothing of the file is imported',
    async (b) => {
      const source = await sqliteBackend.open();
      await seed(source);
      const exported = await lines(source);
      // A site of a borrower that is not in the file: the foreign key refuses it, after the borrowers went in.
      const broken = [
        ...exported,
        JSON.stringify({
          t: 'sites',
          r: { id: 's9', borrower_id: 'nobody', name: 'x', kind: 'yard', lat: 0, lon: 0, geofence: '[]' },
        }),
      ];
      const target = await b.open();
      await expect(importState(target.db, iterate(broken))).rejects.toThrow();
      expect(await target.portfolio.listBorrowers()).toEqual([]);
    },
  );
});
