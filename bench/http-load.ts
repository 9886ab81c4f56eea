import { Agent, request } from 'node:http';

/**
 * The closed-loop HTTP load both bench clients run (the worker thread bench/http-load-worker.ts, the child
 * process bench/http-load-process.ts): `connections` keep-alive sockets (Nagle off), each sending its next
 * request as soon as the previous response has been read. Requests sent during the first `warmupMs` are not
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
}

function quantile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
}

/** A keep-alive agent for `connections` sockets; reuse one per origin so runs share their connections. */
export function loadAgent(connections: number): Agent {
  return new Agent({ keepAlive: true, maxSockets: connections, maxFreeSockets: connections });
}

/** One closed-loop run of `spec` over `agent`'s connections. */
export async function runLoad(spec: HttpLoadSpec, agent: Agent): Promise<HttpLoadReport> {
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

  const once = (): Promise<void> =>
    new Promise((resolve) => {
      const sentMs = performance.now();
      const req = request(
        { agent, host: target.hostname, port: target.port, path, headers: spec.headers },
        (res) => {
          res.on('data', () => undefined);
          res.on('end', () => {
            const doneMs = performance.now();
            completed += 1;
            if (sentMs >= measureFromMs && doneMs <= endMs) {
              if (measured === latencies.length) {
                const grown = new Float64Array(latencies.length * 2);
                grown.set(latencies);
                latencies = grown;
              }
              latencies[measured++] = doneMs - sentMs;
              if ((res.statusCode ?? 0) < 200 || (res.statusCode ?? 0) >= 300) non2xx += 1;
            }
            resolve();
          });
        },
      );
      req.on('socket', (socket) => socket.setNoDelay(true));
      req.on('error', () => {
        errors += 1;
        resolve();
      });
      req.end();
    });

  const loop = async (): Promise<void> => {
    while (performance.now() < endMs) await once();
  };
  await Promise.all(Array.from({ length: spec.connections }, loop));
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
