import { TOPIC_ROOT, cmdTopic, parseTopic, statusTopic, telemetryTopic } from '../core/contracts/index.js';

/**
 * The topic ACL (ARCHITECTURE.md, MQTT conventions), as pure functions of who is asking and for which
 * topic. No Aedes here: `aedes-hooks.ts` turns these decisions into Aedes callbacks.
 */
export type Principal =
  | { readonly kind: 'device'; readonly deviceId: string }
  | { readonly kind: 'service'; readonly name: string }
  /** Only in development mode (MQTT_DEV_ANONYMOUS): a client that sent no username. */
  | { readonly kind: 'anonymous' };

export type Decision =
  | { readonly allowed: true }
  /**
   * `protocolViolation`: the packet breaks MQTT itself, not our policy, so the connection is closed
   * [MQTT-4.8.0-1]; otherwise the single publish or subscription is refused and the client keeps going.
   */
  | { readonly allowed: false; readonly protocolViolation: boolean; readonly reason: string };

const ALLOW: Decision = { allowed: true };
const deny = (reason: string): Decision => ({ allowed: false, protocolViolation: false, reason });
const violation = (reason: string): Decision => ({ allowed: false, protocolViolation: true, reason });

/** Aedes 1.x has no shared subscriptions (moscajs/aedes#228): `$share/…` would be a literal filter. */
const SHARED_PREFIX = '$share/';

/** Checks every client's topic names and filters share, before any policy. */
function malformed(topic: string, isFilter: boolean): Decision | undefined {
  if (topic.length === 0) return violation('empty topic');
  // mqtt-packet does not reject U+0000 (mqttjs/mqtt-packet#59). [MQTT-4.7.3-2] [MQTT-1.5.3-2]
  if (topic.includes('\u0000')) return violation('topic contains U+0000');
  // Aedes checks PUBLISH topic names itself, but not the Will Topic, which becomes a PUBLISH. [MQTT-3.3.2-2]
  if (!isFilter && (topic.includes('+') || topic.includes('#'))) return violation('wildcard in a topic name');
  return undefined;
}

/** May `who` publish to `topic`? (Also applied to the Will Topic of services and anonymous clients.) */
export function checkPublish(who: Principal, topic: string): Decision {
  const bad = malformed(topic, false);
  if (bad) return bad;
  // Topic names starting with `$` are the server's [MQTT-4.7.2-1]. Aedes only refuses `$SYS/`; a retained
  // message on another `$` topic would also be replayed to `#` subscribers, since the in-memory retained
  // store matches `#` against `$` topics.
  if (topic.startsWith('$')) return deny('topics starting with $ are reserved for the broker');
  switch (who.kind) {
    case 'device':
      return topic === telemetryTopic(who.deviceId) || topic === statusTopic(who.deviceId)
        ? ALLOW
        : deny(`a device publishes only to its own telemetry and status topics`);
    case 'service':
      return parseTopic(topic)?.channel === 'cmd'
        ? ALLOW
        : deny(`a service publishes only to ${TOPIC_ROOT}/+/cmd`);
    case 'anonymous':
      return ALLOW;
  }
}

/** May `who` subscribe to `filter`? A refusal becomes SUBACK 0x80 for that filter only (§3.9.3). */
export function checkSubscribe(who: Principal, filter: string): Decision {
  const bad = malformed(filter, true);
  if (bad) return bad;
  if (filter.startsWith(SHARED_PREFIX)) {
    return deny('shared subscriptions ($share/…) are not supported by this broker (Aedes 1.x)');
  }
  switch (who.kind) {
    case 'device':
      return filter === cmdTopic(who.deviceId)
        ? ALLOW
        : deny('a device subscribes only to its own cmd topic');
    case 'service':
      return filter.startsWith(`${TOPIC_ROOT}/`)
        ? ALLOW
        : deny(`a service subscribes only under ${TOPIC_ROOT}/#`);
    case 'anonymous':
      return ALLOW;
  }
}

/**
 * May `who` connect with this Will Topic? A device's will must be its own status topic (the retained
 * `offline` presence); everyone else's will follows the publish ACL. Refused wills refuse the CONNECT.
 */
export function checkWill(who: Principal, willTopic: string): Decision {
  if (who.kind === 'device') {
    const bad = malformed(willTopic, false);
    if (bad) return bad;
    return willTopic === statusTopic(who.deviceId)
      ? ALLOW
      : deny('a device will must be its own status topic');
  }
  return checkPublish(who, willTopic);
}

export function describePrincipal(who: Principal): string {
  switch (who.kind) {
    case 'device':
      return `device ${who.deviceId}`;
    case 'service':
      return `service ${who.name}`;
    case 'anonymous':
      return 'anonymous';
  }
}
