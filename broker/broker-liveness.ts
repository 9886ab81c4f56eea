import type { Aedes } from 'aedes';
import type { Readable } from 'node:stream';
import type { MQEmitter } from 'mqemitter';

/**
 * When this broker may judge another broker of the cluster dead.
 *
 * Aedes counts a broker dead when it has not heard its heartbeat (`$SYS/{id}/heartbeat`, through the shared
 * emitter) for 3 intervals, and its will pass (every 4 intervals, aedes.js `_clearWills`) then publishes
 * the wills the store holds for every broker not counted alive (`persistence.streamWill(aedes.brokers)`).
 * That reads silence as death. While the emitter is down — Redis away, or this broker's subscription
 * connection reconnecting — every broker is silent, this one included, and once Redis is back the first
 * will pass runs before the others' next heartbeats arrive. Each broker then published the `offline`
 * will of every device connected to the others, and of its own devices too: this broker's own id had
 * dropped out of `aedes.brokers` with its own heartbeats. Live devices were marked offline, and a lender's
 * verified collateral counts a stake that is offline at reduced value.
 *
 * So a broker judges others only while it can hear: its own heartbeat has come back through the emitter
 * within the last 1.5 intervals, for at least 3 intervals (long enough for every live broker to have
 * been heard again). Until then its will pass counts every broker it has heard from as alive; a broker
 * that died meanwhile has its wills published 3 intervals later than it would have. Its own wills are
 * never published by its own pass: Aedes gives every start a new id, so they belong to its live
 * connections, whose own close publishes them. `ClusterClients` forgets other brokers' clients only
 * under the same rule (app.ts). broker/test/cluster-presence.test.ts pins it: without this, a device
 * connected throughout a Redis restart is left retained `offline`.
 */
export class BrokerLiveness {
  /** broker id → when its heartbeat was last heard. */
  private readonly heard = new Map<string, number>();
  private selfHeardAt = 0;
  private hearingSince = 0;

  constructor(
    private readonly aedes: Aedes,
    mq: MQEmitter,
    private readonly intervalMs: number,
    private readonly now: () => number = Date.now,
  ) {
    mq.on('$SYS/+/heartbeat', (packet, done) => {
      this.onHeartbeat(packet.topic.split('/')[1] ?? '');
      done();
    });
  }

  /** Whether this broker has heard itself steadily for long enough to take silence for death. */
  canJudge(): boolean {
    const t = this.now();
    return t - this.selfHeardAt <= 1.5 * this.intervalMs && t - this.hearingSince >= 3 * this.intervalMs;
  }

  /** Wraps `store.streamWill` (the store Aedes is given) so the will pass skips brokers that may be alive. */
  install(store: object): void {
    const persistence = store as {
      streamWill(brokers?: Record<string, number>): Readable | AsyncIterable<unknown>;
    };
    const streamWill = persistence.streamWill.bind(persistence);
    persistence.streamWill = (brokers) => streamWill(this.alive(brokers ?? {}));
  }

  private alive(counted: Record<string, number>): Record<string, number> {
    const t = this.now();
    const alive: Record<string, number> = { ...counted, [this.aedes.id]: t };
    if (!this.canJudge()) for (const id of this.heard.keys()) alive[id] = t;
    return alive;
  }

  private onHeartbeat(brokerId: string): void {
    const t = this.now();
    this.heard.set(brokerId, t);
    if (brokerId !== this.aedes.id) return;
    if (t - this.selfHeardAt > 1.5 * this.intervalMs) this.hearingSince = t;
    this.selfHeardAt = t;
    // While hearing steadily, a broker silent for 3 intervals is dead by Aedes' own rule: forget it, so the
    // brokers held alive through a deaf spell are those alive when it began.
    if (!this.canJudge()) return;
    for (const [id, at] of this.heard) if (t - at > 3 * this.intervalMs) this.heard.delete(id);
  }
}
