import { Type } from '@sinclair/typebox';
import { RiskfuseError } from '../../core/errors.js';
import type { ApiApp, RouteContext } from '../app.js';
import type { CsvTable } from '../csv.js';
import {
  csvRows,
  ImportReport,
  importColumns,
  jsonRows,
  runImport,
  type ImportKind,
  type RawRow,
} from '../import.js';
import { LOOKUP_CHUNK_ROWS } from '../import-lookups.js';
import { decodeCursor, isString, paged } from '../pagination.js';
import { ERROR_RESPONSES, PROBLEM_CONTENT_TYPE, Problem, problemOf } from '../problem.js';
import { Cursor, Id, IdParams, Limit, Loan, LoanStatus, Page, Repayment } from '../schemas.js';

/** Most items in one JSON import batch; larger books go as CSV. */
export const MAX_JSON_IMPORT_ITEMS = 10_000;

const ImportProblem = Type.Object({ ...Problem.properties, report: ImportReport });

const CsvBody = Type.Object({
  format: Type.Literal('csv'),
  header: Type.Array(Type.String()),
  rows: Type.Array(Type.Unknown()),
});

/** The borrowers whose loan book an import touched (loans name them; repayments through their loan). */
async function borrowersOf(
  kind: ImportKind,
  rows: readonly RawRow[],
  state: RouteContext['state'],
): Promise<string[]> {
  const ids = new Set<string>();
  const loanIds = new Set<string>();
  for (const r of rows) {
    const v = r.value as { borrowerId?: unknown; loanId?: unknown } | null;
    if (v === null || typeof v !== 'object') continue;
    if (kind === 'loans' && typeof v.borrowerId === 'string') ids.add(v.borrowerId);
    if (kind === 'repayments' && typeof v.loanId === 'string') loanIds.add(v.loanId);
  }
  // The loans in chunks, one statement each (a round trip per loan would cost seconds on PostgreSQL).
  const list = [...loanIds];
  for (let i = 0; i < list.length; i += LOOKUP_CHUNK_ROWS) {
    for (const loan of (await state.loans.getLoans(list.slice(i, i + LOOKUP_CHUNK_ROWS))).values())
      ids.add(loan.borrowerId);
  }
  return [...ids];
}

/** The loan book: read loans and schedules; import loans and repayments (JSON or CSV). */
export function loanRoutes(app: ApiApp, ctx: RouteContext): void {
  const { state } = ctx;

  app.get(
    '/loans',
    {
      schema: {
        summary: 'List loans',
        tags: ['loans'],
        querystring: Type.Object(
          {
            borrowerId: Type.Optional(Id('borrower id')),
            status: Type.Optional(LoanStatus),
            limit: Limit,
            cursor: Type.Optional(Cursor),
          },
          { additionalProperties: false },
        ),
        response: { 200: Page(Loan), ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const { limit, cursor, ...filter } = request.query;
      const afterId = cursor === undefined ? undefined : decodeCursor(cursor, isString);
      return paged(
        await state.loans.queryLoans({
          ...filter,
          limit: limit + 1,
          ...(afterId === undefined ? {} : { afterId }),
        }),
        limit,
        (l) => l.id,
      );
    },
  );

  app.get(
    '/loans/:id',
    {
      schema: {
        summary: 'A loan',
        tags: ['loans'],
        params: IdParams,
        response: { 200: Loan, ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const loan = await state.loans.getLoan(request.params.id);
      if (loan === undefined) throw new RiskfuseError('NOT_FOUND', `no loan ${request.params.id}`);
      return loan;
    },
  );

  app.get(
    '/loans/:id/repayments',
    {
      schema: {
        summary: 'A loan’s repayment schedule, in due order',
        tags: ['loans'],
        params: IdParams,
        response: { 200: Type.Object({ items: Type.Array(Repayment) }), ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      if ((await state.loans.getLoan(request.params.id)) === undefined)
        throw new RiskfuseError('NOT_FOUND', `no loan ${request.params.id}`);
      return { items: await state.loans.listRepayments(request.params.id) };
    },
  );

  for (const kind of ['loans', 'repayments'] as const satisfies readonly ImportKind[]) {
    const columns = importColumns(kind);
    app.post(
      `/imports/${kind}`,
      {
        schema: {
          summary: `Import ${kind} (JSON batch or CSV), idempotent by id`,
          description: [
            `JSON: \`{"items":[…]}\`, at most ${MAX_JSON_IMPORT_ITEMS} items, each shaped like the ${kind === 'loans' ? 'Loan' : 'Repayment'} resource.`,
            `CSV (\`text/csv\`): a header line with columns ${columns.required.join(', ')} (required) and ${columns.optional.join(', ')} (optional); times as epoch ms or ISO 8601; empty cells are absent.`,
            'Every row is validated first. `mode=atomic` (default): any rejected row and nothing is applied (422 with the report). `mode=partial`: the valid rows are applied. What is applied is applied in one transaction; rows equal to the stored ones are `unchanged`.',
            ...(kind === 'loans'
              ? [
                  'A created or changed active loan is checked against the lending policy (`GET /v1/policy`): tenor, co-lending (`funders`: the lender’s own share at least the minimum, shares adding up to 100 %; CSV `lender:30;bank-b:70`) and the borrower cap; a violating row is rejected with its reason code (`POLICY_CO_LENDING_SHARE`, `POLICY_FUNDER_SHARES`, `POLICY_MAX_TENOR`, `POLICY_BORROWER_CAP`).',
                ]
              : []),
          ].join('\n\n'),
          tags: ['imports'],
          querystring: Type.Object(
            {
              mode: Type.Union([Type.Literal('atomic'), Type.Literal('partial')], {
                default: 'atomic',
                description: 'atomic: all rows or none; partial: the valid rows',
              }),
            },
            { additionalProperties: false },
          ),
          body: {
            content: {
              'application/json': {
                schema: Type.Object(
                  { items: Type.Array(Type.Unknown(), { minItems: 1, maxItems: MAX_JSON_IMPORT_ITEMS }) },
                  { additionalProperties: false },
                ),
              },
              'text/csv': { schema: CsvBody },
            },
          },
          response: { 200: ImportReport, 422: ImportProblem, ...ERROR_RESPONSES },
        },
      },
      async (request, reply) => {
        const body = request.body as { items: unknown[] } | CsvTable;
        let rows: RawRow[];
        if ('format' in body) {
          const mapped = csvRows(kind, body);
          if ('headerProblem' in mapped) {
            throw new RiskfuseError('VALIDATION_FAILED', `CSV header: ${mapped.headerProblem}`, {
              details: { errors: [{ path: 'line 1', message: mapped.headerProblem }] },
            });
          }
          if (mapped.rows.length === 0)
            throw new RiskfuseError('VALIDATION_FAILED', 'the CSV has a header but no rows');
          rows = mapped.rows;
        } else {
          rows = jsonRows(body.items);
        }
        const mode = request.query.mode;
        const startedMs = Date.now();
        const log = ctx.log.child({ reqId: request.id, import: kind });
        log.info({ rows: rows.length, mode }, 'import started');
        const outcome = await runImport(kind, mode, rows, state, {
          ...(kind === 'loans' ? { policy: await ctx.importPolicy() } : {}),
          onProgress: (stage, done, total) => log.info({ stage, done, total }, 'import progress'),
          afterApply: ({ report, createdIds, updatedBefore }) =>
            ctx.audit(request, {
              action: 'import',
              resource: kind,
              before: { updated: updatedBefore },
              after: {
                mode,
                total: report.total,
                created: report.created,
                updated: report.updated,
                unchanged: report.unchanged,
                rejected: report.rejected,
                createdIds,
              },
            }),
        });
        const { report } = outcome;
        log.info(
          {
            created: report.created,
            updated: report.updated,
            unchanged: report.unchanged,
            rejected: report.rejected,
            applied: report.applied,
            ms: Date.now() - startedMs,
          },
          'import finished',
        );
        if (!report.applied) {
          const problem = problemOf(
            'IMPORT_REJECTED',
            `${report.rejected} of ${report.total} rows rejected; nothing was applied (mode=atomic)`,
            request,
          );
          void reply.code(422).type(PROBLEM_CONTENT_TYPE);
          return { ...problem, report };
        }
        if (ctx.onLoanEvent !== undefined && report.created + report.updated > 0) {
          ctx.onLoanEvent(await borrowersOf(kind, rows, state));
        }
        return report;
      },
    );
  }
}
