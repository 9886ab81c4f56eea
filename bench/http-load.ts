import { ConnectionPool, type Socket } from './http-connection.js';

export { ConnectionPool };

/**
 * The closed-loop HTTP load both bench clients run (the worker thread bench/http-load-worker.ts, the child
 * process bench/http-load-process.ts): `connections` keep-alive sockets (Nagle off), each sending its next
 * request as soon as the previous response has been read. The sockets speak HTTP/1.1 themselves
 * (bench/http-connection.ts): node:http's client cost as much CPU per request as the trivial server it measured
 * (56 µs against 49 µs), so it, not the server, set the baseline's pace. Requests sent during the first `warmupMs` are not
 * measured. Reports the measured count, every completed request (warm-up included, for CPU per request),
 * errors, non-2xx statuses and latency quantiles.
 */
export interface HttpLoadSpec {
  readonly url: string;
  readonly headers: Record<string, string>;
  readonly connections: number;
  readonly warmupMs: number;
  readonly durationMs: number;
}

export interface HttpLoadReport {
  readonly requests: number;
  /** Requests completed in the run, warm-up included (the server served them all). */
  readonly completed: number;
  readonly perS: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly errors: number;
  readonly non2xx: number;
  /** CPU time (user + system) the client process spent on the run, µs; from bench/http-load-process.ts only. */
  readonly clientCpuUs?: number;
}

function quantile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
}

/** One closed-loop run of `spec` over `pool`'s connections to its origin. */
export async function runLoad(spec: HttpLoadSpec, pool: ConnectionPool): Promise<HttpLoadReport> {
  const target = new URL(spec.url);
  const path = `${target.pathname}${target.search}`;
  const startMs = performance.now();
  const measureFromMs = startMs + spec.warmupMs;
  const endMs = measureFromMs + spec.durationMs;
  let latencies = new Float64Array(1 << 16);
  let measured = 0;
  let completed = 0;
  let errors = 0;
  let non2xx = 0;

  const record = (sentMs: number, status: number) => {
    const doneMs = performance.now();
    completed += 1;
    if (sentMs < measureFromMs || doneMs > endMs) return;
    if (measured === latencies.length) {
      const grown = new Float64Array(latencies.length * 2);
      grown.set(latencies);
      latencies = grown;
    }
    latencies[measured++] = doneMs - sentMs;
    if (status < 200 || status >= 300) non2xx += 1;
  };
  const head = Buffer.from(
    `GET ${path} HTTP/1.1\r\nhost: ${target.host}\r\n${Object.entries(spec.headers)
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('')}\r\n`,
  );
  const loop = async (socket: Socket): Promise<void> => {
    while (performance.now() < endMs) {
      const sentMs = performance.now();
      try {
        record(sentMs, await socket.exchange(head));
      } catch {
        // The connection failed: counted (the bench refuses a run with errors), and this loop ends.
        errors += 1;
        return;
      }
    }
  };
  await Promise.all((await pool.sockets(target, spec.connections)).map(loop));
  const sorted = latencies.slice(0, measured).sort();
  return {
    requests: measured,
    completed,
    perS: Math.round((measured * 1000) / spec.durationMs),
    p50Ms: Number(quantile(sorted, 0.5).toFixed(3)),
    p99Ms: Number(quantile(sorted, 0.99).toFixed(3)),
    maxMs: Number((sorted[sorted.length - 1] ?? 0).toFixed(3)),
    errors,
    non2xx,
  };
}
