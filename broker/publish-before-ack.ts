import type { Aedes, Client } from 'aedes';
import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { SqlitePersistence } from './persistence-sqlite.js';
import type { InternalPublish } from './aedes-hooks.js';

/**
 * Makes the broker acknowledge a QoS 1 PUBLISH only once the message is stored.
 *
 * Aedes 1.2 writes the PUBACK first and publishes afterwards (lib/handlers/publish.js, `case 1`): the
 * device is told "accepted" while the copy queued for the ingest's persistent session is not yet in the
 * session store. With a durable store a crash in between loses messages the device has already dropped
 * — in a burst, hundreds (test/persistence-sqlite-restart.test.ts kills the broker right after the last PUBACK).
 * [MQTT-4.3.2-2] has the receiver send PUBACK "having accepted ownership of the Application Message".
 *
 * So for a QoS 1 PUBLISH from a client, once `authorizePublish` has allowed it, the message is published
 * (stored, queued, delivered) before Aedes is told to go on; Aedes then writes the PUBACK and hands the
 * packet to `aedes.publish`, which skips it as already done. PUBACKs still leave in the order the
 * PUBLISHes arrived [MQTT-4.6.0-2]: each waits for its predecessors of the same connection. A publish
 * that fails (the store refused it) fails the PUBLISH: Aedes closes the connection without PUBACK, and
 * the device sends it again.
 *
 * With a session store that hands copies off to connected subscribers (persistence-sqlite.ts with
 * MQTT_HANDOFF_MS, handoff.ts), "stored" means owned: each copy committed to the file or acknowledged by
 * its subscriber; the store's `owned(packet)` says when, and the PUBACK waits for that too.
 *
 * QoS 2 needs none of this (Aedes stores the packet and publishes it before PUBREC), and QoS 0 has no
 * acknowledgement. Install after `installDropGate`: a dropped packet goes through the gate here too.
 * This relies on the same Aedes internals as the drop gate (the packet object handed from
 * `authorizePublish` to `aedes.publish`); test/publish-before-ack.test.ts pins them down.
 */
export function installPublishBeforeAck(aedes: Aedes, log: Logger): void {
  installed.add(aedes);
  const target = aedes as unknown as {
    publish: InternalPublish;
    authorizePublish: Aedes['authorizePublish'];
    persistence?: Partial<Pick<SqlitePersistence, 'owned'>>;
  };
  const publish = target.publish.bind(aedes);
  const authorize = target.authorizePublish.bind(aedes);
  const done = new WeakSet<object>();
  /** Per connection: settles when its latest QoS 1 publish has been acknowledged to Aedes. */
  const lastAck = new WeakMap<Client, Promise<void>>();

  target.authorizePublish = (client, packet, callback) => {
    authorize(client, packet, (err) => {
      if (err || client === null || packet.qos !== 1) {
        callback(err);
        return;
      }
      const stored = new Promise<Error | undefined>((resolve) => {
        publish(packet, client, (publishErr) => {
          // Read here: Aedes sets `persistence` in listen(), after this is installed.
          const owned = publishErr ? undefined : target.persistence?.owned?.(packet);
          if (owned === undefined) resolve(publishErr ?? undefined);
          else
            owned.then(
              () => resolve(undefined),
              (err: unknown) => resolve(asError(err)),
            );
        });
      });
      const previous = lastAck.get(client);
      const acked = (previous ?? Promise.resolve())
        .then(() => stored)
        .then((publishErr) => {
          if (publishErr === undefined) done.add(packet);
          callback(publishErr ?? null);
        })
        .catch((thrown: unknown) => {
          log.error({ clientId: client.id, err: errorMessage(thrown) }, 'Aedes failed after a publish');
        });
      lastAck.set(client, acked);
    });
  };

  target.publish = (packet, client, callback) => {
    if (!done.has(packet)) {
      publish(packet, client, callback);
      return;
    }
    done.delete(packet);
    const finished = typeof client === 'function' ? client : callback;
    if (finished) setImmediate(finished);
  };
}

const asError = (err: unknown): Error => (err instanceof Error ? err : new Error(String(err)));

const installed = new WeakSet<Aedes>();

/** Whether `installPublishBeforeAck` was applied to this instance (for tests of the wiring). */
export function hasPublishBeforeAck(aedes: Aedes): boolean {
  return installed.has(aedes);
}
