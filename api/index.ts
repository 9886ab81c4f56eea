/** The API's public surface: build it (`buildApp`), start it (`startApi`), or run it as a process (`apiMain`). */
export { buildApp, type ApiApp, type ApiDeps } from './app.js';
export { apiConfigSpec, type ApiConfig } from './config.js';
export { apiEnvSpecs, apiMain, startApi, type ApiProcess, type RunningApi } from './main.js';
export { PERMISSIONS } from './permissions.js';
export { riskScores, type ScoresService } from './routes/scores.js';
