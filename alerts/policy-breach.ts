import type { AlertService } from './alert-service.js';

/**
 * The policy-breach alert (rule id `policy-breached`, the rule-id pattern of the alert API): opened through the alert service when the credit monitor (risk/credit/
 * credit-monitor.ts) records that a borrower's exposure newly breaks the lending policy (verified coverage
 * under the minimum, outstanding over the cap), in the same transaction as the figures and the
 * `policy.breached` event; resolved as `system` when the borrower is back within policy. Not one of the rule
 * engine's rules: its condition is computed by the credit monitor, not over readings. The change arrives as a
 * structural type (alerts/ does not import risk/). Pinned by api/test/credit-applications.test.ts.
 */
export const POLICY_BREACH_RULE = 'policy-breached';

export interface PolicyBreachInput {
  readonly borrowerId: string;
  readonly at: number;
  readonly violations: readonly { code: string; message: string; limit: number; actual: number }[];
  readonly exposure: {
    readonly currency: string;
    readonly ead: number;
    readonly claimedCoverage?: number;
    readonly verifiedCoverage?: number;
    readonly lgd: number;
    readonly el?: number;
  };
}

export function policyBreachAlerts(service: AlertService): {
  onBreach(change: PolicyBreachInput): Promise<void>;
  onCleared(change: PolicyBreachInput): Promise<void>;
} {
  const evidence = (c: PolicyBreachInput): Record<string, unknown> => ({
    codes: c.violations.map((v) => v.code),
    violations: c.violations.map((v) => ({ ...v })),
    currency: c.exposure.currency,
    ead: c.exposure.ead,
    claimedCoverage: c.exposure.claimedCoverage ?? null,
    verifiedCoverage: c.exposure.verifiedCoverage ?? null,
    lgd: c.exposure.lgd,
    el: c.exposure.el ?? null,
  });
  return {
    async onBreach(c) {
      await service.open({
        ruleId: POLICY_BREACH_RULE,
        severity: 'critical',
        subjectKind: 'borrower',
        subjectId: c.borrowerId,
        borrowerId: c.borrowerId,
        title: `Lending policy breached: ${c.violations.map((v) => v.message).join('; ')}`,
        evidence: evidence(c),
        at: c.at,
      });
    },
    async onCleared(c) {
      await service.clear(POLICY_BREACH_RULE, 'borrower', c.borrowerId, c.at, evidence(c));
    },
  };
}
