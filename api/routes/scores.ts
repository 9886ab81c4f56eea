import type { ApiApp, RouteContext } from '../app.js';

/**
 * The seam for the risk module (being built separately). When `buildApp` gets `deps.scores`, it calls
 * `scoreRoutes`, which is where `GET /v1/borrowers/:id/score`, `POST /v1/borrowers/:id/rescore` and the model
 * routes go; their permissions are already in api/permissions.ts, and bench/api.ts has a one-line slot for
 * the score target. Without `deps.scores` none of these routes exist (404), and the OpenAPI document omits them.
 */
export interface ScoresService {
  /** The risk module's public surface, as the score routes need it; extended by the risk module. */
  readonly modelVersion: () => string | undefined;
}

export function scoreRoutes(_app: ApiApp, _ctx: RouteContext, _scores: ScoresService): void {
  // Filled in with the risk module.
}
