/**
 * What bench:ingest (bench/ingest.ts) keeps of the messages that reached the end of the path, and the quantiles it
 * reports from them.
 */
/** Samples kept per phase for quantiles (the closed loop at 30,000/s for 10 s fits). */
const MAX_SAMPLES = 2_000_000;

/** Every message that arrived at the end of the path: its device timestamp and when it arrived. */
export class Arrivals {
  private stampedMs: number[] = [];
  private arrivedMs: number[] = [];

  add(stampedMs: number, arrivedMs: number): void {
    if (this.stampedMs.length >= MAX_SAMPLES) return;
    this.stampedMs.push(stampedMs);
    this.arrivedMs.push(arrivedMs);
  }

  clear(): void {
    this.stampedMs = [];
    this.arrivedMs = [];
  }

  /** Latencies of the messages selected by `pick(stampedMs, arrivedMs)`. */
  latencies(pick: (stampedMs: number, arrivedMs: number) => boolean): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.stampedMs.length; i++) {
      const s = this.stampedMs[i] as number;
      const a = this.arrivedMs[i] as number;
      if (pick(s, a)) out.push(a - s);
    }
    return out;
  }
}

export function quantile(sorted: readonly number[], q: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? null;
}
