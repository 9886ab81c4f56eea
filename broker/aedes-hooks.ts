import type { Aedes, AedesOptions, AuthenticateError, Client, ConnectPacket, PublishPacket } from 'aedes';
import { statusTopic, telemetryTopic } from '../core/contracts/index.js';
import type { Logger } from '../core/logger.js';
import { errorMessage } from '../core/errors.js';
import { authenticateConnect, CONNACK, type Admission, type AuthenticateOptions } from './authenticate.js';
import { checkPublish, checkSubscribe, describePrincipal, type Principal } from './authorize.js';
import type { CounterSet } from './counters.js';

/**
 * The adapter between Aedes 1.2's callback hooks and our admission and ACL decisions. Everything here
 * that depends on how Aedes behaves beyond its documented API is named as such and covered by
 * `test/broker.test.ts`.
 */

/** What we know about one connection, from its CONNECT on. */
export interface Session {
  readonly clientIdSent: string;
  readonly clean: boolean;
  /** The very object Aedes publishes as the will when the connection ends abruptly. */
  readonly will: ConnectPacket['will'];
  principal?: Principal;
  /**
   * The device's own telemetry topic, when the ACL lets it publish there: decided once at CONNECT, so the
   * check of nearly every PUBLISH is one string comparison (no topic string built, no ACL walk).
   */
  allowedTelemetryTopic?: string;
  willPublished: boolean;
  /** The payload of the last retained message this device published on its status topic. */
  lastRetainedStatus?: string | undefined;
  droppedPublishes: number;
}

export type Sessions = WeakMap<Client, Session>;

export interface HookOptions {
  readonly auth: AuthenticateOptions;
  readonly maxPayloadBytes: number;
  readonly counters: CounterSet;
  readonly log: Logger;
}

type Hooks = Required<
  Pick<AedesOptions, 'preConnect' | 'authenticate' | 'authorizePublish' | 'authorizeSubscribe'>
>;

export function createHooks(sessions: Sessions, dropped: WeakSet<object>, options: HookOptions): Hooks {
  const { counters, log } = options;

  const preConnect: Hooks['preConnect'] = (client, packet, callback) => {
    // Only hook that sees the CONNECT as sent: `client.id` is already made up for a zero-byte ClientId.
    sessions.set(client, {
      clientIdSent: packet.clientId,
      clean: packet.clean !== false,
      will: packet.will,
      willPublished: false,
      droppedPublishes: 0,
    });
    callback(null, true);
  };

  const authenticate: Hooks['authenticate'] = (client, username, password, done) => {
    const session = sessions.get(client);
    if (session === undefined) {
      done(refusal(3, 'no CONNECT state'), false);
      return;
    }
    const respond = (admission: Admission): void => {
      if (admission.admitted) {
        const { principal } = admission;
        session.principal = principal;
        if (principal.kind === 'device') {
          const topic = telemetryTopic(principal.deviceId);
          if (checkPublish(principal, topic).allowed) session.allowedTelemetryTopic = topic;
        }
        done(null, true);
        return;
      }
      log.info(
        {
          clientId: session.clientIdSent,
          username,
          returnCode: admission.returnCode,
          reason: admission.reason,
        },
        'connection refused',
      );
      done(refusal(admission.returnCode, admission.reason), false);
    };
    // The registry read is asynchronous; Aedes holds the CONNACK until `done`. authenticateConnect answers a
    // failing registry with 3 itself; anything else that rejects is refused the same way, never left unhandled.
    authenticateConnect(
      {
        clientId: session.clientIdSent,
        clean: session.clean,
        username,
        password,
        willTopic: session.will?.topic,
      },
      options.auth,
    )
      .catch((err: unknown): Admission => ({
        admitted: false,
        returnCode: CONNACK.serverUnavailable,
        reason: `admission failed: ${errorMessage(err)}`,
      }))
      .then(respond)
      // Only `done` itself can throw here (the client is gone): it must not be called twice.
      .catch((err: unknown) =>
        log.warn({ clientId: session.clientIdSent, err: errorMessage(err) }, 'authenticate callback failed'),
      );
  };

  const authorizePublish: Hooks['authorizePublish'] = (client, packet, callback) => {
    // Aedes passes no client for a will left behind by a broker process that is gone; its topic passed
    // checkWill when that client connected.
    if (client === null) return callback(null);
    const session = sessions.get(client);
    const principal = session?.principal;
    if (session === undefined || principal === undefined) {
      return callback(new Error('PUBLISH before CONNACK'));
    }
    if (packet === session.will) {
      session.willPublished = true;
      return callback(null);
    }
    const payloadBytes = Buffer.isBuffer(packet.payload)
      ? packet.payload.length
      : Buffer.byteLength(packet.payload);
    if (payloadBytes > options.maxPayloadBytes) {
      counters.oversizedPackets += 1;
      log.warn(
        { clientId: client.id, topic: packet.topic, payloadBytes },
        'payload over the limit, disconnecting',
      );
      return callback(new Error(`payload of ${payloadBytes} bytes exceeds ${options.maxPayloadBytes}`));
    }
    // Same answer as checkPublish below, precomputed for this topic.
    if (packet.topic === session.allowedTelemetryTopic) return callback(null);
    const decision = checkPublish(principal, packet.topic);
    if (decision.allowed) {
      if (principal.kind === 'device' && packet.retain && packet.topic === statusTopic(principal.deviceId)) {
        session.lastRetainedStatus =
          payloadBytes <= 64 ? Buffer.from(packet.payload).toString('utf8') : undefined;
      }
      return callback(null);
    }
    if (decision.protocolViolation) {
      log.warn(
        { clientId: client.id, reason: decision.reason },
        'protocol violation in PUBLISH, disconnecting',
      );
      return callback(new Error(decision.reason));
    }
    // [MQTT-3.3.5-2] lets the server either acknowledge an unauthorised PUBLISH or close the connection.
    // Aedes closes it whenever authorizePublish returns an error (moscajs/aedes#210), so a misconfigured
    // device would reconnect and retry forever while its valid telemetry waits. We let Aedes acknowledge
    // it (PUBACK/PUBREC as usual) and drop it at the gate instead.
    counters.publishesDroppedUnauthorised += 1;
    session.droppedPublishes += 1;
    dropped.add(packet);
    // The first drop of a connection is worth a warning; a device stuck in a loop must not flood the log.
    log[session.droppedPublishes === 1 ? 'warn' : 'debug'](
      {
        clientId: client.id,
        principal: describePrincipal(principal),
        topic: packet.topic,
        reason: decision.reason,
      },
      'unauthorised publish dropped',
    );
    callback(null);
  };

  const authorizeSubscribe: Hooks['authorizeSubscribe'] = (client, subscription, callback) => {
    const principal = sessions.get(client)?.principal;
    if (principal === undefined) return callback(new Error('SUBSCRIBE before CONNACK'));
    const decision = checkSubscribe(principal, subscription.topic);
    if (decision.allowed) return callback(null, subscription);
    if (decision.protocolViolation) {
      log.warn(
        { clientId: client.id, reason: decision.reason },
        'protocol violation in SUBSCRIBE, disconnecting',
      );
      return callback(new Error(decision.reason));
    }
    counters.subscriptionsRefused += 1;
    log.info(
      {
        clientId: client.id,
        principal: describePrincipal(principal),
        filter: subscription.topic,
        reason: decision.reason,
      },
      'subscription refused',
    );
    // A null subscription makes Aedes answer 0x80 (Failure, §3.9.3) for this filter while the other filters
    // of the same SUBSCRIBE are granted. [MQTT-3.8.4-4] [MQTT-3.8.4-5]
    callback(null, null);
  };

  return { preConnect, authenticate, authorizePublish, authorizeSubscribe };
}

function refusal(returnCode: 2 | 3 | 4 | 5, reason: string): AuthenticateError {
  // Aedes sends CONNACK with `returnCode` (2–5) and closes the connection. [MQTT-3.2.2-5]
  return Object.assign(new Error(reason), { returnCode });
}

type PublishCallback = (error?: Error) => void;
/** Aedes' `publish` as its handlers call it (lib/handlers/publish.js): the broker's wrappers replace it. */
export type InternalPublish = (
  packet: PublishPacket,
  client?: Client | PublishCallback | null,
  done?: PublishCallback,
) => void;

/**
 * The other half of dropping unauthorised publishes. After acknowledging a PUBLISH, Aedes hands it to
 * `aedes.publish(packet, client, done)` (lib/handlers/publish.js, the same packet object that went
 * through authorizePublish); there, a packet marked in `dropped` is swallowed: no retained store, no
 * offline queue, no delivery. This relies on Aedes internals (the three-argument call), which the
 * broker tests pin down: if it changes, "dropped, counted, next valid publish arrives" fails.
 */
export function installDropGate(aedes: Aedes, dropped: WeakSet<object>): void {
  const target = aedes as unknown as { publish: InternalPublish };
  const publish = target.publish.bind(aedes);
  target.publish = (packet, client, done) => {
    if (!dropped.has(packet)) return publish(packet, client, done);
    dropped.delete(packet);
    const callback = typeof client === 'function' ? client : done;
    if (callback) setImmediate(callback);
  };
}
