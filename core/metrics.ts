/**
 * Counters and gauges a component exposes for `/metrics`, without the API importing the component: each
 * component offers a `MetricsSource`, the process that wires components together hands them to the API,
 * and the API renders them in the Prometheus text format.
 */
export type MetricType = 'counter' | 'gauge';

export interface MetricSample {
  /** Prometheus metric name, `riskfuse_` prefixed, counters ending in `_total`. */
  readonly name: string;
  readonly help: string;
  readonly type: MetricType;
  readonly value: number;
  /** Label values; keys and values are fixed by the component, never taken from user input. */
  readonly labels?: Readonly<Record<string, string>>;
}

export interface MetricsSource {
  samples(): readonly MetricSample[];
}
