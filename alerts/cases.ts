import { randomBytes } from 'node:crypto';
import { newEventId, type PlatformEvent } from '../core/contracts/events.js';
import { RiskfuseError } from '../core/errors.js';
import {
  ALERT_SEVERITIES,
  type Alert,
  type Case,
  type CaseNote,
  type CaseOutcome,
  type CaseStatus,
  type State,
} from '../core/state/index.js';
import type { AlertService } from './alert-service.js';

/**
 * Cases: the alerts about one borrower grouped into one investigation. An alert opened on a borrower joins the
 * borrower's case that is not closed, or opens one (`case.opened`), in the transaction that opens the alert.
 * An officer takes it (owner), investigates, and closes it with an outcome (`case.closed`): confirmed fraud,
 * false alarm or operational issue. The outcomes of closed cases are each rule's observed precision: the share
 * of its alerts in cases that were not false alarms. Every change and its event commit together.
 * Pinned by alerts/test/cases.test.ts.
 */
export interface CaseTransition {
  readonly status?: CaseStatus;
  readonly owner?: string;
  readonly outcome?: CaseOutcome;
}

export interface CaseDetail {
  readonly case: Case;
  readonly alerts: readonly Alert[];
  readonly notes: readonly CaseNote[];
}

export interface RulePrecision {
  readonly closedAlerts: number;
  readonly confirmedFraud: number;
  readonly operationalIssue: number;
  readonly falseAlarm: number;
  /** (confirmed fraud + operational issue) ÷ alerts in closed cases; null before any. */
  readonly observedPrecision: number | null;
}

const rank = (s: string): number => ALERT_SEVERITIES.indexOf(s as (typeof ALERT_SEVERITIES)[number]);
const NEXT: Readonly<Record<CaseStatus, readonly CaseStatus[]>> = {
  open: ['investigating', 'closed'],
  investigating: ['closed'],
  closed: [],
};

export class CaseService {
  constructor(
    private readonly state: Pick<State, 'cases' | 'alerts'>,
    private readonly alerts: AlertService,
  ) {
    alerts.onOpened((a) => this.file(a));
  }

  /** Files a just-opened alert into its borrower's case (inside the alert's transaction). */
  private async file(a: Alert): Promise<void> {
    if (a.borrowerId === undefined) return;
    const cases = this.state.cases;
    let c = await cases.findOpenCase(a.borrowerId);
    if (c === undefined) {
      const fresh: Case = {
        id: `case_${randomBytes(12).toString('hex')}`,
        borrowerId: a.borrowerId,
        status: 'open',
        openedAt: a.openedAt,
        updatedAt: a.openedAt,
        alertCount: 0,
        maxSeverity: a.severity,
        lastAlertAt: a.openedAt,
      };
      if (await cases.insertCase(fresh)) {
        c = fresh;
        await this.alerts.appendEvents([
          this.event('case.opened', fresh, a.openedAt, { firstAlertId: a.id }),
        ]);
      } else {
        c = await cases.findOpenCase(a.borrowerId);
      }
      if (c === undefined)
        throw new RiskfuseError('CONFLICT', `no open case for ${a.borrowerId}`, { retryable: true });
    }
    await cases.linkAlert({ caseId: c.id, alertId: a.id, ruleId: a.ruleId, addedAt: a.openedAt });
    await cases.updateCase({
      ...c,
      alertCount: c.alertCount + 1,
      maxSeverity: rank(a.severity) > rank(c.maxSeverity) ? a.severity : c.maxSeverity,
      lastAlertAt: Math.max(c.lastAlertAt, a.openedAt),
      updatedAt: Math.max(c.updatedAt, a.openedAt),
    });
  }

  async get(id: string): Promise<CaseDetail> {
    const c = await this.state.cases.getCase(id);
    if (c === undefined) throw new RiskfuseError('NOT_FOUND', `no case ${id}`);
    const links = await this.state.cases.caseAlerts(id);
    const alerts = (await Promise.all(links.map((l) => this.state.alerts.getAlert(l.alertId)))).filter(
      (a): a is Alert => a !== undefined,
    );
    return { case: c, alerts, notes: await this.state.cases.notes(id) };
  }

  list(query: { status?: CaseStatus; limit: number }): Promise<Case[]> {
    return this.state.cases.listCases(query);
  }

  /**
   * Moves a case on (open → investigating → closed), sets its owner, closes it with an outcome. Refused with a
   * clear error (and nothing written) when the move is not allowed or another request changed the case first.
   */
  async transition(id: string, t: CaseTransition, who: string, at: number): Promise<Case> {
    return this.alerts.transaction(async () => {
      const c = await this.state.cases.getCase(id);
      if (c === undefined) throw new RiskfuseError('NOT_FOUND', `no case ${id}`);
      if (c.status === 'closed') throw new RiskfuseError('CONFLICT', `case ${id} is closed`);
      const status = t.status ?? c.status;
      if (status !== c.status && !NEXT[c.status].includes(status))
        throw new RiskfuseError('CONFLICT', `case ${id} cannot go from ${c.status} to ${status}`);
      if (status === 'closed' && t.outcome === undefined)
        throw new RiskfuseError('VALIDATION_FAILED', 'closing a case needs an outcome');
      if (status !== 'closed' && t.outcome !== undefined)
        throw new RiskfuseError('VALIDATION_FAILED', 'an outcome is given only when closing');
      const next: Case = {
        ...c,
        status,
        updatedAt: Math.max(at, c.updatedAt),
        ...(t.owner === undefined ? {} : { owner: t.owner }),
        ...(status === 'closed'
          ? {
              outcome: t.outcome as CaseOutcome,
              closedAt: at,
              closedBy: who,
              owner: t.owner ?? c.owner ?? who,
            }
          : {}),
      };
      if (!(await this.state.cases.updateCase(next, c.status)))
        throw new RiskfuseError('CONFLICT', `case ${id} changed meanwhile; reload it`);
      if (status === 'closed') await this.alerts.appendEvents([this.event('case.closed', next, at)]);
      return next;
    });
  }

  async addNote(id: string, author: string, body: string, at: number): Promise<CaseNote> {
    const c = await this.state.cases.getCase(id);
    if (c === undefined) throw new RiskfuseError('NOT_FOUND', `no case ${id}`);
    const note: CaseNote = {
      id: `note_${randomBytes(12).toString('hex')}`,
      caseId: id,
      author,
      body,
      createdAt: at,
    };
    await this.state.cases.addNote(note);
    return note;
  }

  /** Each rule's observed precision from the outcomes of closed cases. */
  async precisionByRule(): Promise<Record<string, RulePrecision>> {
    const acc: Record<
      string,
      { closedAlerts: number; confirmedFraud: number; operationalIssue: number; falseAlarm: number }
    > = {};
    for (const r of await this.state.cases.outcomesByRule()) {
      const a = (acc[r.ruleId] ??= {
        closedAlerts: 0,
        confirmedFraud: 0,
        operationalIssue: 0,
        falseAlarm: 0,
      });
      a.closedAlerts += r.alerts;
      if (r.outcome === 'confirmed-fraud') a.confirmedFraud += r.alerts;
      else if (r.outcome === 'operational-issue') a.operationalIssue += r.alerts;
      else a.falseAlarm += r.alerts;
    }
    return Object.fromEntries(
      Object.entries(acc).map(([k, a]) => [
        k,
        {
          ...a,
          observedPrecision:
            a.closedAlerts === 0 ? null : (a.confirmedFraud + a.operationalIssue) / a.closedAlerts,
        },
      ]),
    );
  }

  private event(type: 'case.opened' | 'case.closed', c: Case, at: number, extra = {}): PlatformEvent {
    return { id: newEventId(), type, occurredAt: at, data: { case: { ...c }, ...extra } };
  }
}
