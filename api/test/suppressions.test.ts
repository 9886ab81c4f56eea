import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedPortfolio, startTestApi, type TestApi } from './support.js';

const HOUR = 3_600_000;

interface SuppressionBody {
  id: string;
  kind: string;
  scopeKind: string;
  scopeId: string;
  createdBy: string;
  revokedAt?: number;
  suppressed: number;
}

/** Maintenance windows and snoozes over the API, on real state: create, list, read, end; audited; permissions. */
describe('alert suppressions API', () => {
  let t: TestApi;
  beforeAll(async () => {
    t = await startTestApi();
    await seedPortfolio(t.state);
  });
  afterAll(() => t.close());

  it('when an officer snoozes a lot, then it is listed as active with who and why, audited, and ending it moves it out of the active list (a second end is 409)', async () => {
    const now = Date.now();
    const created = await t.app.inject({
      method: 'POST',
      url: '/v1/alerts/suppressions',
      headers: t.auth('officer'),
      payload: {
        kind: 'snooze',
        scopeKind: 'lot',
        scopeId: 'l1',
        ruleId: 'weight-drop',
        reason: 'stocktake today',
        untilMs: now + 4 * HOUR,
      },
    });
    expect(created.statusCode, created.body).toBe(201);
    const s = created.json<SuppressionBody>();
    expect(s).toMatchObject({ kind: 'snooze', scopeKind: 'lot', scopeId: 'l1', suppressed: 0 });
    expect(s.createdBy).toMatch(/^[0-9a-f]{16}$/);

    const active = await t.app.inject({ url: '/v1/alerts/suppressions', headers: t.auth('auditor') });
    expect(active.json<{ items: SuppressionBody[] }>().items.map((x) => x.id)).toEqual([s.id]);
    const one = await t.app.inject({ url: `/v1/alerts/suppressions/${s.id}`, headers: t.auth('auditor') });
    expect(one.json<{ suppression: SuppressionBody; suppressed: unknown[] }>()).toMatchObject({
      suppression: { id: s.id },
      suppressed: [],
    });

    const ended = await t.app.inject({
      method: 'POST',
      url: `/v1/alerts/suppressions/${s.id}/end`,
      headers: t.auth('officer'),
    });
    expect(ended.statusCode, ended.body).toBe(200);
    expect(ended.json<SuppressionBody>().revokedAt).toBeGreaterThanOrEqual(now);
    const again = await t.app.inject({
      method: 'POST',
      url: `/v1/alerts/suppressions/${s.id}/end`,
      headers: t.auth('officer'),
    });
    expect(again.statusCode).toBe(409);

    const after = await t.app.inject({ url: '/v1/alerts/suppressions', headers: t.auth('officer') });
    expect(after.json<{ items: unknown[] }>().items).toEqual([]);
    const all = await t.app.inject({ url: '/v1/alerts/suppressions?state=all', headers: t.auth('officer') });
    expect(all.json<{ items: SuppressionBody[] }>().items.map((x) => x.id)).toEqual([s.id]);

    const audit = await t.state.audit.listAudit({
      limit: 10,
      resource: 'alert-suppression',
      resourceId: s.id,
    });
    expect(audit.map((e) => [e.action, e.actorRole])).toEqual([
      ['end', 'officer'],
      ['create', 'officer'],
    ]);
  });

  it('when an auditor or device-ops tries to create a suppression, then it is refused and nothing is stored', async () => {
    for (const role of ['auditor', 'device-ops'] as const) {
      const res = await t.app.inject({
        method: 'POST',
        url: '/v1/alerts/suppressions',
        headers: t.auth(role),
        payload: {
          kind: 'maintenance',
          scopeKind: 'borrower',
          scopeId: 'b1',
          reason: 'x',
          untilMs: Date.now() + HOUR,
        },
      });
      expect(res.statusCode).toBe(403);
    }
    expect(await t.state.suppressions.listSuppressions({ limit: 10, scopeKind: 'borrower' })).toEqual([]);
  });

  it('when the engine holds an opening back, then GET /v1/alerts/suppressed lists it with its cause', async () => {
    const now = Date.now();
    const s = await t.alerts.suppressions.create(
      {
        kind: 'maintenance',
        scopeKind: 'borrower',
        scopeId: 'b2',
        reason: 'plant shutdown',
        untilMs: now + HOUR,
      },
      'key_x',
      now - 1,
    );
    await t.alerts.service.hold(
      {
        ruleId: 'pd-threshold',
        severity: 'warning',
        subjectKind: 'borrower',
        subjectId: 'b2',
        borrowerId: 'b2',
        title: 'PD over threshold',
        evidence: { pd: 0.2 },
        at: now,
      },
      { cause: 'maintenance', suppressionId: s.id },
    );
    const res = await t.app.inject({
      url: '/v1/alerts/suppressed?borrowerId=b2',
      headers: t.auth('auditor'),
    });
    expect(res.json<{ items: unknown[] }>().items).toMatchObject([
      { cause: 'maintenance', suppressionId: s.id, ruleId: 'pd-threshold', evidence: { pd: 0.2 } },
    ]);
    const one = await t.app.inject({ url: `/v1/alerts/suppressions/${s.id}`, headers: t.auth('officer') });
    expect(one.json<{ suppression: SuppressionBody }>().suppression.suppressed).toBe(1);
  });
});
