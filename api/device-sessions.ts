import { connect } from 'node:net';
import type { DeviceSessions } from '../core/contracts/index.js';

const CONNECT_TIMEOUT_MS = 1000;

/**
 * `DeviceSessions` for an API in its own process, where the broker is elsewhere: readiness is a TCP connect
 * to the broker's MQTT port, and `disconnect` cannot reach the device's connection. Revocation still holds:
 * the broker checks the registry at every CONNECT and refuses a revoked device, so it is cut off at its next
 * connection attempt (and the ingest drops its readings within INGEST_REGISTRY_CACHE_MS).
 */
export function tcpDeviceSessions(mqttUrl: string): DeviceSessions {
  const url = new URL(mqttUrl);
  const port = Number(url.port || (url.protocol === 'mqtts:' ? 8883 : 1883));
  const host = url.hostname.replace(/^\[|\]$/g, '');
  return {
    disconnectsImmediately: false,
    disconnect: () => Promise.resolve(false),
    isUp: () =>
      new Promise((resolve) => {
        const socket = connect({ host, port });
        const done = (up: boolean): void => {
          socket.destroy();
          resolve(up);
        };
        socket.setTimeout(CONNECT_TIMEOUT_MS, () => done(false));
        socket.once('connect', () => done(true));
        socket.once('error', () => done(false));
      }),
  };
}
