/** What the broker has refused or dropped, so that nothing it throws away goes unnoticed. */
export interface BrokerCounters {
  /** CONNACK 0 sent. */
  readonly connectionsAccepted: number;
  /** CONNACK with a refusal, by MQTT 3.1.1 return code (table 3.1). */
  readonly connectionsRefused: Readonly<Record<RefusalReason, number>>;
  /** Network connections closed on accept because MQTT_MAX_CONNECTIONS were open. */
  readonly connectionsOverLimit: number;
  /** Network connections closed on accept because the process's open-file limit was reached (broker/file-limit.ts). */
  readonly connectionsOverFileLimit: number;
  /** PUBLISH packets acknowledged but not delivered because the ACL forbids the topic. */
  readonly publishesDroppedUnauthorised: number;
  /** Topic filters answered with SUBACK 0x80. */
  readonly subscriptionsRefused: number;
  /** Packets larger than the limit; each cost its sender the connection. */
  readonly oversizedPackets: number;
  /** MQTT clients with an accepted CONNECT and an open connection. */
  readonly currentClients: number;
  /** Open network connections, including those that have not sent CONNECT yet. */
  readonly currentConnections: number;
}

export const REFUSAL_REASONS = {
  1: 'unacceptableProtocolVersion',
  2: 'identifierRejected',
  3: 'serverUnavailable',
  4: 'badUsernameOrPassword',
  5: 'notAuthorized',
} as const;
export type RefusalReason = (typeof REFUSAL_REASONS)[keyof typeof REFUSAL_REASONS] | 'other';

/** The mutable tally behind `BrokerCounters`; only the broker's own modules write to it. */
export class CounterSet {
  connectionsAccepted = 0;
  readonly connectionsRefused: Record<RefusalReason, number> = {
    unacceptableProtocolVersion: 0,
    identifierRejected: 0,
    serverUnavailable: 0,
    badUsernameOrPassword: 0,
    notAuthorized: 0,
    other: 0,
  };
  connectionsOverLimit = 0;
  connectionsOverFileLimit = 0;
  publishesDroppedUnauthorised = 0;
  subscriptionsRefused = 0;
  oversizedPackets = 0;

  refused(returnCode: number): void {
    const reason = (REFUSAL_REASONS as Record<number, RefusalReason | undefined>)[returnCode] ?? 'other';
    this.connectionsRefused[reason] += 1;
  }

  snapshot(live: { currentClients: number; currentConnections: number }): BrokerCounters {
    return Object.freeze({
      connectionsAccepted: this.connectionsAccepted,
      connectionsRefused: Object.freeze({ ...this.connectionsRefused }),
      connectionsOverLimit: this.connectionsOverLimit,
      connectionsOverFileLimit: this.connectionsOverFileLimit,
      publishesDroppedUnauthorised: this.publishesDroppedUnauthorised,
      subscriptionsRefused: this.subscriptionsRefused,
      oversizedPackets: this.oversizedPackets,
      ...live,
    });
  }
}
