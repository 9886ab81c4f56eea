import { Type, type Static } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { ValueErrorType } from '@sinclair/typebox/errors';
import { RiskfuseError } from '../core/errors.js';
import type { FunderShare, Loan as LoanRecord, Repayment as RepaymentRecord } from '../core/state/index.js';
import { POLICY_CODES } from '../risk/policy/checks.js';
import type { CsvTable } from './csv.js';
import { ImportPolicyCheck, parseFundersCell, sameFunders, type ImportPolicy } from './import-policy.js';
import {
  LOOKUP_CHUNK_ROWS,
  lookUp,
  type ImportStore,
  type Lookups,
  type StoredRow,
} from './import-lookups.js';
import { Loan, Repayment } from './schemas.js';

/**
 * Loan-data import: loans and repayments, as JSON batches or CSV. The semantics a bank's back office expects
 * of a file it sends (README "API › Loan-data import"):
 * - every row is validated first — shape, references (borrower, loan), consistency, duplicates in the file;
 * - `atomic` (default): if any row is rejected, nothing is applied and the report (422) lists every rejected
 *   row with its line, column and reason, so the file can be fixed and sent again as a whole;
 * - `partial`: the valid rows are applied and the rejected ones reported;
 * - either way what is applied is applied in one transaction, with one audit entry;
 * - idempotent by external id: a row equal to the stored one is `unchanged`, a different one `updated`, a new
 *   one `created`; sending the same file twice changes nothing the second time. A loan never moves to another
 *   borrower, nor a repayment to another loan (rejected).
 */
export type ImportKind = 'loans' | 'repayments';
export type ImportMode = 'atomic' | 'partial';

export const REJECTION_REASONS = [
  'MISSING_FIELD',
  'INVALID_VALUE',
  'UNKNOWN_FIELD',
  'DUPLICATE_ID',
  'UNKNOWN_BORROWER',
  'UNKNOWN_LOAN',
  'BORROWER_CHANGED',
  'LOAN_CHANGED',
  'INCONSISTENT',
  // The lending policy's (api/import-policy.ts).
  ...POLICY_CODES.filter((c) => c !== 'POLICY_MIN_COVERAGE'),
] as const;
export type RejectionReason = (typeof REJECTION_REASONS)[number];

export const Rejection = Type.Object({
  index: Type.Integer({ description: 'row index, 0-based (JSON item or CSV data row)' }),
  line: Type.Optional(Type.Integer({ description: 'CSV line number (the header is line 1)' })),
  id: Type.Optional(Type.String({ description: 'the row’s id, when it has one' })),
  column: Type.Optional(Type.String()),
  reason: Type.Union(REJECTION_REASONS.map((r) => Type.Literal(r))),
  message: Type.String(),
});
export type Rejection = Static<typeof Rejection>;

export const ImportReport = Type.Object({
  kind: Type.Union([Type.Literal('loans'), Type.Literal('repayments')]),
  mode: Type.Union([Type.Literal('atomic'), Type.Literal('partial')]),
  applied: Type.Boolean({ description: 'whether the accepted rows were written' }),
  total: Type.Integer(),
  created: Type.Integer(),
  updated: Type.Integer(),
  unchanged: Type.Integer(),
  rejected: Type.Integer(),
  rejections: Type.Array(Rejection, { description: 'every rejected row, in file order' }),
});
export type ImportReport = Static<typeof ImportReport>;

/** A loan row may name its funders (co-lending); without them the loan's stored funders stay. */
const LoanRow = Type.Object(
  {
    ...Loan.properties,
    funders: Type.Optional(
      Type.Array(
        Type.Object(
          {
            funderId: Type.String({ minLength: 1, maxLength: 64 }),
            sharePct: Type.Number({ minimum: 0, maximum: 100 }),
          },
          { additionalProperties: false },
        ),
        { minItems: 1, maxItems: 20, description: 'who funds the loan and in what share, %' },
      ),
    ),
  },
  { additionalProperties: false },
);
const RepaymentRow = Type.Object(Repayment.properties, { additionalProperties: false });

type ColumnType = 'string' | 'number' | 'time' | 'funders';
const COLUMNS: Record<ImportKind, Record<string, ColumnType>> = {
  loans: {
    id: 'string',
    borrowerId: 'string',
    principal: 'number',
    currency: 'string',
    annualRatePct: 'number',
    startAt: 'time',
    termDays: 'number',
    status: 'string',
    defaultedAt: 'time',
    funders: 'funders',
  },
  repayments: {
    id: 'string',
    loanId: 'string',
    dueAt: 'time',
    amountDue: 'number',
    paidAt: 'time',
    amountPaid: 'number',
  },
};
const REQUIRED: Record<ImportKind, readonly string[]> = {
  loans: LoanRow.required ?? [],
  repayments: RepaymentRow.required ?? [],
};

export function importColumns(kind: ImportKind): {
  required: readonly string[];
  optional: readonly string[];
} {
  const all = Object.keys(COLUMNS[kind]);
  return { required: REQUIRED[kind], optional: all.filter((c) => !REQUIRED[kind].includes(c)) };
}

const checks = {
  loans: TypeCompiler.Compile(LoanRow),
  repayments: TypeCompiler.Compile(RepaymentRow),
};

/** One input row, before validation: a JSON item, or CSV cells already mapped to column names. */
export interface RawRow {
  readonly index: number;
  readonly line?: number;
  readonly value: unknown;
  /** A CSV conversion problem found before schema validation. */
  readonly problem?: Omit<Rejection, 'index' | 'line' | 'id'>;
}

const NUMBER_RE = /^-?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const ISO_DATE_RE = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

/**
 * Maps CSV rows onto the JSON field names and types: numbers as decimals, times as epoch ms or ISO 8601 dates
 * (a date alone is 00:00 UTC), empty cells as absent. A header naming an unknown or repeated column, or
 * lacking a required one, fails the whole upload (the caller answers 400).
 */
export function csvRows(kind: ImportKind, table: CsvTable): { rows: RawRow[] } | { headerProblem: string } {
  const spec = COLUMNS[kind];
  const header = table.header;
  const unknown = header.filter((h) => !(h in spec));
  if (unknown.length > 0) {
    return {
      headerProblem: `unknown column(s) ${unknown.map((u) => JSON.stringify(u)).join(', ')}; expected ${Object.keys(spec).join(', ')}`,
    };
  }
  const repeated = header.filter((h, i) => header.indexOf(h) !== i);
  if (repeated.length > 0) return { headerProblem: `repeated column(s) ${repeated.join(', ')}` };
  const missing = REQUIRED[kind].filter((c) => !header.includes(c));
  if (missing.length > 0) return { headerProblem: `missing required column(s) ${missing.join(', ')}` };

  const rows: RawRow[] = table.rows.map(({ line, cells }, index) => {
    if (cells.length !== header.length) {
      const id = cells[header.indexOf('id')];
      return {
        index,
        line,
        value: id === undefined ? {} : { id },
        problem: {
          reason: 'INVALID_VALUE',
          message: `${cells.length} cells where the header has ${header.length}`,
        },
      };
    }
    const value: Record<string, unknown> = {};
    for (let c = 0; c < header.length; c++) {
      const column = header[c] ?? '';
      const cell = cells[c] ?? '';
      if (cell === '') continue;
      const type = spec[column];
      if (type === 'number') {
        if (!NUMBER_RE.test(cell))
          return {
            index,
            line,
            value,
            problem: {
              column,
              reason: 'INVALID_VALUE',
              message: `not a number: ${JSON.stringify(cell.slice(0, 40))}`,
            },
          };
        value[column] = Number(cell);
      } else if (type === 'funders') {
        const funders = parseFundersCell(cell);
        if (typeof funders === 'string')
          return { index, line, value, problem: { column, reason: 'INVALID_VALUE', message: funders } };
        value[column] = funders;
      } else if (type === 'time') {
        const ms = /^\d+$/.test(cell)
          ? Number(cell)
          : ISO_DATE_RE.test(cell)
            ? Date.parse(cell.length === 10 ? `${cell}T00:00:00Z` : cell)
            : NaN;
        if (!Number.isFinite(ms)) {
          return {
            index,
            line,
            value,
            problem: {
              column,
              reason: 'INVALID_VALUE',
              message: `not epoch ms or an ISO 8601 date: ${JSON.stringify(cell.slice(0, 40))}`,
            },
          };
        }
        value[column] = ms;
      } else {
        value[column] = cell;
      }
    }
    return { index, line, value };
  });
  return { rows };
}

export function jsonRows(items: readonly unknown[]): RawRow[] {
  return items.map((value, index) => ({ index, value }));
}

const same = (a: Record<string, unknown>, b: Record<string, unknown>): boolean => {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const k of keys) if (a[k] !== b[k]) return false;
  return true;
};

export type { ImportStore } from './import-lookups.js';

export interface ImportOutcome {
  readonly report: ImportReport;
  /** For the audit entry. */
  readonly createdIds: string[];
  readonly updatedBefore: unknown[];
}

/**
 * Validates every row, then applies according to `mode`, all inside one transaction of the state store (so
 * what was checked is what is written). `onProgress` is called every `progressEvery` rows.
 *
 * Two imports of the same kind at once: on PostgreSQL the second is refused at once (CONFLICT, retryable) — it
 * would otherwise validate against rows the first is about to change, and both would write; on SQLite write
 * transactions run one at a time, so the second runs after the first (and finds its rows `unchanged`).
 */
export async function runImport<K extends ImportKind>(
  kind: K,
  mode: ImportMode,
  rows: readonly RawRow[],
  store: ImportStore,
  options: {
    progressEvery?: number;
    onProgress?: (stage: 'validated' | 'applied', done: number, total: number) => void;
    afterApply?: (outcome: ImportOutcome) => Promise<void>;
    /** The lending policy loan rows are checked against (api/import-policy.ts); none: not checked. */
    policy?: ImportPolicy;
  } = {},
): Promise<ImportOutcome> {
  const progressEvery = options.progressEvery ?? 10_000;
  const check = checks[kind];
  return store.transaction(async () => {
    // First thing: the loser writes nothing and waits for nothing.
    if (!(await store.db.tryLock(`import:${kind}`))) {
      throw new RiskfuseError('CONFLICT', `another ${kind} import is running; retry when it has finished`, {
        retryable: true,
      });
    }
    const rejections: Rejection[] = [];
    const accepted: StoredRow<K>[] = [];
    const createdIds: string[] = [];
    const updatedBefore: unknown[] = [];
    let unchanged = 0;
    const seen = new Map<string, RawRow>();
    const lookups: Lookups<K> = { stored: new Map(), parentExists: new Map() };
    const policy = kind === 'loans' ? new ImportPolicyCheck(store, options.policy) : undefined;
    /** Funders of accepted loan rows that name them, written with the loans. */
    const funders = new Map<string, readonly FunderShare[]>();

    /** Validates one row against the chunk's lookups: rejects it, or accepts it as created, updated or unchanged. */
    const validate = (row: RawRow): void => {
      const rawId = (row.value as { id?: unknown } | null)?.id;
      const id = typeof rawId === 'string' ? rawId.slice(0, 64) : undefined;
      const reject = (r: Omit<Rejection, 'index' | 'line' | 'id'>): void => {
        rejections.push({
          index: row.index,
          ...(row.line === undefined ? {} : { line: row.line }),
          ...(id === undefined ? {} : { id }),
          ...r,
        });
      };
      if (row.problem) return reject(row.problem);
      if (!check.Check(row.value)) {
        const first = check.Errors(row.value).First();
        const column = first?.path.replace(/^\//, '').split('/')[0] ?? '';
        const reason: RejectionReason =
          first?.type === ValueErrorType.ObjectRequiredProperty
            ? 'MISSING_FIELD'
            : first?.type === ValueErrorType.ObjectAdditionalProperties
              ? 'UNKNOWN_FIELD'
              : 'INVALID_VALUE';
        return reject({
          ...(column === '' ? {} : { column }),
          reason,
          message: first?.message ?? 'invalid row',
        });
      }
      let record = row.value as StoredRow<K>;
      let rowFunders: readonly FunderShare[] | undefined;
      if (kind === 'loans') {
        const { funders: named, ...loanOnly } = row.value as LoanRecord & { funders?: FunderShare[] };
        record = loanOnly as StoredRow<K>;
        rowFunders = named;
      }
      const earlier = seen.get(record.id);
      if (earlier !== undefined) {
        return reject({
          column: 'id',
          reason: 'DUPLICATE_ID',
          message: `id ${record.id} already at ${earlier.line === undefined ? `item ${earlier.index}` : `line ${earlier.line}`}`,
        });
      }
      seen.set(record.id, row);

      const existing = lookups.stored.get(record.id);
      if (kind === 'loans') {
        const loan = record as LoanRecord;
        if ((loan.status === 'defaulted') !== (loan.defaultedAt !== undefined)) {
          return reject({
            column: 'defaultedAt',
            reason: 'INCONSISTENT',
            message: 'defaultedAt is set exactly when status is defaulted',
          });
        }
        if (lookups.parentExists.get(loan.borrowerId) !== true)
          return reject({
            column: 'borrowerId',
            reason: 'UNKNOWN_BORROWER',
            message: `no borrower ${loan.borrowerId}`,
          });
        const stored = existing as LoanRecord | undefined;
        if (stored !== undefined && stored.borrowerId !== loan.borrowerId) {
          return reject({
            column: 'borrowerId',
            reason: 'BORROWER_CHANGED',
            message: `loan ${loan.id} belongs to borrower ${stored.borrowerId}`,
          });
        }
        const unchangedRow =
          stored !== undefined &&
          same(stored as unknown as Record<string, unknown>, loan as unknown as Record<string, unknown>) &&
          (rowFunders === undefined || sameFunders(rowFunders, policy?.storedFunders.get(loan.id) ?? []));
        if (!unchangedRow && policy !== undefined) {
          const v = policy.check(loan, rowFunders, stored);
          if (v !== undefined) {
            return reject({
              column:
                v.code === 'POLICY_BORROWER_CAP'
                  ? 'principal'
                  : v.code === 'POLICY_MAX_TENOR'
                    ? 'termDays'
                    : 'funders',
              reason: v.code as RejectionReason,
              message: v.message,
            });
          }
          policy.accepted(loan, stored);
        }
        if (rowFunders !== undefined && !unchangedRow) funders.set(loan.id, rowFunders);
        if (
          stored !== undefined &&
          !unchangedRow &&
          rowFunders !== undefined &&
          same(stored as unknown as Record<string, unknown>, loan as unknown as Record<string, unknown>)
        ) {
          // Only the funders changed: an update of the loan's terms all the same.
          updatedBefore.push(existing);
          accepted.push(record);
          return;
        }
      } else {
        const rep = record as RepaymentRecord;
        if (rep.amountPaid > 0 && rep.paidAt === undefined) {
          return reject({ column: 'paidAt', reason: 'INCONSISTENT', message: 'a paid amount needs paidAt' });
        }
        if (lookups.parentExists.get(rep.loanId) !== true)
          return reject({ column: 'loanId', reason: 'UNKNOWN_LOAN', message: `no loan ${rep.loanId}` });
        const stored = existing as RepaymentRecord | undefined;
        if (stored !== undefined && stored.loanId !== rep.loanId) {
          return reject({
            column: 'loanId',
            reason: 'LOAN_CHANGED',
            message: `repayment ${rep.id} belongs to loan ${stored.loanId}`,
          });
        }
      }
      if (existing === undefined) {
        createdIds.push(record.id);
        accepted.push(record);
      } else if (
        same(existing as unknown as Record<string, unknown>, record as unknown as Record<string, unknown>)
      ) {
        unchanged += 1;
      } else {
        updatedBefore.push(existing);
        accepted.push(record);
      }
    };

    // Nothing is written while validating, so reading a chunk's references ahead of its rows sees what a read
    // per row would have seen.
    for (const [i, row] of rows.entries()) {
      if (i % LOOKUP_CHUNK_ROWS === 0) {
        const chunk = rows.slice(i, i + LOOKUP_CHUNK_ROWS);
        await lookUp(kind, chunk, store, lookups);
        await policy?.load(chunk.map((r) => (r.value ?? {}) as { id?: unknown; borrowerId?: unknown }));
      }
      if (i > 0 && i % progressEvery === 0) options.onProgress?.('validated', i, rows.length);
      validate(row);
    }

    const apply = rejections.length === 0 || mode === 'partial';
    if (apply && accepted.length > 0) {
      if (kind === 'loans') {
        await store.loans.upsertLoans(accepted as LoanRecord[]);
        await store.lending.replaceFunders(funders);
      } else await store.loans.upsertRepayments(accepted as RepaymentRecord[]);
    }
    const report: ImportReport = {
      kind,
      mode,
      applied: apply,
      total: rows.length,
      created: createdIds.length,
      updated: updatedBefore.length,
      unchanged,
      rejected: rejections.length,
      rejections,
    };
    const outcome = { report, createdIds, updatedBefore };
    if (apply) {
      options.onProgress?.('applied', accepted.length, accepted.length);
      await options.afterApply?.(outcome);
    }
    return outcome;
  });
}
