import type { State } from '../../core/state/index.js';
import { DEFAULT_POLICY_VERSION, parsePolicy, type LendingPolicy, type PolicyVersion } from './policy.js';

/**
 * The lending policy in force: the newest version saved in the state (lending_policies), else the built-in
 * default (version 0). Cached for `ttlMs`, so that other processes' saves are seen within that time while the
 * import, the monitor and recommendations do not read the table per row; a save through this store is seen
 * at once. Pinned by api/test/credit.test.ts (policy versions).
 */
export class PolicyStore {
  private cached: { at: number; value: PolicyVersion } | undefined;

  constructor(
    private readonly state: Pick<State, 'lending'>,
    private readonly now: () => number = Date.now,
    private readonly ttlMs = 5_000,
  ) {}

  async current(): Promise<PolicyVersion> {
    const t = this.now();
    if (this.cached !== undefined && t - this.cached.at < this.ttlMs) return this.cached.value;
    const stored = await this.state.lending.currentPolicy();
    const value: PolicyVersion =
      stored === undefined
        ? DEFAULT_POLICY_VERSION
        : {
            version: stored.version,
            // Validated when saved; a document an older riskfuse saved is read with today's defaults filled in.
            policy: parsePolicy({ ...DEFAULT_POLICY_VERSION.policy, ...(stored.policy as object) }),
            createdAt: stored.createdAt,
            ...(stored.createdBy === undefined ? {} : { createdBy: stored.createdBy }),
          };
    this.cached = { at: t, value };
    return value;
  }

  /** Validates and saves the next version (call inside the caller's transaction with its audit entry). */
  async save(doc: unknown, createdBy: string | undefined): Promise<PolicyVersion> {
    const policy: LendingPolicy = parsePolicy(doc);
    const saved = await this.state.lending.savePolicy(policy, this.now(), createdBy);
    const value: PolicyVersion = {
      version: saved.version,
      policy,
      createdAt: saved.createdAt,
      ...(createdBy === undefined ? {} : { createdBy }),
    };
    this.cached = { at: this.now(), value };
    return value;
  }

  /** Forgets the cache (a rolled-back save). */
  invalidate(): void {
    this.cached = undefined;
  }
}
