import type { Redis } from 'ioredis';
import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logger.js';

/**
 * Which ingest partitions this worker owns (core/contracts/ingest-partitions.ts), decided by a membership list
 * in Redis — the same idea as a Kafka consumer group, on the Redis the brokers already share.
 *
 * Every worker renews its lease in one sorted set (member = worker id, score = lease expiry on the Redis
 * clock, so workers' clocks do not matter) every `leaseMs / 3`; expired members are dropped at each renewal.
 * Partition k belongs to the (k mod n)-th live member in id order, so every worker that sees the same members
 * computes the same split, with no coordinator. A worker that dies stops renewing: within `leaseMs` the others
 * see it gone and take its partitions (test/cluster.e2e.test.ts, "SIGKILL one ingest worker"). One that joins
 * takes its share at the others' next renewal.
 *
 * Views differ for at most one renewal period; meanwhile two workers may connect the same partition session,
 * and the broker closes the older connection [MQTT-3.1.4-2]. Its unacknowledged messages are redelivered to
 * the newer one: a reading may be written twice, and the store keeps one (its identity is device, ts, seq).
 * A worker that cannot renew for `leaseMs` gives its partitions up, since the others already count it out.
 */
export interface MembershipOptions {
  readonly redis: Redis;
  /** The group: workers with the same group split the same partitions (the base client id). */
  readonly group: string;
  readonly workerId: string;
  readonly partitions: number;
  readonly leaseMs: number;
  readonly log: Logger;
  /** Called with the partitions this worker owns whenever they change; awaited before the next renewal. */
  readonly onAssign: (partitions: readonly number[]) => Promise<void>;
}

/** Renews this worker's lease, drops expired ones and returns the live members, on the Redis clock. */
const RENEW_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) * 10)
return redis.call('ZRANGE', KEYS[1], 0, -1)
`;

/** Partition k of `partitions` goes to `members[k mod n]`, members in id order. */
export function assignPartitions(members: readonly string[], workerId: string, partitions: number): number[] {
  const sorted = [...members].sort();
  const index = sorted.indexOf(workerId);
  if (index < 0) return [];
  const mine: number[] = [];
  for (let k = index; k < partitions; k += sorted.length) mine.push(k);
  return mine;
}

export class PartitionMembership {
  private timer: NodeJS.Timeout | undefined;
  private owned: readonly number[] = [];
  private lastRenewedAtMs = 0;
  private renewing: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly opts: MembershipOptions) {}

  get key(): string {
    return `riskfuse:ingest:${this.opts.group}:members`;
  }

  get partitions(): readonly number[] {
    return this.owned;
  }

  /** Renews once (taking this worker's first share), then keeps renewing. */
  async start(): Promise<void> {
    await this.renew();
    this.timer = setInterval(
      () => {
        this.renewing ??= this.renew().finally(() => (this.renewing = undefined));
      },
      Math.max(1, Math.floor(this.opts.leaseMs / 3)),
    );
  }

  /** Stops renewing, leaves the group (the others take over at their next renewal) and gives everything up. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.renewing;
    await this.assign([]);
    await this.opts.redis.zrem(this.key, this.opts.workerId).catch((err: unknown) => {
      this.opts.log.warn(
        { err: errorMessage(err) },
        'could not leave the ingest group; its lease will expire',
      );
    });
  }

  private async renew(): Promise<void> {
    const { redis, workerId, leaseMs, partitions, log } = this.opts;
    let members: string[];
    try {
      members = (await redis.eval(RENEW_SCRIPT, 1, this.key, workerId, String(leaseMs))) as string[];
      this.lastRenewedAtMs = Date.now();
    } catch (err) {
      if (this.owned.length > 0 && Date.now() - this.lastRenewedAtMs > leaseMs) {
        log.warn({ err: errorMessage(err) }, 'ingest lease not renewed in time; giving up its partitions');
        await this.assign([]);
      } else {
        log.warn({ err: errorMessage(err) }, 'ingest lease renewal failed; retrying');
      }
      return;
    }
    if (this.stopped) return;
    const mine = assignPartitions(members, workerId, partitions);
    if (mine.join() !== this.owned.join()) {
      log.info({ workerId, members, partitions: mine }, 'ingest partitions assigned');
      await this.assign(mine);
    }
  }

  private async assign(mine: readonly number[]): Promise<void> {
    this.owned = mine;
    await this.opts.onAssign(mine);
  }
}
