import type { Aedes } from 'aedes';
import type { MQEmitter } from 'mqemitter';
import { parseTopic, STATUS_OFFLINE } from '../core/contracts/index.js';
import type { Logger } from '../core/logger.js';

/**
 * Which client is connected to which broker of a cluster, from the announcements every Aedes broker publishes
 * through the shared emitter: `$SYS/{brokerId}/new/clients` when it registers a client (the others then close
 * their connection of that client id [MQTT-3.1.4-2]) and `$SYS/{brokerId}/disconnect/clients` when one goes.
 *
 * Two presence rules need it once devices move between brokers:
 * - A broker that loses a device to another broker (takeover, or the device reconnecting elsewhere first)
 *   must not announce it `offline` (presence.ts asks `connectedElsewhere`).
 * - The will of a device on a broker that died is published by a surviving broker after three missed
 *   heartbeats (Aedes `_clearWills`), whether or not the device has since reconnected to another broker:
 *   that would set a live device's retained status to `offline`. `installStaleWillGate` drops such a will.
 * test/cluster.e2e.test.ts pins both (status stays `online` after the broker kill).
 */
export class ClusterClients {
  /** clientId → the broker it is connected to, for clients connected to other brokers. */
  private readonly elsewhere = new Map<string, string>();

  /** `mq` is the emitter the broker was built with (Aedes keeps it, untyped, as `aedes.mq`). */
  constructor(
    private readonly aedes: Aedes,
    mq: MQEmitter,
  ) {
    mq.on('$SYS/+/new/clients', (packet, done) => {
      const brokerId = packet.topic.split('/')[1] ?? '';
      const clientId = payloadText(packet.payload);
      if (brokerId === aedes.id) this.elsewhere.delete(clientId);
      else this.elsewhere.set(clientId, brokerId);
      done();
    });
    mq.on('$SYS/+/disconnect/clients', (packet, done) => {
      const brokerId = packet.topic.split('/')[1] ?? '';
      const clientId = payloadText(packet.payload);
      if (this.elsewhere.get(clientId) === brokerId) this.elsewhere.delete(clientId);
      done();
    });
  }

  /** Whether `clientId` is connected to another broker of the cluster, as far as this broker has heard. */
  connectedElsewhere(clientId: string): boolean {
    return this.elsewhere.has(clientId);
  }

  /** Forgets the clients of a broker that stopped heartbeating (Aedes drops it from `aedes.brokers`). */
  forgetDeadBrokers(): void {
    const alive = this.aedes.brokers;
    for (const [clientId, brokerId] of this.elsewhere) {
      if (alive[brokerId] === undefined) this.elsewhere.delete(clientId);
    }
  }
}

function payloadText(payload: unknown): string {
  return typeof payload === 'string' ? payload : Buffer.from(payload as Buffer).toString('utf8');
}

/**
 * Drops a dead broker's `offline` will for a device that is connected again — here or on another broker.
 * Aedes publishes a dead broker's wills through `authorizePublish` (with the device's connection to this
 * broker as `client` if it has one, else null) and then `publish`, and deletes the will only after both succeed (aedes.js `_clearWills`); refusing it would leave
 * it to be tried again every pass. So it is allowed and marked for the drop gate (aedes-hooks.ts
 * `installDropGate`), which swallows the publish, and Aedes deletes the will as done.
 */
export function installStaleWillGate(
  aedes: Aedes,
  clients: ClusterClients,
  dropped: WeakSet<object>,
  log: Logger,
): void {
  const authorize = aedes.authorizePublish.bind(aedes);
  aedes.authorizePublish = (client, packet, callback) => {
    // A will carries the id of the broker that stored it (aedes-persistence `putWill`); a packet from the wire
    // or a will of this broker's own connection does not reach here with another broker's id.
    const from = (packet as { brokerId?: string }).brokerId;
    if (from !== undefined && from !== aedes.id && packet.retain) {
      const deviceId = parseTopic(packet.topic)?.deviceId;
      const clientId = (packet as { clientId?: string }).clientId;
      const connected =
        clientId !== undefined &&
        ((aedes as unknown as AedesClients).clients[clientId] !== undefined ||
          clients.connectedElsewhere(clientId));
      if (
        deviceId !== undefined &&
        connected &&
        Buffer.from(packet.payload).toString('utf8') === STATUS_OFFLINE
      ) {
        log.info(
          { deviceId, brokerId: from },
          'will of a dead broker dropped: the device is connected again',
        );
        dropped.add(packet);
        callback(null);
        return;
      }
    }
    authorize(client, packet, callback);
  };
}

/** Aedes' registry of the clients connected to this broker (untyped in its declarations). */
interface AedesClients {
  readonly clients: Readonly<Record<string, unknown>>;
}
