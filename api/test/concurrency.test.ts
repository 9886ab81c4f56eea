import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyToken } from '../../core/credentials.js';
import { openTestState } from '../../core/state/test/backends.js';
import { bootstrapAdminKey } from '../auth.js';
import { seedPortfolio, startTestApi, T0, type TestApi } from './support.js';

/** The status codes of responses, in ascending order (which request won a race is not the point). */
/** Requests fired at once in each race. */
const RACERS = 4;
const losers = (status: number): number[] => Array.from({ length: RACERS - 1 }, () => status);

const statuses = (responses: readonly { statusCode: number }[]): number[] =>
  responses.map((r) => r.statusCode).sort((a, b) => a - b);

/**
 * Requests that race: fired together with `Promise.all(app.inject…)`. On PostgreSQL (RISKFUSE_TEST_STATE=
 * postgres) they run in concurrent transactions, so these check the isolation of each check-then-write route;
 * on SQLite write transactions run one at a time, and the same outcomes must hold.
 */
describe('concurrent requests', () => {
  let t: TestApi;
  beforeAll(async () => {
    t = await startTestApi();
    await seedPortfolio(t.state);
    // Every pooled PostgreSQL connection opened beforehand: a request waiting for a new connection would start
    // its transaction only after the other's had committed, and the race would not happen.
    await Promise.all(
      Array.from({ length: RACERS * 2 }, () =>
        t.app.inject({ url: '/v1/borrowers', headers: t.auth('auditor') }),
      ),
    );
  });
  afterAll(() => t.close());

  const admin = () => t.auth('admin');
  const race = (request: InjectOptions) =>
    Promise.all(Array.from({ length: RACERS }, () => t.app.inject(request)));
  const auditOf = async (query: string) =>
    (await t.app.inject({ url: `/v1/audit?${query}`, headers: t.auth('auditor') })).json<{
      items: { action: string; after?: Record<string, unknown> }[];
    }>().items;

  it('when several requests create the same borrower at once, then one is 201, the others 409, and one entry is audited', async () => {
    const payload = { id: 'race-b', name: 'Race Co', sector: 'trading', region: 'west' };
    const responses = await race({ method: 'POST', url: '/v1/borrowers', headers: admin(), payload });
    expect(statuses(responses)).toEqual([201, ...losers(409)]);
    expect(responses.find((r) => r.statusCode === 409)?.json()).toMatchObject({
      code: 'CONFLICT',
      detail: 'borrower race-b exists',
    });
    expect(await auditOf('resource=borrower&resourceId=race-b')).toHaveLength(1);
    expect(await t.state.portfolio.getBorrower('race-b')).toMatchObject({ name: 'Race Co' });
  });

  it('when several requests provision the same device at once, then one is 201, the others 409, and one token works', async () => {
    const payload = { id: 'race-d', kind: 'stake', borrowerId: 'b1', siteId: 's1', lotId: 'l1' };
    const responses = await race({ method: 'POST', url: '/v1/devices', headers: admin(), payload });
    expect(statuses(responses)).toEqual([201, ...losers(409)]);
    expect(await auditOf('resource=device&resourceId=race-d')).toHaveLength(1);
    const token = responses.find((r) => r.statusCode === 201)?.json<{ token: string }>().token ?? '';
    const creds = await t.state.devices.getCredentials('race-d');
    expect(creds !== undefined && verifyToken(token, creds)).toBe(true);
  });

  it('when several requests delete the same borrower at once, then one is 204, the others 404, and one deletion is audited', async () => {
    await t.state.portfolio.upsertBorrowers([
      { id: 'race-gone', name: 'Gone', sector: 'trading', region: 'west', createdAt: T0 },
    ]);
    const responses = await race({ method: 'DELETE', url: '/v1/borrowers/race-gone', headers: admin() });
    expect(statuses(responses)).toEqual([204, ...losers(404)]);
    expect(await auditOf('action=delete&resource=borrower&resourceId=race-gone')).toHaveLength(1);
  });

  it('when the last two admin keys are revoked at once, then one revocation is refused and one admin key stays active', async () => {
    const created = await t.app.inject({
      method: 'POST',
      url: '/v1/api-keys',
      headers: admin(),
      payload: { name: 'second admin', role: 'admin' },
    });
    const second = created.json<{ apiKey: { id: string } }>().apiKey.id;
    const first = (await t.state.apiKeys.listApiKeys()).find((k) => k.name === 'initial admin')?.id ?? '';
    expect(await t.state.apiKeys.countActiveApiKeys('admin')).toBe(2);
    const responses = await Promise.all(
      [first, second].map((id) =>
        t.app.inject({ method: 'DELETE', url: `/v1/api-keys/${id}`, headers: t.auth('admin') }),
      ),
    );
    expect(statuses(responses)).toEqual([200, 409]);
    expect(responses.find((r) => r.statusCode === 409)?.json<{ detail: string }>().detail).toMatch(
      /last active admin key/,
    );
    expect(await t.state.apiKeys.countActiveApiKeys('admin')).toBe(1);
    expect(await auditOf('action=revoke&resource=api-key')).toHaveLength(1);
  });
});

describe('concurrent loan imports', () => {
  let t: TestApi;
  beforeAll(async () => {
    t = await startTestApi();
    await seedPortfolio(t.state);
  });
  afterAll(() => t.close());

  // Large enough that the first import still holds its lock when the second asks for it (hundreds of ms).
  const ROWS = 20_000;
  const loans = Array.from({ length: ROWS }, (_, i) => ({
    id: `race-ln${String(i).padStart(5, '0')}`,
    borrowerId: i % 2 === 0 ? 'b1' : 'b2',
    // Small amounts: 10,000 loans per borrower stay under the lending policy's default per-borrower cap.
    principal: 10 + (i % 50),
    currency: 'EUR',
    annualRatePct: 5,
    startAt: T0,
    termDays: 90,
    status: 'active' as const,
  }));
  const csv =
    'id,borrowerId,principal,currency,annualRatePct,startAt,termDays,status\n' +
    loans
      .map((l) => [l.id, l.borrowerId, l.principal, l.currency, 5, T0, 90, 'active'].join(','))
      .join('\n') +
    '\n';

  it('when the same file is imported twice at once, then PostgreSQL refuses the second (409, retryable) and SQLite runs it after the first, all unchanged', async () => {
    const post = () =>
      t.app.inject({
        method: 'POST',
        url: '/v1/imports/loans',
        headers: { ...t.auth('officer'), 'content-type': 'text/csv' },
        payload: csv,
      });
    const responses = await Promise.all([post(), post()]);
    const ok = responses.filter((r) => r.statusCode === 200);
    const imports = (
      await t.app.inject({ url: '/v1/audit?action=import&resource=loans', headers: t.auth('auditor') })
    ).json<{ items: unknown[] }>().items;

    if (t.state.db.dialect === 'postgres') {
      expect(statuses(responses)).toEqual([200, 409]);
      expect(responses.find((r) => r.statusCode === 409)?.json()).toMatchObject({
        code: 'CONFLICT',
        detail: 'another loans import is running; retry when it has finished',
      });
      expect(ok[0]?.json()).toMatchObject({ created: ROWS, unchanged: 0, rejected: 0, applied: true });
      // The refused import wrote nothing: no second audit entry.
      expect(imports).toHaveLength(1);
    } else {
      expect(statuses(responses)).toEqual([200, 200]);
      const reports = ok
        .map((r) => r.json<{ created: number; unchanged: number }>())
        .sort((a, b) => b.created - a.created);
      expect(reports).toMatchObject([
        { created: ROWS, unchanged: 0 },
        { created: 0, updated: 0, unchanged: ROWS },
      ]);
      expect(imports).toHaveLength(2);
    }
    // Either way the loan book is that of one import.
    expect(await t.state.loans.queryLoans({ limit: ROWS + 1 })).toEqual(loans);
  });

  it('when a loans import runs while a repayments import does, then both proceed (the lock is per kind)', async () => {
    await t.state.loans.upsertLoans([{ ...loans[0]!, id: 'race-parent' }]);
    const [ln, rp] = await Promise.all([
      t.app.inject({
        method: 'POST',
        url: '/v1/imports/loans',
        headers: t.auth('officer'),
        payload: { items: [{ ...loans[1], id: 'race-other' }] },
      }),
      t.app.inject({
        method: 'POST',
        url: '/v1/imports/repayments',
        headers: t.auth('officer'),
        payload: {
          items: [{ id: 'race-r1', loanId: 'race-parent', dueAt: T0, amountDue: 10, amountPaid: 0 }],
        },
      }),
    ]);
    expect([ln?.statusCode, rp?.statusCode]).toEqual([200, 200]);
    expect(await t.state.loans.getRepayment('race-r1')).toBeDefined();
  });
});

describe('concurrent first starts', () => {
  it('when several API processes bootstrap the admin key at once, then exactly one key is created', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rf-boot-'));
    const state = await openTestState(dir);
    try {
      // Connections opened beforehand, so that the bootstraps' transactions do overlap on PostgreSQL.
      await Promise.all(Array.from({ length: RACERS * 2 }, () => state.apiKeys.listApiKeys()));
      const results = await Promise.all(
        Array.from({ length: RACERS }, () => bootstrapAdminKey(state, undefined)),
      );
      expect(results.filter((r) => r.created)).toHaveLength(1);
      const keys = await state.apiKeys.listApiKeys();
      expect(keys).toHaveLength(1);
      const created = results.find((r) => r.created);
      expect(keys[0]?.id).toBe(created?.created === true ? created.key.id : undefined);
      expect((await state.audit.listAudit({ limit: 10 })).map((e) => e.resourceId)).toEqual([keys[0]?.id]);
    } finally {
      await state.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
