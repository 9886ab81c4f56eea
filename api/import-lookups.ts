import type { Loan, Repayment, State } from '../core/state/index.js';
import type { ImportKind, RawRow } from './import.js';

/** What an import needs of the state: the loan book and its funders, the borrowers, and one transaction with its lock. */
export type ImportStore = Pick<State, 'db' | 'portfolio' | 'loans' | 'lending' | 'transaction'>;

/** The stored version of a row of an import of `K`. */
export type StoredRow<K extends ImportKind> = K extends 'loans' ? Loan : Repayment;

/**
 * Rows whose stored versions and parents are read together (one statement each): on PostgreSQL a read per row
 * costs a round trip per row (100,000 repayments: 17–31 s per import, 0.4–3 s read in chunks), and ~1,000 ids
 * keep each statement and its JSON parameter small.
 */
export const LOOKUP_CHUNK_ROWS = 1_000;

/** What the rows of a chunk refer to, read in one go: their stored versions, and which parents exist. */
export interface Lookups<K extends ImportKind> {
  readonly stored: Map<string, StoredRow<K>>;
  /** Borrower (loans) or loan (repayments) id → whether it exists; grows chunk by chunk. */
  readonly parentExists: Map<string, boolean>;
}

/** A string field of a raw row, before validation (the row may be anything). */
const stringField = (row: RawRow, field: string): string | undefined => {
  const v = row.value;
  if (v === null || typeof v !== 'object') return undefined;
  const f = (v as Record<string, unknown>)[field];
  return typeof f === 'string' ? f : undefined;
};

/** Reads the stored rows and the parents (not yet known) that `chunk` names, into `lookups`. */
export async function lookUp<K extends ImportKind>(
  kind: K,
  chunk: readonly RawRow[],
  store: ImportStore,
  lookups: Lookups<K>,
): Promise<void> {
  const ids: string[] = [];
  const parents = new Set<string>();
  const parentField = kind === 'loans' ? 'borrowerId' : 'loanId';
  for (const row of chunk) {
    if (row.problem !== undefined) continue;
    const id = stringField(row, 'id');
    if (id !== undefined) ids.push(id);
    const parent = stringField(row, parentField);
    if (parent !== undefined && !lookups.parentExists.has(parent)) parents.add(parent);
  }
  lookups.stored.clear();
  const stored = kind === 'loans' ? await store.loans.getLoans(ids) : await store.loans.getRepayments(ids);
  for (const [id, row] of stored) lookups.stored.set(id, row as StoredRow<K>);
  if (kind === 'loans') {
    const borrowers = await store.portfolio.getBorrowers([...parents]);
    for (const id of parents) lookups.parentExists.set(id, borrowers.has(id));
  } else {
    const loans = await store.loans.getLoans([...parents]);
    for (const id of parents) lookups.parentExists.set(id, loans.has(id));
  }
}
