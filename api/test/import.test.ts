import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loan, seedPortfolio, snapshot, startTestApi, T0, type TestApi } from './support.js';

const DAY_MS = 86_400_000;

interface Report {
  kind: string;
  mode: string;
  applied: boolean;
  total: number;
  created: number;
  updated: number;
  unchanged: number;
  rejected: number;
  rejections: {
    index: number;
    line?: number;
    id?: string;
    column?: string;
    reason: string;
    message: string;
  }[];
}

describe('loan-data import (JSON)', () => {
  let t: TestApi;
  beforeAll(async () => {
    t = await startTestApi();
    await seedPortfolio(t.state);
  });
  afterAll(() => t.close());

  const post = (kind: string, payload: unknown, query = '') =>
    t.app.inject({
      method: 'POST',
      url: `/v1/imports/${kind}${query}`,
      headers: t.auth('officer'),
      payload: payload as object,
    });

  it('when loans are imported, then they are created; the same batch again is unchanged; a changed row is updated', async () => {
    const first = await post('loans', { items: [loan('ln1'), loan('ln2', { borrowerId: 'b2' })] });
    expect(first.statusCode).toBe(200);
    expect(first.json<Report>()).toMatchObject({
      applied: true,
      total: 2,
      created: 2,
      updated: 0,
      unchanged: 0,
      rejected: 0,
    });
    const state = await snapshot(t.state);
    const again = await post('loans', { items: [loan('ln1'), loan('ln2', { borrowerId: 'b2' })] });
    expect(again.json<Report>()).toMatchObject({ created: 0, updated: 0, unchanged: 2 });
    const { audit_log: _a, ...loansAfter } = await snapshot(t.state);
    const { audit_log: _b, ...loansBefore } = state;
    expect(loansAfter).toEqual(loansBefore);
    const changed = await post('loans', {
      items: [
        loan('ln1', { status: 'defaulted', defaultedAt: T0 + 90 * DAY_MS }),
        loan('ln2', { borrowerId: 'b2' }),
      ],
    });
    expect(changed.json<Report>()).toMatchObject({ created: 0, updated: 1, unchanged: 1 });
    expect(await t.state.loans.getLoan('ln1')).toMatchObject({
      status: 'defaulted',
      defaultedAt: T0 + 90 * DAY_MS,
    });
    const audit = await t.app.inject({
      url: '/v1/audit?action=import&resource=loans',
      headers: t.auth('auditor'),
    });
    const [latest] = audit.json<{
      items: { before: { updated: { id: string; status: string }[] }; after: { updated: number } }[];
    }>().items;
    expect(latest?.before.updated).toEqual([expect.objectContaining({ id: 'ln1', status: 'active' })]);
    expect(latest?.after.updated).toBe(1);
  });

  it('when any row of an atomic import is bad, then nothing is applied and the 422 report names every bad row and why', async () => {
    const before = await snapshot(t.state);
    const res = await post('loans', {
      items: [
        loan('ln10'),
        loan('ln11', { borrowerId: 'nobody' }),
        loan('ln12', { principal: 'a lot' }),
        { ...loan('ln13'), currency: undefined },
        loan('ln10'),
        loan('ln1', { borrowerId: 'b2' }),
        loan('ln14', { status: 'defaulted' }),
        loan('ln15', { extra: 1 }),
        loan("x' OR 1=1 --"),
      ],
    });
    expect(res.statusCode).toBe(422);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    const body = res.json<{ code: string; report: Report }>();
    expect(body.code).toBe('IMPORT_REJECTED');
    expect(body.report).toMatchObject({ applied: false, total: 9, rejected: 8, created: 1 });
    expect(body.report.rejections.map((r) => [r.index, r.reason, r.column])).toEqual([
      [1, 'UNKNOWN_BORROWER', 'borrowerId'],
      [2, 'INVALID_VALUE', 'principal'],
      [3, 'MISSING_FIELD', 'currency'],
      [4, 'DUPLICATE_ID', 'id'],
      [5, 'BORROWER_CHANGED', 'borrowerId'],
      [6, 'INCONSISTENT', 'defaultedAt'],
      [7, 'UNKNOWN_FIELD', 'extra'],
      [8, 'INVALID_VALUE', 'id'],
    ]);
    expect(await snapshot(t.state)).toEqual(before);
  });

  it('when the same bad batch is sent with mode=partial, then the valid rows are applied and the rest reported', async () => {
    const res = await post(
      'loans',
      { items: [loan('ln20'), loan('ln21', { borrowerId: 'nobody' })] },
      '?mode=partial',
    );
    expect(res.statusCode).toBe(200);
    expect(res.json<Report>()).toMatchObject({ mode: 'partial', applied: true, created: 1, rejected: 1 });
    expect(await t.state.loans.getLoan('ln20')).toBeDefined();
    expect(await t.state.loans.getLoan('ln21')).toBeUndefined();
  });

  it('when repayments reference an unknown loan or are paid without a date, then they are rejected per row', async () => {
    const res = await post('repayments', {
      items: [
        { id: 'r1', loanId: 'ln1', dueAt: T0 + DAY_MS, amountDue: 100, amountPaid: 100, paidAt: T0 + DAY_MS },
        { id: 'r2', loanId: 'ln-none', dueAt: T0, amountDue: 100, amountPaid: 0 },
        { id: 'r3', loanId: 'ln1', dueAt: T0, amountDue: 100, amountPaid: 50 },
      ],
    });
    expect(res.statusCode).toBe(422);
    expect(res.json<{ report: Report }>().report.rejections.map((r) => r.reason)).toEqual([
      'UNKNOWN_LOAN',
      'INCONSISTENT',
    ]);
    expect(await t.state.loans.getRepayment('r1')).toBeUndefined();
  });

  it('when the loan book is read after imports, then loans page by borrower and status, and a schedule reads in due order', async () => {
    const repayments = await post('repayments', {
      items: [
        { id: 'r-b', loanId: 'ln1', dueAt: T0 + 60 * DAY_MS, amountDue: 100, amountPaid: 0 },
        {
          id: 'r-a',
          loanId: 'ln1',
          dueAt: T0 + 30 * DAY_MS,
          amountDue: 100,
          amountPaid: 100,
          paidAt: T0 + 29 * DAY_MS,
        },
      ],
    });
    expect(repayments.json<Report>()).toMatchObject({ created: 2 });
    const page1 = await t.app.inject({ url: '/v1/loans?borrowerId=b1&limit=1', headers: t.auth('auditor') });
    const first = page1.json<{ items: { id: string }[]; nextCursor: string }>();
    expect(first.items.map((l) => l.id)).toEqual(['ln1']);
    const page2 = await t.app.inject({
      url: `/v1/loans?borrowerId=b1&limit=1&cursor=${first.nextCursor}`,
      headers: t.auth('auditor'),
    });
    expect(page2.json<{ items: { id: string }[] }>().items.map((l) => l.id)).toEqual(['ln20']);
    const defaulted = await t.app.inject({ url: '/v1/loans?status=defaulted', headers: t.auth('officer') });
    expect(defaulted.json<{ items: { id: string }[] }>().items.map((l) => l.id)).toEqual(['ln1']);
    const one = await t.app.inject({ url: '/v1/loans/ln2', headers: t.auth('officer') });
    expect(one.json()).toEqual(loan('ln2', { borrowerId: 'b2' }));
    const schedule = await t.app.inject({ url: '/v1/loans/ln1/repayments', headers: t.auth('officer') });
    expect(schedule.json<{ items: { id: string }[] }>().items.map((r) => r.id)).toEqual(['r-a', 'r-b']);
  });

  it('when the batch envelope is wrong (no items, empty, too many, not an object), then 400 and nothing changes', async () => {
    const before = await snapshot(t.state);
    for (const payload of [
      {},
      { items: [] },
      { items: Array.from({ length: 10_001 }, () => ({})) },
      [loan('ln30')],
      { items: [], more: 1 },
    ]) {
      const res = await post('loans', payload);
      expect(res.statusCode).toBe(400);
      expect(res.json()).toMatchObject({ code: 'VALIDATION_FAILED' });
    }
    expect(await snapshot(t.state)).toEqual(before);
  });
});

describe('loan-data import (CSV)', () => {
  let t: TestApi;
  const progress: { stage: string; done: number; total: number }[] = [];
  beforeAll(async () => {
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const line of chunk.toString('utf8').split('\n')) {
          if (line.includes('import progress'))
            progress.push(JSON.parse(line) as { stage: string; done: number; total: number });
        }
        done();
      },
    });
    t = await startTestApi({ log: pino({ level: 'info' }, sink) });
    await seedPortfolio(t.state);
    await t.state.loans.upsertLoans(
      Array.from({ length: 100 }, (_, i) => ({
        id: `ln${i}`,
        borrowerId: i % 2 === 0 ? 'b1' : 'b2',
        // Schedule-less, so each counts its whole principal as owed: 50 × 15,000 stays under the policy's cap.
        principal: 15_000,
        currency: 'EUR',
        annualRatePct: 6,
        startAt: T0,
        termDays: 360,
        status: 'active' as const,
      })),
    );
  });
  afterAll(() => t.close());

  const csv = (kind: string, body: string, query = '') =>
    t.app.inject({
      method: 'POST',
      url: `/v1/imports/${kind}${query}`,
      headers: { ...t.auth('officer'), 'content-type': 'text/csv; charset=utf-8' },
      payload: body,
    });

  it('when loans come as CSV with ISO dates and quoted fields, then they import like JSON', async () => {
    const res = await csv(
      'loans',
      'id,borrowerId,principal,currency,annualRatePct,startAt,termDays,status,defaultedAt\n' +
        'c1,b1,1000,EUR,5,2026-01-01,90,active,\n' +
        '"c2",b2,"2,000",EUR,5,2026-01-01T00:00:00Z,90,defaulted,2026-03-01\n' +
        'c3,b2,2000,EUR,5,2026-01-01T00:00:00Z,90,defaulted,2026-03-01\n',
    );
    expect(res.statusCode).toBe(422);
    const report = res.json<{ report: Report }>().report;
    expect(report.rejections).toEqual([
      {
        index: 1,
        line: 3,
        id: 'c2',
        column: 'principal',
        reason: 'INVALID_VALUE',
        message: 'not a number: "2,000"',
      },
    ]);
    const ok = await csv(
      'loans',
      'id,borrowerId,principal,currency,annualRatePct,startAt,termDays,status,defaultedAt\n' +
        'c1,b1,1000,EUR,5,2026-01-01,90,active,\n' +
        'c3,b2,2000,EUR,5,2026-01-01T00:00:00Z,90,defaulted,2026-03-01\n',
    );
    expect(ok.json<Report>()).toMatchObject({ created: 2, rejected: 0 });
    expect((await t.state.loans.getLoan('c1'))?.startAt).toBe(T0);
    expect((await t.state.loans.getLoan('c3'))?.defaultedAt).toBe(Date.UTC(2026, 2, 1));
  });

  it('when the CSV is malformed, or its header is wrong, then 400 naming the line or column and nothing changes', async () => {
    const before = await snapshot(t.state);
    const header = 'id,loanId,dueAt,amountDue,paidAt,amountPaid\n';
    const cases: [string, RegExp][] = [
      [`${header}r1,ln1,1,"10,0,1\n`, /malformed CSV/],
      [`${header}r1,ln1,1,10"x,0,1\n`, /malformed CSV at line 2/],
      ['id,loanId,dueAt,amountDue,paidAt,amountPaid,colour\nr1,ln1,1,10,,0,red\n', /unknown column.*colour/],
      ['id,loanId,amountDue\nr1,ln1,10\n', /missing required column.*dueAt/],
      ['id,id,loanId,dueAt,amountDue,amountPaid\n', /repeated column/],
      [header, /no rows/],
      ['', /empty/],
    ];
    for (const [body, detail] of cases) {
      const res = await csv('repayments', body);
      expect(res.statusCode, body).toBe(400);
      expect(res.json<{ detail: string }>().detail).toMatch(detail);
    }
    expect(await snapshot(t.state)).toEqual(before);
  });

  it('when the body is neither JSON nor CSV, then 415', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/imports/loans',
      headers: { ...t.auth('officer'), 'content-type': 'application/xml' },
      payload: '<loans/>',
    });
    expect(res.statusCode).toBe(415);
    expect(res.json()).toMatchObject({ code: 'UNSUPPORTED_MEDIA_TYPE' });
  });

  it('when 100,000 repayments are uploaded as CSV with 5 bad rows, then the report is exact, progress is logged, and the fixed file imports', async () => {
    const header = 'id,loanId,dueAt,amountDue,paidAt,amountPaid';
    const lines: string[] = [header];
    const bad = new Map<number, string>([
      [1_234, 'rp1234,ln-missing,1767225600000,100,,0'],
      [20_000, 'rp20000,ln3,not-a-date,100,,0'],
      [55_555, 'rp55555,ln5,1767225600000,-5,,0'],
      [77_777, 'rp77777,ln7,1767225600000,100,1767225600000'],
      [99_999, 'rp5,ln5,1767225600000,100,,0'],
    ]);
    const good = (i: number) =>
      `rp${i},ln${i % 100},${T0 + (i % 360) * DAY_MS},${100 + (i % 7)},${i % 3 === 0 ? T0 + DAY_MS : ''},${i % 3 === 0 ? 100 : 0}`;
    for (let i = 0; i < 100_000; i++) lines.push(bad.get(i) ?? good(i));
    const body = `${lines.join('\n')}\n`;
    const startedMs = Date.now();
    const res = await csv('repayments', body);
    const elapsedMs = Date.now() - startedMs;
    expect(res.statusCode).toBe(422);
    const report = res.json<{ report: Report }>().report;
    expect(report).toMatchObject({ total: 100_000, rejected: 5, created: 99_995, applied: false });
    // Line numbers: the header is line 1, so data row i is on line i + 2.
    expect(report.rejections.map((r) => [r.line, r.id, r.column, r.reason])).toEqual([
      [1_236, 'rp1234', 'loanId', 'UNKNOWN_LOAN'],
      [20_002, 'rp20000', 'dueAt', 'INVALID_VALUE'],
      [55_557, 'rp55555', 'amountDue', 'INVALID_VALUE'],
      [77_779, 'rp77777', undefined, 'INVALID_VALUE'],
      [100_001, 'rp5', 'id', 'DUPLICATE_ID'],
    ]);
    expect(report.rejections[4]?.message).toBe('id rp5 already at line 7');
    expect(await t.state.loans.getRepayment('rp0')).toBeUndefined();
    expect(progress.filter((p) => p.stage === 'validated').map((p) => p.done)).toEqual(
      Array.from({ length: 9 }, (_, i) => (i + 1) * 10_000),
    );

    for (const i of bad.keys()) lines[i + 1] = good(i);
    const fixed = await csv('repayments', `${lines.join('\n')}\n`);
    expect(fixed.statusCode).toBe(200);
    expect(fixed.json<Report>()).toMatchObject({
      total: 100_000,
      created: 100_000,
      rejected: 0,
      applied: true,
    });
    expect(await t.state.loans.listRepayments('ln7')).toHaveLength(1000);
    expect(progress.at(-1)).toMatchObject({ stage: 'applied', done: 100_000 });
    const again = await csv('repayments', `${lines.join('\n')}\n`);
    expect(again.json<Report>()).toMatchObject({ created: 0, updated: 0, unchanged: 100_000 });
    expect(elapsedMs).toBeLessThan(30_000);
  }, 120_000);
});
