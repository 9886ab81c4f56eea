import type { MetricSample, MetricsSource } from '../core/metrics.js';
import type { Ingest } from './app.js';

/** The ingest counters for `/metrics`. */
export function ingestMetrics(ingest: Pick<Ingest, 'counters'>): MetricsSource {
  return {
    samples(): MetricSample[] {
      const c = ingest.counters;
      const counter = (name: string, help: string, value: number): MetricSample => ({
        name,
        help,
        type: 'counter',
        value,
      });
      return [
        counter(
          'riskfuse_ingest_messages_received_total',
          'MQTT messages received by the ingest',
          c.messagesReceived,
        ),
        counter('riskfuse_ingest_readings_received_total', 'Readings received', c.readingsReceived),
        counter('riskfuse_ingest_readings_stored_total', 'Readings durably stored', c.readingsStored),
        ...Object.entries(c.rejectedByReason).map(([reason, value]) => ({
          name: 'riskfuse_ingest_readings_rejected_total',
          help: 'Readings dead-lettered, by reason',
          type: 'counter' as const,
          value,
          labels: { reason },
        })),
        counter(
          'riskfuse_ingest_batches_written_total',
          'Batches written to the telemetry store',
          c.batchesWritten,
        ),
        counter('riskfuse_ingest_store_retries_total', 'Telemetry store writes retried', c.storeRetries),
        counter('riskfuse_ingest_messages_acked_total', 'MQTT messages acknowledged', c.messagesAcked),
        {
          name: 'riskfuse_ingest_buffered_readings',
          help: 'Readings awaiting the store',
          type: 'gauge',
          value: c.bufferedReadings,
        },
        {
          name: 'riskfuse_ingest_lag_ms',
          help: 'Now minus the device time of the oldest reading in the last stored batch, ms',
          type: 'gauge',
          value: c.lagMs,
        },
      ];
    },
  };
}
