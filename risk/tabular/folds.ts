import { mulberry32 } from '../../core/random.js';

/**
 * Seeded, stratified splits: every fold (and every early-stopping holdout) keeps the class balance of the
 * whole, so a fold's AUC is never computed on a handful of defaults.
 */

function shuffle<T>(items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j] as T, items[i] as T];
  }
  return items;
}

/**
 * Assigns each of `rows` (indices into y) to one of k folds, class by class, dealing the shuffled rows of
 * each class round-robin (the negatives continue where the positives stopped) so fold sizes differ by ≤ 1.
 * Returns the rows of each fold, in ascending order.
 */
export function stratifiedFolds(
  y: Uint8Array,
  k: number,
  seed: number,
  rows?: readonly number[],
): number[][] {
  const all = rows ?? Array.from(y, (_, i) => i);
  const random = mulberry32(seed);
  const pos = shuffle(
    all.filter((r) => y[r] === 1),
    random,
  );
  const neg = shuffle(
    all.filter((r) => y[r] !== 1),
    random,
  );
  const folds: number[][] = Array.from({ length: k }, () => []);
  [...pos, ...neg].forEach((r, i) => folds[i % k]?.push(r));
  return folds.map((f) => f.sort((a, b) => a - b));
}

/** Splits `rows` into a training part and a stratified holdout of about `fraction` of each class. */
export function stratifiedHoldout(
  y: Uint8Array,
  rows: readonly number[],
  fraction: number,
  seed: number,
): { train: number[]; holdout: number[] } {
  const random = mulberry32(seed);
  const train: number[] = [];
  const holdout: number[] = [];
  for (const cls of [1, 0]) {
    const members = shuffle(
      rows.filter((r) => (y[r] === 1 ? 1 : 0) === cls),
      random,
    );
    const n = Math.max(1, Math.round(members.length * fraction));
    holdout.push(...members.slice(0, n));
    train.push(...members.slice(n));
  }
  return { train: train.sort((a, b) => a - b), holdout: holdout.sort((a, b) => a - b) };
}
