import type { Client } from 'aedes';
import type { DeviceSessions } from '../core/contracts/index.js';
import type { MetricSample, MetricsSource } from '../core/metrics.js';
import type { RiskfuseBroker } from './app.js';

/**
 * The broker's side of the `DeviceSessions` port, for a process that runs the broker and the API together.
 * A device's MQTT client id is its device id (authenticate.ts binds them), so its connection is Aedes'
 * client of that id. Closing it fires the will (`offline`) as for any server-side close.
 */
export function brokerDeviceSessions(broker: RiskfuseBroker): DeviceSessions {
  const clients = (): Record<string, Client | undefined> =>
    (broker.aedes as unknown as { clients: Record<string, Client | undefined> }).clients;
  return {
    disconnectsImmediately: true,
    disconnect(deviceId) {
      const client = clients()[deviceId];
      if (client === undefined || client.closed) return Promise.resolve(false);
      return new Promise((resolve) => client.close(() => resolve(true)));
    },
    isUp: () => Promise.resolve(!broker.aedes.closed),
  };
}

/** The broker's counters for `/metrics`. */
export function brokerMetrics(broker: RiskfuseBroker): MetricsSource {
  return {
    samples(): MetricSample[] {
      const c = broker.counters;
      return [
        {
          name: 'riskfuse_broker_connections_accepted_total',
          help: 'MQTT CONNECTs accepted (CONNACK 0)',
          type: 'counter',
          value: c.connectionsAccepted,
        },
        ...Object.entries(c.connectionsRefused).map(([reason, value]) => ({
          name: 'riskfuse_broker_connections_refused_total',
          help: 'MQTT CONNECTs refused, by CONNACK reason',
          type: 'counter' as const,
          value,
          labels: { reason },
        })),
        {
          name: 'riskfuse_broker_publishes_dropped_unauthorised_total',
          help: 'PUBLISH packets acknowledged but dropped by the topic ACL',
          type: 'counter',
          value: c.publishesDroppedUnauthorised,
        },
        {
          name: 'riskfuse_broker_oversized_packets_total',
          help: 'Packets over the size limit (each cost its sender the connection)',
          type: 'counter',
          value: c.oversizedPackets,
        },
        {
          name: 'riskfuse_broker_clients',
          help: 'MQTT clients connected now',
          type: 'gauge',
          value: c.currentClients,
        },
      ];
    },
  };
}
