import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { errorMessage } from '../errors.js';
import type { Logger } from '../logger.js';
import { LOCK_CLASS, lockKey, type Database } from './database.js';
import { PostgresDatabase } from './postgres/postgres-database.js';

/**
 * Leader election for the jobs that must run once per deployment however many replicas run (periodic scoring,
 * webhook dispatch and delivery): the holder of a PostgreSQL session-level advisory lock runs the job.
 *
 * Why an advisory lock: it needs no table or clock agreement, and PostgreSQL releases it the moment the
 * holder's session ends — a SIGKILLed process's socket is closed by its kernel, the server ends the session and
 * the next `pg_try_advisory_lock` of a standby wins (tested in test/replicas.e2e.test.ts). A holder whose
 * host vanishes without closing the socket is detected by TCP keepalives set on the lock's session
 * (`tcp_keepalives_*`, ~`keepaliveMs`), and the holder itself steps down when its own health check cannot
 * reach the server, so two leaders cannot run longer than one check interval plus the keepalive window.
 * A frozen holder (SIGSTOP) keeps its socket open and its lock; that is the price of not using leases.
 *
 * On SQLite the database is one process's file, so that process is always the leader.
 */
export interface LeaderOptions {
  /** How often a standby tries to take the lock, and the leader checks its session. */
  readonly checkIntervalMs: number;
  /** Server-side keepalive window after which a silent holder's session (and lock) is dropped. */
  readonly keepaliveMs: number;
  readonly log: Logger;
}

/** Stops what `onElected` started; awaited before the lock is released or after it was lost. */
export type StopJob = () => Promise<void>;

export class LeaderElection {
  readonly #name: string;
  readonly #db: Database;
  readonly #options: LeaderOptions;
  readonly #onElected: () => Promise<StopJob>;
  #client: pg.Client | undefined;
  #stopJob: StopJob | undefined;
  #running = false;
  #loop: Promise<void> | undefined;
  #wake: AbortController = new AbortController();

  constructor(db: Database, name: string, onElected: () => Promise<StopJob>, options: LeaderOptions) {
    this.#db = db;
    this.#name = name;
    this.#onElected = onElected;
    this.#options = options;
  }

  /** Whether this process runs the job now. */
  get isLeader(): boolean {
    return this.#stopJob !== undefined;
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#loop = this.#run().catch((err: unknown) =>
      this.#options.log.error({ job: this.#name, err: errorMessage(err) }, 'leader election stopped'),
    );
  }

  /** Stops the job (if leading), releases the lock and ends the election. */
  async stop(): Promise<void> {
    this.#running = false;
    this.#wake.abort();
    await this.#loop;
    await this.#stepDown('stopping');
    await this.#client?.end().catch(() => undefined);
    this.#client = undefined;
  }

  async #run(): Promise<void> {
    const log = this.#options.log.child({ job: this.#name });
    while (this.#running) {
      try {
        if (!(this.#db instanceof PostgresDatabase)) {
          if (!this.isLeader) await this.#lead(log);
        } else if (this.isLeader) {
          await this.#check();
        } else {
          const client = await this.#session();
          const r = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1, $2) AS ok', [
            LOCK_CLASS,
            lockKey(this.#name),
          ]);
          if (r.rows[0]?.ok === true) await this.#lead(log);
        }
      } catch (err) {
        // The lock lives in the session: whatever went wrong with it, the lock may be gone.
        log.warn({ err: errorMessage(err) }, 'leader session lost');
        await this.#stepDown('lock session lost');
        await this.#client?.end().catch(() => undefined);
        this.#client = undefined;
      }
      if (!this.#running) break;
      await sleep(this.#options.checkIntervalMs, undefined, { signal: this.#wake.signal }).catch(
        () => undefined,
      );
    }
  }

  async #lead(log: Logger): Promise<void> {
    log.info('elected leader: starting job');
    try {
      this.#stopJob = await this.#onElected();
    } catch (err) {
      log.error({ err: errorMessage(err) }, 'job failed to start; releasing leadership');
      await this.#release();
    }
  }

  async #stepDown(why: string): Promise<void> {
    const stop = this.#stopJob;
    if (stop === undefined) return;
    this.#stopJob = undefined;
    this.#options.log.info({ job: this.#name, why }, 'leadership ended: stopping job');
    try {
      await stop();
    } catch (err) {
      this.#options.log.error({ job: this.#name, err: errorMessage(err) }, 'job stop failed');
    }
    await this.#release();
  }

  async #release(): Promise<void> {
    await this.#client
      ?.query('SELECT pg_advisory_unlock($1, $2)', [LOCK_CLASS, lockKey(this.#name)])
      .catch(() => undefined);
  }

  /** The leader's health check: its lock session must still answer within one interval. */
  async #check(): Promise<void> {
    const client = await this.#session();
    await Promise.race([
      client.query('SELECT 1'),
      sleep(this.#options.checkIntervalMs).then(() => {
        throw new Error('lock session did not answer within the check interval');
      }),
    ]);
  }

  async #session(): Promise<pg.Client> {
    if (this.#client !== undefined) return this.#client;
    const db = this.#db as PostgresDatabase;
    const client = new pg.Client({
      connectionString: db.url,
      keepAlive: true,
      application_name: `riskfuse-leader:${this.#name}`,
    });
    client.on('error', (err) =>
      this.#options.log.warn({ job: this.#name, err: err.message }, 'leader session error'),
    );
    await client.connect();
    const idleS = Math.max(1, Math.round(this.#options.keepaliveMs / 3000));
    await client.query(
      `SET tcp_keepalives_idle = ${String(idleS)}; SET tcp_keepalives_interval = ${String(idleS)};
       SET tcp_keepalives_count = 2`,
    );
    this.#client = client;
    return client;
  }
}

/** A job an elected process runs: started when it becomes leader, stopped (awaited) before it lets go. */
export interface ElectedJob {
  start(): void | Promise<void>;
  stop(): Promise<void>;
}

/**
 * Runs `job` in whichever process of the deployment holds the lock `name` (always this one on SQLite); stop
 * the returned election on shutdown.
 */
export function runElected(
  db: Database,
  name: string,
  job: ElectedJob,
  config: { readonly leaderCheckIntervalMs: number; readonly leaderKeepaliveMs: number },
  log: Logger,
): LeaderElection {
  const election = new LeaderElection(
    db,
    name,
    async () => {
      await job.start();
      return () => job.stop();
    },
    { checkIntervalMs: config.leaderCheckIntervalMs, keepaliveMs: config.leaderKeepaliveMs, log },
  );
  election.start();
  return election;
}
