import { RiskfuseError } from '../../core/errors.js';
import type {
  ApplicationStatus,
  CreditApplication,
  CreditDecision,
  DecisionOutcome,
} from '../../core/state/index.js';

/**
 * An approver's decision on a credit application, as a state machine (pure; the API stores what it returns in
 * one transaction with the audit entry and the `decision.made` event). Decisions are immutable: a new one is
 * appended, never changed.
 * - approve (the amount applied for), approve-lower (a smaller positive amount), decline (with adverse-action
 *   reasons: the approver's, else the recommendation's reason codes), refer (to a committee; still open).
 * - Four-eyes: an approval of more than `fourEyesAbove` needs two different approvers; the first leaves the
 *   application `awaiting-second`, the second's approval sets the amount (the smaller of the two). The same
 *   approver twice is refused (CONFLICT, also the store's unique key). A decline by either ends it.
 * Pinned by api/test/credit-applications.test.ts.
 */
export interface DecisionInput {
  readonly approverKeyId: string;
  readonly outcome: DecisionOutcome;
  readonly amount?: number;
  readonly reasons?: readonly string[];
  readonly comment?: string;
}

export interface DecisionResult {
  readonly decision: Omit<CreditDecision, 'id' | 'at'>;
  readonly from: ApplicationStatus;
  readonly status: ApplicationStatus;
  /** Set when the application is finally approved. */
  readonly approvedAmount?: number;
}

const OPEN: readonly ApplicationStatus[] = ['pending', 'awaiting-second', 'referred'];

export function decide(
  app: CreditApplication,
  prior: readonly CreditDecision[],
  input: DecisionInput,
  fourEyesAbove: number,
  adverseReasons: readonly string[],
): DecisionResult {
  if (!OPEN.includes(app.status))
    throw new RiskfuseError(
      'CONFLICT',
      `application ${app.id} is ${app.status}; it takes no further decision`,
    );
  if (prior.some((d) => d.approverKeyId === input.approverKeyId)) {
    throw new RiskfuseError(
      'CONFLICT',
      `four-eyes: this approver has already decided application ${app.id}; a second, different approver must decide`,
      { details: { fourEyes: true } },
    );
  }
  const fail = (message: string): never => {
    throw new RiskfuseError('VALIDATION_FAILED', message, {
      details: { errors: [{ path: '/amount', message }] },
    });
  };
  let amount: number | undefined;
  if (input.outcome === 'approve') {
    if (input.amount !== undefined && input.amount !== app.amount)
      fail('approve grants the amount applied for; use approve-lower for less');
    amount = app.amount;
  } else if (input.outcome === 'approve-lower') {
    if (input.amount === undefined || !(input.amount > 0 && input.amount < app.amount))
      fail(`approve-lower needs an amount above 0 and below the ${app.amount} applied for`);
    amount = input.amount;
  } else if (input.amount !== undefined) fail(`${input.outcome} takes no amount`);
  const reasons =
    input.outcome === 'decline' && (input.reasons ?? []).length === 0
      ? [...adverseReasons]
      : [...(input.reasons ?? [])];
  if (input.outcome === 'decline' && reasons.length === 0)
    throw new RiskfuseError(
      'VALIDATION_FAILED',
      'a decline needs adverse-action reasons (the score has none)',
    );
  const decision = {
    applicationId: app.id,
    approverKeyId: input.approverKeyId,
    outcome: input.outcome,
    ...(amount === undefined ? {} : { amount }),
    reasons,
    ...(input.comment === undefined ? {} : { comment: input.comment }),
  };
  if (input.outcome === 'decline') return { decision, from: app.status, status: 'declined' };
  if (input.outcome === 'refer') return { decision, from: app.status, status: 'referred' };
  const approvals = prior.filter((d) => d.outcome === 'approve' || d.outcome === 'approve-lower');
  const granted = Math.min(amount as number, ...approvals.map((d) => d.amount ?? Infinity));
  if (granted > fourEyesAbove && approvals.length === 0)
    return { decision, from: app.status, status: 'awaiting-second' };
  return { decision, from: app.status, status: 'approved', approvedAmount: granted };
}
