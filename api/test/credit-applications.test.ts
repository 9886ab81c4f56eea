import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueApiKey } from '../../core/credentials.js';
import { seedPortfolio, startTestApi, T0, type TestApi } from './support.js';

interface App {
  id: string;
  status: string;
  decidedAmount?: number;
  recommendation?: {
    outcome: string;
    suggestedLimit: number;
    reasons: string[];
    pd: number;
    el: number;
    checks: { code: string }[];
  };
}

describe('credit applications, recommendations and decisions', () => {
  let t: TestApi;
  let secondApprover: string;
  beforeAll(async () => {
    t = await startTestApi();
    await seedPortfolio(t.state);
    await t.state.models.addModel({
      version: 'm1',
      name: 'm',
      kind: 'mlp',
      status: 'challenger',
      createdAt: T0,
      artifactPath: 'x',
      dataHash: 'h',
      backend: 'wasm',
      meta: {},
    });
    await t.state.scores.addScores([
      {
        borrowerId: 'b1',
        at: T0,
        modelVersion: 'm1',
        shadow: false,
        pd: 0.01,
        score: 700,
        grade: 'B',
        reasons: [
          { feature: 'late_payments_90d', contribution: 0.4, value: 2, text: '2 late payments in 90 days' },
        ],
        trigger: 'periodic',
      },
    ]);
    const issued = issueApiKey();
    await t.state.apiKeys.createApiKey(
      { id: issued.id, name: 'approver-2', role: 'approver', createdAt: T0 },
      issued,
    );
    secondApprover = issued.key;
  });
  afterAll(() => t.close());

  const file = (body: Record<string, unknown>) =>
    t.app.inject({
      method: 'POST',
      url: '/v1/applications',
      headers: t.auth('officer'),
      payload: { borrowerId: 'b1', currency: 'EUR', tenorDays: 365, lotIds: ['l1'], ...body },
    });
  const decideAs = (id: string, auth: Record<string, string>, body: Record<string, unknown>) =>
    t.app.inject({ method: 'POST', url: `/v1/applications/${id}/decisions`, headers: auth, payload: body });

  it('when an officer files an application, then it carries PD, EL, policy checks, a suggested limit and reasons; a co-lending share under the minimum shows as a check', async () => {
    const res = await file({
      amount: 50_000,
      funders: [
        { funderId: 'lender', sharePct: 20 },
        { funderId: 'bank-b', sharePct: 80 },
      ],
    });
    expect(res.statusCode).toBe(201);
    const app = res.json<App>();
    expect(app.status).toBe('pending');
    expect(app.recommendation?.pd).toBe(0.01);
    expect(app.recommendation?.checks.map((c) => c.code)).toContain('POLICY_CO_LENDING_SHARE');
    // No amount passes a co-lending violation: decline, with the model's reason among the plain words.
    expect(app.recommendation?.outcome).toBe('decline');
    expect(app.recommendation?.suggestedLimit).toBe(0);
    expect(app.recommendation?.reasons.join(' ')).toMatch(/lender's own share is 20 %/);
    expect(app.recommendation?.reasons).toContain('2 late payments in 90 days');
  });

  it('when an approval is above the four-eyes amount, then the same approver twice is refused and a second approver completes it; the limit, events and audit follow', async () => {
    const app = (await file({ amount: 300_000 })).json<App>();
    const first = await decideAs(app.id, t.auth('approver'), { outcome: 'approve' });
    expect(first.statusCode).toBe(201);
    expect(first.json<{ application: App }>().application.status).toBe('awaiting-second');
    const again = await decideAs(app.id, t.auth('approver'), { outcome: 'approve' });
    expect(again.statusCode).toBe(409);
    expect(again.json<{ detail: string }>().detail).toMatch(/four-eyes/);
    // Officers and admins do not decide.
    expect((await decideAs(app.id, t.auth('officer'), { outcome: 'approve' })).statusCode).toBe(403);
    expect((await decideAs(app.id, t.auth('admin'), { outcome: 'approve' })).statusCode).toBe(403);
    const second = await decideAs(
      app.id,
      { authorization: `Bearer ${secondApprover}` },
      {
        outcome: 'approve-lower',
        amount: 280_000,
      },
    );
    expect(second.statusCode).toBe(201);
    expect(second.json<{ application: App }>().application).toMatchObject({
      status: 'approved',
      decidedAmount: 280_000,
    });
    expect((await t.state.lending.listLimits(['b1'])).get('b1')).toMatchObject({
      amount: 280_000,
      applicationId: app.id,
    });
    const events = (await t.state.outbox.after(0)).filter((e) => e.type === 'decision.made');
    expect(events.map((e) => (e.data as { status: string }).status)).toEqual(['awaiting-second', 'approved']);
    const audit = await t.state.audit.listAudit({ limit: 10, resource: 'application', resourceId: app.id });
    expect(audit.map((a) => a.action)).toEqual(['decide', 'decide', 'create']);
    // Final: nothing more is decided.
    expect(
      (await decideAs(app.id, { authorization: `Bearer ${secondApprover}` }, { outcome: 'decline' }))
        .statusCode,
    ).toBe(409);
    const read = await t.app.inject({
      method: 'GET',
      url: `/v1/applications/${app.id}`,
      headers: t.auth('auditor'),
    });
    // Each decision names its approver (by key name, which approvers cannot look up themselves).
    const decisions = read.json<{ decisions: { approverName?: string }[] }>().decisions;
    expect(decisions).toHaveLength(2);
    expect(decisions[1]?.approverName).toBe('approver-2');
    expect(decisions[0]?.approverName).toEqual(expect.any(String));
    expect(decisions[0]?.approverName).not.toBe('approver-2');
  });

  it('when an approver declines without reasons, then the adverse-action reasons are the model’s reason codes; below four-eyes one approval suffices', async () => {
    const small = (await file({ amount: 10_000 })).json<App>();
    const ok = await decideAs(small.id, t.auth('approver'), { outcome: 'approve' });
    expect(ok.json<{ application: App }>().application.status).toBe('approved');
    const other = (await file({ amount: 20_000 })).json<App>();
    const declined = await decideAs(other.id, t.auth('approver'), { outcome: 'decline' });
    expect(declined.json<{ decision: { reasons: string[] } }>().decision.reasons).toEqual([
      'late_payments_90d',
    ]);
    expect((await decideAs(other.id, t.auth('approver'), { outcome: 'approve-lower' })).statusCode).toBe(409);
    const queue = await t.app.inject({
      method: 'GET',
      url: '/v1/applications?status=declined',
      headers: t.auth('approver'),
    });
    expect(queue.json<{ items: App[] }>().items.map((a) => a.id)).toEqual([other.id]);
  });

  it('when an admin saves a policy, then it is version 1, in force at once, audited; an invalid one is refused and changes nothing', async () => {
    const current = (
      await t.app.inject({ method: 'GET', url: '/v1/policy', headers: t.auth('officer') })
    ).json<{ version: number; policy: Record<string, unknown> }>();
    expect(current.version).toBe(0);
    const bad = await t.app.inject({
      method: 'PUT',
      url: '/v1/policy',
      headers: t.auth('admin'),
      payload: { ...current.policy, maxTenorDays: 0 },
    });
    expect(bad.statusCode).toBe(400);
    const saved = await t.app.inject({
      method: 'PUT',
      url: '/v1/policy',
      headers: t.auth('admin'),
      payload: { ...current.policy, coLending: { minOwnSharePct: 50 } },
    });
    expect(saved.json()).toMatchObject({ version: 1, policy: { coLending: { minOwnSharePct: 50 } } });
    const audit = await t.state.audit.listAudit({ limit: 5, resource: 'policy' });
    expect(audit[0]).toMatchObject({ action: 'update', resourceId: '1', before: { version: 0 } });
    // The import sees it at once: 40 % is now under the minimum.
    const imp = await t.app.inject({
      method: 'POST',
      url: '/v1/imports/loans',
      headers: t.auth('officer'),
      payload: {
        items: [
          {
            id: 'pol-1',
            borrowerId: 'b1',
            principal: 1000,
            currency: 'EUR',
            annualRatePct: 5,
            startAt: T0,
            termDays: 100,
            status: 'active',
            funders: [
              { funderId: 'lender', sharePct: 40 },
              { funderId: 'x', sharePct: 60 },
            ],
          },
        ],
      },
    });
    expect(imp.statusCode).toBe(422);
  });

  it('when the monitor has computed the book, then /credit/exposures lists EL, LGD, claimed vs verified coverage and policy status, with totals', async () => {
    await t.credit.monitor.loadRegistry();
    await t.credit.monitor.refresh();
    const res = await t.app.inject({
      method: 'GET',
      url: '/v1/credit/exposures',
      headers: t.auth('approver'),
    });
    expect(res.statusCode).toBe(200);
    const body = res.json<{
      items: {
        borrowerId: string;
        lgd: number;
        policyStatus: string;
        claimedCoverage?: number;
        verifiedCoverage?: number;
      }[];
      totals: { currency: string; el: number }[];
    }>();
    const b1 = body.items.find((i) => i.borrowerId === 'b1');
    // b1's lot has no stake reading: claimed but unverified, so its secured line breaks the coverage minimum.
    expect(b1?.policyStatus).toBe('breached');
    expect(b1?.verifiedCoverage).toBe(0);
    expect(b1?.claimedCoverage).toBeGreaterThan(0);
    expect(body.totals[0]?.el).toBeGreaterThan(0);
    const one = await t.app.inject({
      method: 'GET',
      url: '/v1/borrowers/b1/credit',
      headers: t.auth('officer'),
    });
    expect(one.json()).toMatchObject({ borrowerId: 'b1', policyStatus: 'breached' });
    const breached = await t.app.inject({
      method: 'GET',
      url: '/v1/alerts?rule=policy-breached',
      headers: t.auth('officer'),
    });
    expect(breached.json<{ items: { borrowerId: string; severity: string }[] }>().items).toEqual([
      expect.objectContaining({ borrowerId: 'b1', severity: 'critical' }),
    ]);
    expect((await t.state.outbox.after(0)).filter((e) => e.type === 'policy.breached')).toHaveLength(1);
  });
});
