import type { Aedes, Client } from 'aedes';
import { STATUS_OFFLINE, statusTopic } from '../core/contracts/index.js';
import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { Session, Sessions } from './aedes-hooks.js';

/**
 * Presence on `rf/v1/{deviceId}/status` is retained `online` (published by the device after CONNACK)
 * and `offline` (its will). A will only fires when a connection ends abruptly: after a clean DISCONNECT
 * it is discarded [MQTT-3.14.4-3], and a device may have set none, or a non-retained one. Any of those
 * would leave a retained `online` behind for a device that is gone. So when a device's connection ends
 * and neither its will nor the device itself left a retained `offline`, the broker publishes one —
 * unless a newer connection of the same device has already taken over [MQTT-3.1.4-2].
 */
export function attachPresence(
  aedes: Aedes,
  sessions: Sessions,
  options: {
    readonly log: Logger;
    readonly isClosing: () => boolean;
    /** Whether the client id is connected to another broker of the cluster (cluster-clients.ts). */
    readonly connectedElsewhere?: (clientId: string) => boolean;
  },
): void {
  /** deviceId → its registered connection. */
  const live = new Map<string, Client>();

  aedes.on('client', (client) => {
    const principal = sessions.get(client)?.principal;
    if (principal?.kind === 'device') live.set(principal.deviceId, client);
  });

  aedes.on('clientDisconnect', (client) => {
    const session = sessions.get(client);
    const principal = session?.principal;
    if (session === undefined || principal?.kind !== 'device') return;
    const { deviceId } = principal;
    if (live.get(deviceId) === client) live.delete(deviceId);
    if (announcedOffline(session, deviceId)) return;
    // On a takeover Aedes closes the old connection first and registers the new one right after, in the
    // same turn; by the next one a taken-over device is `live` again.
    setImmediate(() => {
      if (options.isClosing() || live.has(deviceId)) return;
      // Moved to another broker of the cluster, which announced it before closing this connection.
      if (options.connectedElsewhere?.(client.id) === true) return;
      aedes.publish(
        {
          cmd: 'publish',
          topic: statusTopic(deviceId),
          payload: Buffer.from(STATUS_OFFLINE),
          qos: 1,
          retain: true,
          dup: false,
        },
        (err) => {
          if (err) options.log.warn({ deviceId, err: errorMessage(err) }, 'could not publish offline status');
        },
      );
    });
  });
}

function announcedOffline(session: Session, deviceId: string): boolean {
  if (session.lastRetainedStatus === STATUS_OFFLINE) return true; // a device that says goodbye itself
  const { will } = session;
  return (
    session.willPublished &&
    will !== undefined &&
    will.retain === true &&
    will.topic === statusTopic(deviceId) &&
    Buffer.from(will.payload).toString('utf8') === STATUS_OFFLINE
  );
}
