// Credit figures in words and numbers: coverage, LGD, why a lot counts reduced, the applications queue's order,
// the four-eyes state of an application. Pure: no DOM, so web/test/credit.test.ts runs it in Node.

/** Why a lot counts at less than its measured value (risk/credit/collateral.ts conditions), in plain words. */
export const CONDITION_TEXT = {
  'outside-geofence': 'outside its geofence',
  tampered: 'tampered (seal opened)',
  offline: 'stake offline',
  unverified: 'weight unverified (no recent reading)',
};

/** A policy reason code in words: POLICY_MIN_COVERAGE → "min coverage" (the code stays in the tooltip). */
export const breachLabel = (code) =>
  code
    .replace(/^POLICY_/, '')
    .toLowerCase()
    .replaceAll('_', ' ');

/** A coverage ratio: "1.25×", or "—" when nothing is exposed. */
export const fmtCoverage = (c) => (typeof c === 'number' ? `${c.toFixed(2)}×` : '—');

/** A share as a percentage with one decimal ("45.0 %"), "—" when absent. */
export const fmtShare = (x) => (typeof x === 'number' ? `${(x * 100).toFixed(1)} %` : '—');

/**
 * Why a lot's verified value is what it is: the conditions that reduce it with the share it keeps, and a
 * measured weight under the pledge; "counts in full" otherwise.
 */
export function lotWhy(lot) {
  const parts = [];
  if (lot.conditions.length > 0)
    parts.push(
      `${lot.conditions.map((c) => CONDITION_TEXT[c] ?? c).join(', ')}: counts at ${Math.round(lot.factor * 100)} %`,
    );
  if (lot.measuredWeightKg === undefined) {
    if (lot.conditions.length === 0) parts.push('no weight measured yet');
  } else if (lot.verifiedValue < lot.claimedValue * lot.factor - 0.5)
    parts.push('measured weight below the pledge');
  return parts.length === 0 ? 'counts in full' : parts.join('; ');
}

/** Open applications: those still taking a decision (risk/decisions/decide.ts OPEN). */
export const OPEN_STATUSES = ['pending', 'awaiting-second', 'referred'];

/**
 * Co-lending shares as typed in the filing form: "lender 40, bank-b 60" → [{ funderId: 'lender', sharePct: 40 },
 * …]; an empty text is the lender alone. Throws naming the piece that does not read as "funder share".
 */
export function parseFunders(text) {
  const parts = text
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '');
  return parts.map((p) => {
    const m = /^(\S+)\s+(\d+(?:\.\d+)?)\s*%?$/.exec(p);
    if (m === null) throw new Error(`"${p}" is not "funder share" (e.g. "lender 40")`);
    return { funderId: m[1], sharePct: Number(m[2]) };
  });
}

const who = (d, meId) => (d.approverKeyId === meId ? 'you' : (d.approverName ?? d.approverKeyId));

/**
 * The four-eyes state of an application in words, and whether the caller may still decide it (an approver who
 * gave the first approval may not give the second).
 */
export function fourEyesState(application, decisions, meId) {
  const approvals = decisions.filter((d) => d.outcome === 'approve' || d.outcome === 'approve-lower');
  const mine = decisions.some((d) => d.approverKeyId === meId);
  if (application.status === 'awaiting-second') {
    const first = approvals[0];
    return {
      text: `First approval by ${first ? who(first, meId) : 'an approver'}${first?.amount === undefined ? '' : ` (${first.amount.toLocaleString()} ${application.currency})`}; awaiting a second, different approver.`,
      mayDecide: !mine,
    };
  }
  if (application.status === 'approved')
    return {
      text: `Approved${application.decidedAmount === undefined ? '' : ` for ${application.decidedAmount.toLocaleString()} ${application.currency}`} by ${approvals.map((d) => who(d, meId)).join(' and ')}.`,
      mayDecide: false,
    };
  if (application.status === 'declined') {
    const d = decisions.find((x) => x.outcome === 'decline');
    return { text: `Declined${d ? ` by ${who(d, meId)}` : ''}.`, mayDecide: false };
  }
  const text = application.status === 'referred' ? 'Referred; awaiting a decision.' : 'Awaiting a decision.';
  return { text, mayDecide: !mine };
}
