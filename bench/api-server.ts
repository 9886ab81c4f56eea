/**
 * The API as the benches serve it (bench/api.ts, bench/state.ts, bench/dashboard.ts): built as in production with
 * the rate limit raised out of the way, listening on a loopback port, with a fresh officer key; and the scores
 * service that reads a state's scores without scoring (the scoring itself is bench:score's business).
 */
import type { AddressInfo } from 'node:net';
import { buildApp } from '../api/app.js';
import { apiConfigSpec } from '../api/config.js';
import type { ScoresService } from '../api/routes/scores.js';
import { parseConfig } from '../core/config.js';
import type { DeviceSessions } from '../core/contracts/index.js';
import { issueApiKey } from '../core/credentials.js';
import { silentLogger } from '../core/logger.js';
import type { State } from '../core/state/index.js';
import type { TelemetryStore } from '../core/storage/telemetry-store.js';

export interface BenchApi {
  /** Base URL, e.g. `http://127.0.0.1:41234`. */
  readonly url: string;
  /** An officer's API key. */
  readonly apiKey: string;
  /** Headers of an API client: the key as bearer token, gzip accepted. */
  readonly headers: Record<string, string>;
  close(): Promise<void>;
}

export interface BenchApiDeps {
  readonly state: State;
  readonly telemetry: TelemetryStore;
  readonly scores: ScoresService;
  /** The broker's device connections; default: every device up, disconnected at once (no broker here). */
  readonly sessions?: DeviceSessions;
}

const NO_BROKER: DeviceSessions = {
  isUp: () => Promise.resolve(true),
  disconnect: () => Promise.resolve(false),
  disconnectsImmediately: true,
};

/** Issues an officer key in `deps.state`, builds the API on `deps` and listens on 127.0.0.1, a free port. */
export async function listenApi(deps: BenchApiDeps): Promise<BenchApi> {
  const key = issueApiKey();
  await deps.state.apiKeys.createApiKey(
    { id: key.id, name: 'bench', role: 'officer', createdAt: Date.now() },
    key,
  );
  const app = await buildApp({
    config: parseConfig(apiConfigSpec, { API_RATE_LIMIT_PER_MIN: String(1e9) }),
    state: deps.state,
    telemetry: deps.telemetry,
    log: silentLogger,
    sessions: deps.sessions ?? NO_BROKER,
    scores: deps.scores,
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  return {
    url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`,
    apiKey: key.key,
    headers: { authorization: `Bearer ${key.key}`, 'accept-encoding': 'gzip' },
    close: () => app.close(),
  };
}

/**
 * The risk module's reads as the API makes them (api/routes/scores.ts `riskScores`), from `state`, without its
 * scoring: rescoring does nothing and activating a model fails.
 */
export function stateScores(state: State): ScoresService {
  return {
    latest: async (id) => (await state.scores.latestScores({ borrowerIds: [id] }))[0],
    latestKey: (id) => state.scores.latestKey(id),
    latestMany: (ids) => state.scores.latestScores({ borrowerIds: ids }),
    heads: (f) => state.scores.latestHeads(f),
    history: (q) => state.scores.scoreHistory(q),
    daily: (id, from, to, limit) => state.scores.dailyScores(id, from, to, limit),
    trends: (w) => state.scores.dailyPdTrends(w),
    rescore: () => Promise.resolve({}),
    notifyLoanEvent: () => undefined,
    models: () => state.models.listModels(),
    model: (v) => state.models.getModel(v),
    activate: () => Promise.reject(new Error('not in this bench')),
  };
}
