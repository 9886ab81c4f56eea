/**
 * Alert quality against ground truth (`npm run eval:alerts`): precision per rule, recall and time to detect per
 * kind of true event, and the noise an officer would read. Pure: alerts and true events in, figures out.
 *
 * Definitions (stated in the report, pinned by alerts/test/quality.test.ts):
 * - an alert **overlaps** a true event when it is on one of the event's subjects (lot or device) or borrowers,
 *   and was opened in [event start, event end + GRACE_MS];
 * - an event is **detected** by an alert that overlaps it *on one of its subjects* (for borrower-wide events
 *   with no subject — a decline — on its borrower): a battery alert on a borrower whose lot is being emptied
 *   does not count as seeing the removal;
 * - precision = alerts that overlap some true event ÷ all alerts; recall = events detected ÷ events;
 *   time to detect = first detecting alert's open time − the event's onset (its first visible effect), ≥ 0;
 * - noise = alerts overlapping no true event, per 100 borrowers per week of the run.
 */
export const GRACE_MS = 12 * 3_600_000;
const WEEK_MS = 7 * 86_400_000;

export interface ScoredAlert {
  readonly ruleId: string;
  readonly severity: string;
  readonly subjectId: string;
  readonly borrowerId?: string;
  readonly deviceId?: string;
  readonly lotId?: string;
  readonly openedAt: number;
}

export interface GroundTruthEvent {
  readonly id: string;
  readonly kind: string;
  readonly fraud: boolean;
  readonly scenario: boolean;
  readonly borrowerIds: readonly string[];
  readonly subjectIds: readonly string[];
  readonly startMs: number;
  readonly onsetMs: number;
  readonly endMs: number;
}

export interface RuleFigures {
  readonly alerts: number;
  readonly truePositives: number;
  readonly precision: number | null;
  readonly noisePer100BorrowersWeek: number;
}

export interface KindFigures {
  readonly events: number;
  readonly detected: number;
  readonly recall: number | null;
  readonly detectedWithin6h: number;
  readonly recallWithin6h: number | null;
  readonly ttdP50H: number | null;
  readonly ttdP90H: number | null;
  /** Rules that detected events of this kind, with how many each. */
  readonly byRule: Readonly<Record<string, number>>;
}

export interface QualityReport {
  readonly graceH: number;
  readonly borrowers: number;
  readonly weeks: number;
  readonly alerts: number;
  readonly precision: number | null;
  readonly criticalPrecision: number | null;
  readonly noisePer100BorrowersWeek: number;
  readonly fraudRecallWithin6h: number | null;
  readonly byRule: Readonly<Record<string, RuleFigures>>;
  readonly byKind: Readonly<Record<string, KindFigures>>;
  readonly bySeverity: Readonly<Record<string, RuleFigures>>;
}

const ratio = (a: number, b: number): number | null => (b === 0 ? null : a / b);
const quantile = (xs: number[], q: number): number | null => {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? null;
};

const onSubject = (a: ScoredAlert, e: GroundTruthEvent): boolean =>
  e.subjectIds.includes(a.subjectId) ||
  (a.deviceId !== undefined && e.subjectIds.includes(a.deviceId)) ||
  (a.lotId !== undefined && e.subjectIds.includes(a.lotId));
const inWindow = (a: ScoredAlert, e: GroundTruthEvent): boolean =>
  a.openedAt >= e.startMs && a.openedAt <= e.endMs + GRACE_MS;

/**
 * Alerts per 100 borrowers per week over [fromMs, toMs): the figure an officer's workload is judged by, printed by
 * `npm start`'s progress line (over the simulated time so far) and reported by `npm run eval:alerts`; undefined
 * before any time has passed. Pinned by alerts/test/quality.test.ts ('per 100 borrowers per week').
 */
export function per100BorrowersWeek(
  count: number,
  run: { borrowers: number; fromMs: number; toMs: number },
): number | undefined {
  const weeks = (run.toMs - run.fromMs) / WEEK_MS;
  if (!(weeks > 0) || !(run.borrowers > 0)) return undefined;
  return count / (run.borrowers / 100) / weeks;
}

export function scoreAlerts(
  alerts: readonly ScoredAlert[],
  events: readonly GroundTruthEvent[],
  run: { borrowers: number; fromMs: number; toMs: number },
): QualityReport {
  const weeks = (run.toMs - run.fromMs) / WEEK_MS;
  const per100w = (n: number) => per100BorrowersWeek(n, run) ?? 0;
  const byBorrower = new Map<string, GroundTruthEvent[]>();
  const bySubject = new Map<string, GroundTruthEvent[]>();
  const index = (m: Map<string, GroundTruthEvent[]>, k: string, e: GroundTruthEvent) => {
    const l = m.get(k);
    if (l === undefined) m.set(k, [e]);
    else l.push(e);
  };
  for (const e of events) {
    for (const b of e.borrowerIds) index(byBorrower, b, e);
    for (const s of e.subjectIds) index(bySubject, s, e);
  }
  const candidates = (a: ScoredAlert): Set<GroundTruthEvent> => {
    const out = new Set<GroundTruthEvent>();
    for (const k of [a.subjectId, a.deviceId, a.lotId])
      if (k !== undefined) for (const e of bySubject.get(k) ?? []) out.add(e);
    if (a.borrowerId !== undefined) for (const e of byBorrower.get(a.borrowerId) ?? []) out.add(e);
    return out;
  };

  const tally = new Map<string, { alerts: number; tp: number }>();
  const sev = new Map<string, { alerts: number; tp: number }>();
  const firstDetection = new Map<GroundTruthEvent, { at: number; rules: Set<string> }>();
  let tp = 0;
  for (const a of alerts) {
    let overlaps = false;
    for (const e of candidates(a)) {
      if (!inWindow(a, e)) continue;
      overlaps = true;
      const detects = e.subjectIds.length === 0 ? a.borrowerId !== undefined : onSubject(a, e);
      if (!detects) continue;
      const d = firstDetection.get(e);
      if (d === undefined) firstDetection.set(e, { at: a.openedAt, rules: new Set([a.ruleId]) });
      else {
        d.at = Math.min(d.at, a.openedAt);
        d.rules.add(a.ruleId);
      }
    }
    if (overlaps) tp += 1;
    for (const [m, k] of [
      [tally, a.ruleId],
      [sev, a.severity],
    ] as const) {
      const t = m.get(k) ?? { alerts: 0, tp: 0 };
      t.alerts += 1;
      if (overlaps) t.tp += 1;
      m.set(k, t);
    }
  }
  const figures = (m: Map<string, { alerts: number; tp: number }>) =>
    Object.fromEntries(
      [...m].map(([k, t]) => [
        k,
        {
          alerts: t.alerts,
          truePositives: t.tp,
          precision: ratio(t.tp, t.alerts),
          noisePer100BorrowersWeek: per100w(t.alerts - t.tp),
        },
      ]),
    );

  const kinds = new Map<string, GroundTruthEvent[]>();
  for (const e of events) index(kinds, e.kind, e);
  const byKind: Record<string, KindFigures> = {};
  let fraudEvents = 0;
  let fraudFast = 0;
  for (const [kind, evs] of kinds) {
    const ttd: number[] = [];
    const byRule: Record<string, number> = {};
    let within6h = 0;
    for (const e of evs) {
      const d = firstDetection.get(e);
      if (d === undefined) continue;
      const t = Math.max(0, d.at - e.onsetMs);
      ttd.push(t / 3_600_000);
      if (t <= 6 * 3_600_000) within6h += 1;
      for (const r of d.rules) byRule[r] = (byRule[r] ?? 0) + 1;
    }
    if (evs[0]?.fraud === true) {
      fraudEvents += evs.length;
      fraudFast += within6h;
    }
    byKind[kind] = {
      events: evs.length,
      detected: ttd.length,
      recall: ratio(ttd.length, evs.length),
      detectedWithin6h: within6h,
      recallWithin6h: ratio(within6h, evs.length),
      ttdP50H: quantile(ttd, 0.5),
      ttdP90H: quantile(ttd, 0.9),
      byRule,
    };
  }
  const critical = sev.get('critical');
  return {
    graceH: GRACE_MS / 3_600_000,
    borrowers: run.borrowers,
    weeks,
    alerts: alerts.length,
    precision: ratio(tp, alerts.length),
    criticalPrecision: critical === undefined ? null : ratio(critical.tp, critical.alerts),
    noisePer100BorrowersWeek: per100w(alerts.length - tp),
    fraudRecallWithin6h: ratio(fraudFast, fraudEvents),
    byRule: figures(tally),
    byKind,
    bySeverity: figures(sev),
  };
}
