import type { Readable } from 'node:stream';

/**
 * The session store Aedes 1.2 takes as its `persistence` option: aedes-persistence 11's promise API
 * (`asyncPersistence.js`; Aedes calls `setup(broker)` from `listen()` and refuses a `setup` that is not an
 * async function). Aedes' own typing of the option is `any`; this is what it actually calls. Every
 * implementation runs aedes-persistence's contract suite (`abstract.js`) against itself.
 */

/** A packet as Aedes hands it over: the fields the store looks at are named, the rest travels untouched. */
export interface StoredPacket {
  cmd?: string;
  topic?: string;
  payload?: Buffer | string;
  qos?: number;
  retain?: boolean;
  messageId?: number | undefined;
  brokerId?: string | undefined;
  brokerCounter?: number | undefined;
  clientId?: string;
  [field: string]: unknown;
}

/** One entry of a SUBSCRIBE, as stored for a persistent session and restored on its next CONNECT. */
export interface StoredSubscription {
  topic: string;
  qos: number;
  rh?: number | undefined;
  rap?: boolean | undefined;
  nl?: boolean | undefined;
  /** MQTT 5 Subscription Identifier, kept only when the subscription carried one. */
  subscriptionIdentifier?: number;
}

/** A persistent session's subscription matching a topic: who gets a copy of a QoS > 0 message. */
export interface MatchedSubscription {
  clientId: string;
  topic: string;
  qos: number;
  rh?: number | undefined;
  rap?: boolean | undefined;
  nl?: boolean | undefined;
}

export interface ClientRef {
  readonly id: string;
}

export interface SubscriberRef {
  readonly clientId: string;
}

/** The part of the Aedes instance a store uses: its id, stamped on wills. */
export interface BrokerRef {
  readonly id: string;
}

export interface AedesPersistence {
  setup(broker: BrokerRef): Promise<void>;
  storeRetained(packet: StoredPacket): Promise<void>;
  createRetainedStream(pattern: string): Readable;
  createRetainedStreamCombi(patterns: readonly string[]): Readable;
  addSubscriptions(client: ClientRef, subs: readonly StoredSubscription[]): Promise<void>;
  removeSubscriptions(client: ClientRef, topics: readonly string[]): Promise<void>;
  subscriptionsByClient(client: ClientRef): Promise<StoredSubscription[]>;
  countOffline(): Promise<{ subsCount: number; clientsCount: number }>;
  subscriptionsByTopic(topic: string): Promise<MatchedSubscription[]>;
  cleanSubscriptions(client: ClientRef): Promise<void>;
  outgoingEnqueue(sub: SubscriberRef, packet: StoredPacket): Promise<void>;
  outgoingEnqueueCombi(subs: readonly SubscriberRef[], packet: StoredPacket): Promise<void>;
  outgoingUpdate(client: ClientRef, packet: StoredPacket): Promise<void>;
  outgoingClearMessageId(client: ClientRef, packet: StoredPacket): Promise<StoredPacket | undefined>;
  outgoingStream(client: ClientRef): Readable;
  incomingStorePacket(client: ClientRef, packet: StoredPacket): Promise<void>;
  incomingGetPacket(client: ClientRef, packet: StoredPacket): Promise<StoredPacket>;
  incomingDelPacket(client: ClientRef, packet: StoredPacket): Promise<void>;
  cleanIncoming(client: ClientRef): Promise<void>;
  putWill(client: ClientRef, packet: StoredPacket): Promise<void>;
  getWill(client: ClientRef): Promise<StoredPacket | undefined>;
  delWill(client: ClientRef): Promise<StoredPacket | undefined>;
  /** The wills of brokers not in `brokers` (keyed by broker id): those of dead brokers. */
  streamWill(brokers?: Readonly<Record<string, unknown>>): Readable;
  getClientList(topic: string): Readable;
  /** Aedes never calls this: whoever created the store destroys it, after `aedes.close()`. */
  destroy(): Promise<void>;
}
