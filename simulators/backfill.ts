import type { Reading } from '../core/contracts/reading.js';
import { RiskfuseError } from '../core/errors.js';
import type { State } from '../core/state/index.js';
import type { TelemetryStore } from '../core/storage/telemetry-store.js';
import { DAY_MS } from './calendar.js';
import { createEngine, type WorldEngine } from './engine.js';
import { LoanBookWriter } from './loan-sync.js';
import type { DeviceStream, GeneratedReading } from './stream.js';
import type { World } from './world.js';

/**
 * Writes `days` of history for the whole world straight into the stores, as fast as they take it: the same
 * readings the live devices would have published for the same seed and time (same generator, same `seq`),
 * converted to stored readings with the registry's identity, in batches of `batchSize`; then the loan book as
 * of `endMs`. One batch is written while the next is generated. Provision the world first (`provisionWorld`):
 * the loan book refers to its borrowers.
 */
export interface BackfillOptions {
  readonly world: World;
  readonly days: number;
  /** End of the history (exclusive), epoch ms; default now. History never starts before the world's start. */
  readonly endMs?: number;
  readonly telemetryStore: TelemetryStore;
  readonly stateStore: Pick<State, 'portfolio' | 'loans'>;
  /** Readings per write; default 5,000. */
  readonly batchSize?: number;
  readonly onProgress?: (progress: BackfillProgress) => void;
  readonly engine?: WorldEngine;
}

export interface BackfillProgress {
  readonly daysDone: number;
  readonly days: number;
  readonly readingsWritten: number;
  readonly elapsedMs: number;
  readonly readingsPerS: number;
}

export interface BackfillResult extends BackfillProgress {
  readonly fromMs: number;
  readonly toMs: number;
  readonly loans: number;
  readonly repayments: number;
}

export async function backfill(opts: BackfillOptions): Promise<BackfillResult> {
  const { world, telemetryStore, stateStore } = opts;
  if (!(opts.days > 0)) throw new RiskfuseError('VALIDATION_FAILED', `days must be > 0, got ${opts.days}`);
  const first = world.borrowers[0];
  if (first !== undefined && (await stateStore.portfolio.getBorrower(first.id)) === undefined) {
    throw new RiskfuseError(
      'VALIDATION_FAILED',
      'the world is not provisioned in this state store; call provisionWorld first',
    );
  }
  const engine = opts.engine ?? createEngine(world);
  const toMs = opts.endMs ?? Date.now();
  const fromMs = Math.max(world.startMs, toMs - Math.round(opts.days * DAY_MS));
  const days = Math.max(1, Math.ceil((toMs - fromMs) / DAY_MS));
  const batchSize = opts.batchSize ?? 5_000;
  const started = Date.now();
  const streams: DeviceStream[] = world.profiles.devices.map((p) => engine.stream(p.index, fromMs));

  let written = 0;
  let batch: Reading[] = [];
  let pending: Promise<void> = Promise.resolve();
  let failure: Error | undefined;
  const flush = async (): Promise<void> => {
    const readings = batch;
    batch = [];
    // One write in flight: wait for the previous before handing over the next.
    await pending;
    if (failure !== undefined) throw failure;
    pending = telemetryStore.writeReadings(readings).then(
      (r) => {
        written += r.written;
      },
      (err: unknown) => {
        failure = err instanceof Error ? err : new Error(String(err));
      },
    );
  };
  const progress = (daysDone: number): BackfillProgress => {
    const elapsedMs = Date.now() - started;
    return {
      daysDone,
      days,
      readingsWritten: written,
      elapsedMs,
      readingsPerS: elapsedMs > 0 ? (written * 1000) / elapsedMs : 0,
    };
  };

  const buf: GeneratedReading[] = [];
  for (let d = 0; d < days; d++) {
    const windowEnd = Math.min(toMs, fromMs + (d + 1) * DAY_MS);
    for (const s of streams) {
      buf.length = 0;
      s.drain(windowEnd, buf);
      for (const g of buf) {
        batch.push(engine.toReading(g));
        if (batch.length >= batchSize) await flush();
      }
    }
    if (d === days - 1) {
      if (batch.length > 0) await flush();
      await pending;
      if (failure !== undefined) throw failure;
    }
    opts.onProgress?.(progress(d + 1));
  }

  const loanRows = await new LoanBookWriter(engine.loanBook, stateStore).writeAt(toMs);
  return { ...progress(days), fromMs, toMs, loans: loanRows.loans, repayments: loanRows.repayments };
}
