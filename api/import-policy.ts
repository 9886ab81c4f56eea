import type { FunderShare, Loan } from '../core/state/index.js';
import { checkBorrowerCap, checkCoLending, checkTenor, type PolicyViolation } from '../risk/policy/checks.js';
import type { LendingPolicy } from '../risk/policy/policy.js';
import type { ImportStore } from './import-lookups.js';

/**
 * The lending policy at loan import (README "Credit decisions › Policy at import"): a created or changed
 * active loan is checked for its tenor, its co-lending shares (the lender's own ≥ the minimum, shares adding
 * up to 100 %) and the borrower's outstanding against its cap once the loan is added. A violating row is
 * rejected with the policy's reason code (POLICY_CO_LENDING_SHARE, POLICY_FUNDER_SHARES, POLICY_MAX_TENOR,
 * POLICY_BORROWER_CAP), like any other rejected row: `atomic` applies nothing, `partial` applies the others.
 * A repaid or defaulted loan is history, not a new commitment, and is not checked. Pinned by
 * api/test/import-policy.test.ts.
 */
export interface ImportPolicy {
  readonly policy: LendingPolicy;
  readonly lenderId: string;
}

/** Funders of a loan row: JSON `[{funderId, sharePct}]`, or CSV `lender:30;bank-b:70`. */
export function parseFundersCell(cell: string): FunderShare[] | string {
  const out: FunderShare[] = [];
  for (const part of cell.split(';')) {
    const m = /^\s*([^:;\s][^:;]{0,63}?)\s*:\s*(\d+(\.\d+)?)\s*$/.exec(part);
    if (m === null)
      return `funders must read funderId:sharePct;… (e.g. lender:30;bank-b:70), got ${JSON.stringify(part.slice(0, 40))}`;
    out.push({ funderId: m[1] as string, sharePct: Number(m[2]) });
  }
  return out;
}

/** Loan ids' stored funders, borrowers' sectors and outstanding per currency, read chunk by chunk. */
export class ImportPolicyCheck {
  private readonly sectors = new Map<string, string | undefined>();
  /** borrower → currency → outstanding, growing as the file's new active loans are accepted. */
  private readonly outstanding = new Map<string, Map<string, number>>();
  readonly storedFunders = new Map<string, FunderShare[]>();

  constructor(
    private readonly store: ImportStore,
    /** None: loans are not checked (their funders are still read, for idempotency). */
    private readonly policy: ImportPolicy | undefined,
  ) {}

  /** Reads what the chunk's loans need that is not known yet (one statement per kind). */
  async load(loans: readonly { id?: unknown; borrowerId?: unknown }[]): Promise<void> {
    const borrowers = [
      ...new Set(loans.map((l) => l.borrowerId).filter((b): b is string => typeof b === 'string')),
    ].filter((b) => !this.sectors.has(b));
    const ids = loans.map((l) => l.id).filter((i): i is string => typeof i === 'string');
    if (borrowers.length > 0) {
      const found = await this.store.portfolio.getBorrowers(borrowers);
      const exposures = await this.store.loans.borrowerExposures(borrowers);
      for (const b of borrowers) {
        this.sectors.set(b, found.get(b)?.sector);
        this.outstanding.set(b, new Map((exposures.get(b) ?? []).map((e) => [e.currency, e.outstanding])));
      }
    }
    this.storedFunders.clear();
    if (ids.length > 0)
      for (const [id, f] of await this.store.lending.listFunders(ids)) this.storedFunders.set(id, f);
  }

  /** The first violation of a created or changed loan row, if any. */
  check(
    loan: Loan,
    funders: readonly FunderShare[] | undefined,
    stored: Loan | undefined,
  ): PolicyViolation | undefined {
    if (loan.status !== 'active' || this.policy === undefined) return undefined;
    const p = this.policy.policy;
    const violations = [
      ...checkTenor(loan.termDays, p),
      ...checkCoLending(funders ?? this.storedFunders.get(loan.id) ?? [], this.policy.lenderId, p),
    ];
    if (stored === undefined) {
      const owed = this.outstanding.get(loan.borrowerId)?.get(loan.currency) ?? 0;
      violations.push(
        ...checkBorrowerCap(owed + loan.principal, this.sectors.get(loan.borrowerId), loan.currency, p),
      );
    }
    return violations[0];
  }

  /** A new active loan was accepted: the borrower owes its principal too for the rows after it. */
  accepted(loan: Loan, stored: Loan | undefined): void {
    if (loan.status !== 'active' || stored !== undefined) return;
    const byCurrency = this.outstanding.get(loan.borrowerId) ?? new Map<string, number>();
    byCurrency.set(loan.currency, (byCurrency.get(loan.currency) ?? 0) + loan.principal);
    this.outstanding.set(loan.borrowerId, byCurrency);
  }
}

/** Whether two funder lists are the same shares (order aside). */
export function sameFunders(a: readonly FunderShare[], b: readonly FunderShare[]): boolean {
  if (a.length !== b.length) return false;
  const key = (l: readonly FunderShare[]) =>
    [...l]
      .map((f) => `${f.funderId}\u0000${f.sharePct}`)
      .sort()
      .join('\u0001');
  return key(a) === key(b);
}
