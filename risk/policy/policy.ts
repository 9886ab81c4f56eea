import { Type, type Static } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { RiskfuseError } from '../../core/errors.js';

/**
 * The lending policy: the limits that the regulation of internet co-lending puts on a loan, as one versioned
 * document (stored in the state's policy_versions, each change audited; the built-in one below is version 0
 * until the first is saved). The defaults follow the rules this product serves: the platform lender funds at
 * least 30 % of every co-lent loan, and one borrower owes at most 1,000,000 (in the loan's currency).
 * Pinned by risk/test/credit/policy.test.ts.
 */
export const LendingPolicySchema = Type.Object(
  {
    coLending: Type.Object(
      {
        minOwnSharePct: Type.Number({
          minimum: 0,
          maximum: 100,
          description: "the platform lender's minimum share of every co-lent loan, %",
        }),
      },
      { additionalProperties: false },
    ),
    borrowerCap: Type.Object(
      {
        default: Type.Number({ minimum: 0, description: 'maximum outstanding per borrower, loan currency' }),
        bySector: Type.Record(Type.String({ minLength: 1, maxLength: 64 }), Type.Number({ minimum: 0 }), {
          description: 'a different cap per borrower type (sector)',
        }),
      },
      { additionalProperties: false },
    ),
    minVerifiedCoverage: Type.Number({
      minimum: 0,
      maximum: 100,
      description: 'minimum verified collateral coverage (value ÷ EAD) of a secured line',
    }),
    maxTenorDays: Type.Integer({ minimum: 1, maximum: 36_500, description: 'maximum loan tenor, days' }),
  },
  { additionalProperties: false },
);
export type LendingPolicy = Static<typeof LendingPolicySchema>;

export const DEFAULT_POLICY: LendingPolicy = {
  coLending: { minOwnSharePct: 30 },
  borrowerCap: { default: 1_000_000, bySector: {} },
  minVerifiedCoverage: 1,
  maxTenorDays: 1_100,
};

/** A saved policy: its version (0 = the built-in default) and who saved it when. */
export interface PolicyVersion {
  readonly version: number;
  readonly policy: LendingPolicy;
  readonly createdAt: number;
  readonly createdBy?: string;
}

export const DEFAULT_POLICY_VERSION: PolicyVersion = { version: 0, policy: DEFAULT_POLICY, createdAt: 0 };

const check = TypeCompiler.Compile(LendingPolicySchema);

/** The document as a policy, or a VALIDATION_FAILED listing every problem (nothing is saved). */
export function parsePolicy(doc: unknown): LendingPolicy {
  if (check.Check(doc)) return doc;
  const errors = [...check.Errors(doc)].map((e) => ({ path: e.path || '/', message: e.message }));
  throw new RiskfuseError(
    'VALIDATION_FAILED',
    `invalid lending policy: ${errors.map((e) => `${e.path} ${e.message}`).join('; ')}`,
    {
      details: { errors },
    },
  );
}

export function borrowerCapOf(policy: LendingPolicy, sector: string | undefined): number {
  return (
    (sector === undefined ? undefined : policy.borrowerCap.bySector[sector]) ?? policy.borrowerCap.default
  );
}
