import { randomBytes } from 'node:crypto';
import { newEventId } from '../../core/contracts/index.js';
import { RiskfuseError } from '../../core/errors.js';
import type { CreditApplication, CreditDecision, FunderShare, State } from '../../core/state/index.js';
import type { CreditComponent } from '../credit/credit-app.js';
import { decide, type DecisionInput } from './decide.js';
import { recommend, type Recommendation } from './recommend.js';

/**
 * Credit applications as a use case: file one (validated, with the platform's recommendation), recommend on
 * demand, and record a person's decision — the decision, the application's new status, the committed limit of
 * a final approval, the `decision.made` event and the caller's audit entry in one transaction. Pinned by
 * api/test/credit-applications.test.ts.
 */
export interface NewApplication {
  readonly borrowerId: string;
  readonly amount: number;
  readonly currency: string;
  readonly tenorDays: number;
  readonly lotIds: readonly string[];
  readonly funders: readonly FunderShare[];
}

export class CreditApplications {
  constructor(
    private readonly state: State,
    private readonly credit: CreditComponent,
    private readonly now: () => number = Date.now,
  ) {}

  /** An approval of more than this needs two different approvers (CREDIT_FOUR_EYES_ABOVE). */
  get fourEyesAbove(): number {
    return this.credit.config.fourEyesAbove;
  }

  /** The recommendation for an application (filed or not) from the borrower's figures now. */
  async recommend(a: NewApplication): Promise<Recommendation> {
    const { state, credit } = this;
    const [borrower, stored, scores, limits, policy] = await Promise.all([
      state.portfolio.getBorrower(a.borrowerId),
      state.credit.getExposures([a.borrowerId]),
      state.scores.latestScores({ borrowerIds: [a.borrowerId] }),
      state.lending.listLimits([a.borrowerId]),
      credit.policies.current(),
    ]);
    if (borrower === undefined) throw new RiskfuseError('NOT_FOUND', `no borrower ${a.borrowerId}`);
    // The monitor's latest figures; a borrower it has not computed yet is computed now (not stored).
    const exposure = stored.get(a.borrowerId) ?? (await credit.monitor.compute([a.borrowerId]))[0]?.credit;
    const sameCurrency = exposure !== undefined && exposure.currency === a.currency;
    const limit = limits.get(a.borrowerId);
    const score = scores[0];
    return recommend(
      {
        amount: a.amount,
        currency: a.currency,
        tenorDays: a.tenorDays,
        funders: a.funders,
        outstanding: sameCurrency ? exposure.outstanding : 0,
        undrawn: sameCurrency && limit?.currency === a.currency ? exposure.undrawn : 0,
        verifiedValue: sameCurrency ? exposure.verifiedValue : 0,
        claimedValue: sameCurrency ? exposure.claimedValue : 0,
        secured: (exposure?.lots.length ?? 0) > 0 || a.lotIds.length > 0,
        sector: borrower.sector,
        ...(score === undefined
          ? {}
          : { score: { pd: score.pd, grade: score.grade, reasons: score.reasons } }),
      },
      {
        policy: policy.policy,
        policyVersion: policy.version,
        lenderId: credit.config.lenderId,
        params: credit.params,
        maxElRate: credit.config.maxElRate,
      },
    );
  }

  /** Files an application with its recommendation (call inside the caller's transaction with the audit). */
  async file(a: NewApplication, createdBy: string | undefined): Promise<CreditApplication> {
    const lots = await this.state.portfolio.listLots(a.borrowerId);
    const own = new Set(lots.map((l) => l.id));
    const foreign = a.lotIds.filter((id) => !own.has(id));
    if (foreign.length > 0) {
      throw new RiskfuseError(
        'VALIDATION_FAILED',
        `lots ${foreign.join(', ')} are not pledged by ${a.borrowerId}`,
        {
          details: { errors: [{ path: '/lotIds', message: `not the borrower's: ${foreign.join(', ')}` }] },
        },
      );
    }
    const recommendation = await this.recommend(a);
    const app: CreditApplication = {
      id: `app_${randomBytes(12).toString('hex')}`,
      ...a,
      lotIds: [...a.lotIds],
      funders: a.funders.map((f) => ({ ...f })),
      status: 'pending',
      recommendation,
      createdAt: this.now(),
      ...(createdBy === undefined ? {} : { createdBy }),
    };
    await this.state.credit.insertApplication(app);
    return app;
  }

  /**
   * Records a decision (inside the caller's transaction). Of two approvers deciding at once, the status
   * compare-and-set lets one win; the other gets a CONFLICT and writes nothing.
   */
  async decide(
    id: string,
    input: DecisionInput,
  ): Promise<{ application: CreditApplication; decision: CreditDecision }> {
    const { state } = this;
    const app = await state.credit.getApplication(id);
    if (app === undefined) throw new RiskfuseError('NOT_FOUND', `no application ${id}`);
    const prior = await state.credit.listDecisions(id);
    const adverse = ((app.recommendation as Recommendation | undefined)?.adverseReasons ?? []).map(
      (r) => r.code,
    );
    const result = decide(app, prior, input, this.credit.config.fourEyesAbove, adverse);
    const at = this.now();
    const decision: CreditDecision = { id: `dec_${randomBytes(12).toString('hex')}`, ...result.decision, at };
    await state.credit.insertDecision(decision);
    const final = result.status === 'approved' || result.status === 'declined';
    const moved = await state.credit.updateApplicationStatus(id, result.from, {
      status: result.status,
      ...(final ? { decidedAt: at } : {}),
      ...(result.approvedAmount === undefined ? {} : { decidedAmount: result.approvedAmount }),
    });
    if (!moved)
      throw new RiskfuseError('CONFLICT', `application ${id} was decided by another request; reload it`);
    if (result.approvedAmount !== undefined) {
      const current = (await state.lending.listLimits([app.borrowerId])).get(app.borrowerId);
      const owed =
        (await state.loans.borrowerExposures([app.borrowerId]))
          .get(app.borrowerId)
          ?.find((e) => e.currency === app.currency)?.outstanding ?? 0;
      const base = current?.currency === app.currency ? Math.max(current.amount, owed) : owed;
      await state.lending.setLimit({
        borrowerId: app.borrowerId,
        currency: app.currency,
        amount: base + result.approvedAmount,
        applicationId: id,
        updatedAt: at,
      });
    }
    const application = (await state.credit.getApplication(id)) as CreditApplication;
    await state.outbox.append([
      {
        id: newEventId(),
        type: 'decision.made',
        occurredAt: at,
        data: {
          decision: { ...decision },
          application: { ...application, recommendation: undefined },
          status: application.status,
        },
      },
    ]);
    return { application, decision };
  }
}
