import { randomBytes } from 'node:crypto';
import { RiskfuseError } from '../core/errors.js';
import type {
  State,
  SuppressedAlert,
  SuppressedCause,
  Suppression,
  SuppressionKind,
  SuppressionScope,
} from '../core/state/index.js';
import type { OpenAlertInput } from './alert-service.js';
import { isRuleId, RULE_IDS } from './rules.js';
import { POLICY_BREACH_RULE } from './policy-breach.js';

/**
 * Maintenance windows and snoozes per device, lot or borrower (optionally one rule). The engine asks the gate
 * before an alert opens; an opening a suppression (or the flapping hold) keeps back is stored as a suppressed
 * alert with its cause, in the job's transaction, and the suppression counts it: what was held back stays
 * visible (GET /v1/alerts/suppressions/:id/suppressed) and every suppression made or ended is in the audit log.
 * Pinned by alerts/test/suppressions.test.ts and core/state/test/suppressions.contract.test.ts.
 */

/** Why an opening was held back, as the engine records it. */
export interface Hold {
  readonly cause: SuppressedCause;
  readonly suppressionId?: string;
}

const HOUR = 3_600_000;
/** A window or snooze longer than this is a rule that should be changed (or disabled), not suppressed. */
export const MAX_SUPPRESSION_MS = 90 * 24 * HOUR;

/**
 * The suppressions in force, in memory, for the engine's synchronous decisions: read again at most every
 * `refreshMs` (and at once after this process creates or ends one). Windows are matched on the alert's own
 * time (its reading's), so readings that arrive late are judged by when they were taken.
 */
export class SuppressionGate {
  private current: readonly Suppression[] = [];
  private loadedAtMs = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly state: Pick<State, 'suppressions'>,
    private readonly now: () => number = Date.now,
    private readonly refreshMs = 30_000,
    /** Suppressions over for longer than this are not loaded (a late reading older than it is not held). */
    private readonly lookbackMs = 7 * 24 * HOUR,
  ) {}

  /** Reads the suppressions not over (cached for `refreshMs`); the engine awaits it before a job's rules run. */
  async prepare(): Promise<void> {
    const nowMs = this.now();
    if (nowMs - this.loadedAtMs < this.refreshMs) return;
    this.current = await this.state.suppressions.listCurrent(nowMs - this.lookbackMs);
    this.loadedAtMs = nowMs;
  }

  /** Forgets the cache: the next job reads the suppressions again (after one is created or ended). */
  invalidate(): void {
    this.loadedAtMs = Number.NEGATIVE_INFINITY;
  }

  /**
   * The suppression that holds this opening back, if any: in force at the alert's time, for its rule (or all),
   * and on its device, its lot (the subject's, or the device's as `lotOf` says) or its borrower.
   */
  holding(input: OpenAlertInput, lotOf: (deviceId: string) => string | undefined): Suppression | undefined {
    if (this.current.length === 0) return undefined;
    const lotId =
      input.lotId ??
      (input.subjectKind === 'lot' ? input.subjectId : undefined) ??
      (input.deviceId === undefined ? undefined : lotOf(input.deviceId));
    const deviceId = input.deviceId ?? (input.subjectKind === 'device' ? input.subjectId : undefined);
    const borrowerId = input.borrowerId ?? (input.subjectKind === 'borrower' ? input.subjectId : undefined);
    return this.current.find(
      (s) =>
        s.fromMs <= input.at &&
        input.at < s.untilMs &&
        (s.ruleId === undefined || s.ruleId === input.ruleId) &&
        (s.scopeKind === 'device'
          ? s.scopeId === deviceId
          : s.scopeKind === 'lot'
            ? s.scopeId === lotId
            : s.scopeId === borrowerId),
    );
  }
}

/** The held-back opening as stored. */
export const suppressedAlert = (input: OpenAlertInput, hold: Hold): SuppressedAlert => ({
  id: `sal_${randomBytes(12).toString('hex')}`,
  cause: hold.cause,
  ...(hold.suppressionId === undefined ? {} : { suppressionId: hold.suppressionId }),
  ruleId: input.ruleId,
  severity: input.severity,
  subjectKind: input.subjectKind,
  subjectId: input.subjectId,
  ...(input.borrowerId === undefined ? {} : { borrowerId: input.borrowerId }),
  ...(input.deviceId === undefined ? {} : { deviceId: input.deviceId }),
  ...(input.lotId === undefined ? {} : { lotId: input.lotId }),
  title: input.title,
  evidence: input.evidence,
  at: input.at,
});

export interface NewSuppression {
  readonly kind: SuppressionKind;
  readonly scopeKind: SuppressionScope;
  readonly scopeId: string;
  readonly ruleId?: string;
  readonly reason: string;
  /** Default: now. */
  readonly fromMs?: number;
  readonly untilMs: number;
}

/** Creating, listing and ending suppressions (the API's use cases); the gate learns of changes at once. */
export class SuppressionService {
  constructor(
    private readonly state: Pick<State, 'suppressions' | 'devices' | 'portfolio'>,
    readonly gate: SuppressionGate,
  ) {}

  /** Validates and stores a suppression; bad input is a VALIDATION_FAILED or NOT_FOUND and writes nothing. */
  async create(input: NewSuppression, by: string, nowMs: number): Promise<Suppression> {
    const fromMs = input.fromMs ?? nowMs;
    const problems: { path: string; message: string }[] = [];
    if (input.untilMs <= fromMs) problems.push({ path: 'untilMs', message: 'must be after fromMs' });
    if (input.untilMs <= nowMs) problems.push({ path: 'untilMs', message: 'must be in the future' });
    if (input.untilMs - fromMs > MAX_SUPPRESSION_MS)
      problems.push({
        path: 'untilMs',
        message: `at most ${MAX_SUPPRESSION_MS / (24 * HOUR)} days after fromMs (change the rule instead)`,
      });
    if (input.ruleId !== undefined && !isRuleId(input.ruleId) && input.ruleId !== POLICY_BREACH_RULE)
      problems.push({
        path: 'ruleId',
        message: `no alert rule ${input.ruleId} (one of ${RULE_IDS.join(', ')})`,
      });
    if (input.reason.trim() === '') problems.push({ path: 'reason', message: 'must say why' });
    if (problems.length > 0)
      throw new RiskfuseError('VALIDATION_FAILED', problems.map((p) => `${p.path} ${p.message}`).join('; '), {
        details: { errors: problems },
      });
    const exists =
      input.scopeKind === 'device'
        ? (await this.state.devices.getDevice(input.scopeId)) !== undefined
        : input.scopeKind === 'lot'
          ? (await this.state.portfolio.getLot(input.scopeId)) !== undefined
          : (await this.state.portfolio.getBorrower(input.scopeId)) !== undefined;
    if (!exists) throw new RiskfuseError('NOT_FOUND', `no ${input.scopeKind} ${input.scopeId}`);
    const s: Suppression = {
      id: `sup_${randomBytes(12).toString('hex')}`,
      kind: input.kind,
      scopeKind: input.scopeKind,
      scopeId: input.scopeId,
      ...(input.ruleId === undefined ? {} : { ruleId: input.ruleId }),
      reason: input.reason.trim(),
      fromMs,
      untilMs: input.untilMs,
      createdBy: by,
      createdAt: nowMs,
      suppressed: 0,
    };
    await this.state.suppressions.insertSuppression(s);
    this.gate.invalidate();
    return s;
  }

  async get(id: string): Promise<Suppression> {
    const s = await this.state.suppressions.getSuppression(id);
    if (s === undefined) throw new RiskfuseError('NOT_FOUND', `no suppression ${id}`);
    return s;
  }

  /** Ends a suppression now; one already ended is a CONFLICT. */
  async end(id: string, by: string, nowMs: number): Promise<Suppression> {
    const before = await this.get(id);
    if (before.revokedAt !== undefined || before.untilMs <= nowMs)
      throw new RiskfuseError('CONFLICT', `suppression ${id} has already ended`);
    if (!(await this.state.suppressions.revokeSuppression(id, by, nowMs)))
      throw new RiskfuseError('CONFLICT', `suppression ${id} has already ended`);
    this.gate.invalidate();
    return this.get(id);
  }
}
