import type { MetricSample, MetricsSource } from '../core/metrics.js';

/**
 * `/metrics` in the Prometheus text exposition format (version 0.0.4): the API's own request counter and
 * latency histogram, then whatever the wired components expose (ingest, broker, later scoring).
 */
const BUCKETS_S = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

interface Series {
  readonly labels: string;
  readonly buckets: number[];
  count: number;
  sumS: number;
}

export class ApiMetrics implements MetricsSource {
  private readonly series = new Map<string, Series>();
  /**
   * Series by route, method and status, so a request finds its series without building and escaping its label
   * text (bench:api: every request pays this lookup in the onResponse hook).
   */
  private readonly byRoute = new Map<string, Map<string, Map<number, Series>>>();

  observe(method: string, route: string, status: number, seconds: number): void {
    let byMethod = this.byRoute.get(route);
    if (byMethod === undefined) this.byRoute.set(route, (byMethod = new Map<string, Map<number, Series>>()));
    let byStatus = byMethod.get(method);
    if (byStatus === undefined) byMethod.set(method, (byStatus = new Map<number, Series>()));
    let s = byStatus.get(status);
    if (s === undefined) {
      const labels = `method="${method}",route="${escapeLabel(route)}",status="${status}"`;
      s = this.series.get(labels);
      if (s === undefined) {
        s = { labels, buckets: BUCKETS_S.map(() => 0), count: 0, sumS: 0 };
        this.series.set(labels, s);
      }
      byStatus.set(status, s);
    }
    s.count += 1;
    s.sumS += seconds;
    for (let i = 0; i < BUCKETS_S.length; i++)
      if (seconds <= (BUCKETS_S[i] ?? Infinity)) s.buckets[i] = (s.buckets[i] ?? 0) + 1;
  }

  samples(): MetricSample[] {
    return [...this.series.values()].map((s) => ({
      name: 'riskfuse_api_requests_total',
      help: 'HTTP requests answered, by method, route and status',
      type: 'counter' as const,
      value: s.count,
      labels: parseLabels(s.labels),
    }));
  }

  /** The latency histogram, rendered directly (a histogram is not a single sample). */
  renderHistogram(): string {
    const lines = [
      '# HELP riskfuse_api_request_duration_seconds HTTP request latency, by method, route and status',
      '# TYPE riskfuse_api_request_duration_seconds histogram',
    ];
    for (const s of this.series.values()) {
      BUCKETS_S.forEach((le, i) =>
        lines.push(
          `riskfuse_api_request_duration_seconds_bucket{${s.labels},le="${le}"} ${s.buckets[i] ?? 0}`,
        ),
      );
      lines.push(`riskfuse_api_request_duration_seconds_bucket{${s.labels},le="+Inf"} ${s.count}`);
      lines.push(`riskfuse_api_request_duration_seconds_sum{${s.labels}} ${s.sumS}`);
      lines.push(`riskfuse_api_request_duration_seconds_count{${s.labels}} ${s.count}`);
    }
    return lines.join('\n');
  }
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function parseLabels(labels: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of labels.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g))
    if (m[1] !== undefined) out[m[1]] = m[2] ?? '';
  return out;
}

/** Renders samples grouped by metric name, one HELP/TYPE per name. */
export function renderSamples(samples: readonly MetricSample[]): string {
  const byName = new Map<string, MetricSample[]>();
  for (const s of samples) {
    const list = byName.get(s.name) ?? [];
    list.push(s);
    byName.set(s.name, list);
  }
  const lines: string[] = [];
  for (const [name, list] of byName) {
    const first = list[0];
    if (first === undefined) continue;
    lines.push(`# HELP ${name} ${first.help}`, `# TYPE ${name} ${first.type}`);
    for (const s of list) {
      const labels = s.labels
        ? `{${Object.entries(s.labels)
            .map(([k, v]) => `${k}="${escapeLabel(v)}"`)
            .join(',')}}`
        : '';
      lines.push(`${name}${labels} ${Number.isFinite(s.value) ? s.value : 0}`);
    }
  }
  return lines.join('\n');
}
