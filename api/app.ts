import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import compress from '@fastify/compress';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { TSchema } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { Value } from '@sinclair/typebox/value';
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyRequest,
  type RawServerDefault,
} from 'fastify';
import type { DeviceSessions } from '../core/contracts/index.js';
import { RiskfuseError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { MetricsSource } from '../core/metrics.js';
import type { NewAuditEntry, State } from '../core/state/index.js';
import type { TelemetryStore } from '../core/storage/telemetry-store.js';
import { ApiKeyCache } from './api-key-cache.js';
import { createAuthHook, LastUsedRecorder } from './auth.js';
import { dashboardRoutes } from './dashboard.js';
import type { ApiConfig } from './config.js';
import { readCsv } from './csv.js';
import { tcpDeviceSessions } from './device-sessions.js';
import { ApiMetrics } from './metrics.js';
import { OPENAPI_INFO, transformForOpenApi, transformObjectForOpenApi } from './openapi.js';
import { Problem, problemOf, sendProblem, toProblem } from './problem.js';
import { helmetHeaders } from './security-headers.js';
import type { AlertsComponent } from '../alerts/index.js';
import { alertRoutes } from './routes/alerts.js';
import { caseRoutes } from './routes/cases.js';
import { suppressionRoutes } from './routes/suppressions.js';
import { creditRoutes } from './routes/credit.js';
import { creditApplicationRoutes } from './routes/credit-applications.js';
import { CreditApplications } from '../risk/decisions/applications.js';
import { apiKeyRoutes } from './routes/api-keys.js';
import { deviceRoutes } from './routes/devices.js';
import { loanRoutes } from './routes/loans.js';
import { metaRoutes } from './routes/meta.js';
import { lotRoutes } from './routes/portfolio-lots.js';
import { siteRoutes } from './routes/portfolio-sites.js';
import { portfolioRoutes } from './routes/portfolio.js';
import { portfolioBorrowerRoutes } from './routes/portfolio-borrowers.js';
import { modelHealthRoutes } from './routes/model-health.js';
import { scoreRoutes, type ScoresService } from './routes/scores.js';
import { telemetryRoutes } from './routes/telemetry.js';
import { webhookRoutes } from './routes/webhooks.js';
import type { WebhookService } from '../webhooks/index.js';
import type { CreditComponent } from '../risk/credit/credit-app.js';
import { PolicyStore } from '../risk/policy/policy-store.js';
import type { ImportPolicy } from './import-policy.js';

export type ApiApp = FastifyInstance<
  RawServerDefault,
  IncomingMessage,
  ServerResponse,
  FastifyBaseLogger,
  TypeBoxTypeProvider
>;

export interface ApiDeps {
  readonly config: ApiConfig;
  readonly state: State;
  readonly telemetry: TelemetryStore;
  readonly log: Logger;
  /** The broker's device connections; default: a TCP check of API_MQTT_URL (disconnect at next CONNECT). */
  readonly sessions?: DeviceSessions;
  /** Counters of the components wired into this process (ingest, broker), rendered at `/metrics`. */
  readonly metrics?: readonly MetricsSource[];
  /** The risk module's scoring; when absent, the score and model routes are not registered. */
  readonly scores?: ScoresService;
  /** The alerts component (engine, lifecycle, rules); when absent, the alert routes are not registered. */
  readonly alerts?: AlertsComponent;
  /** Webhook subscriptions and deliveries; when absent, the webhook routes are not registered. */
  readonly webhooks?: WebhookService;
  /**
   * Credit: EL and policy figures, the policy in force, applications and decisions; when absent, loan imports
   * are still checked against the stored policy (lender id `lender`) and the credit routes are not registered.
   */
  readonly credit?: CreditComponent;
  readonly now?: () => number;
}

/** What route modules get: the stores, the clock and the audit writer. */
export interface RouteContext {
  readonly config: ApiConfig;
  readonly state: State;
  readonly telemetry: TelemetryStore;
  readonly sessions: DeviceSessions;
  readonly log: Logger;
  readonly apiMetrics: ApiMetrics;
  readonly metrics: readonly MetricsSource[];
  now(): number;
  /** Borrowers by the grade of their latest score (the risk module), for the portfolio summary. */
  gradeCounts?(): Promise<Record<string, number>>;
  /** Loans or repayments of these borrowers changed (import): the risk module re-scores them. */
  onLoanEvent?(borrowerIds: readonly string[]): void;
  /** Alerts not yet resolved; undefined when the alerts component is not wired in. */
  countActiveAlerts?(): Promise<number>;
  /** Alerts not yet resolved per borrower; undefined when the alerts component is not wired in. */
  activeAlertsByBorrower?(): Promise<Map<string, number>>;
  /** The lending policy in force and the lender's own funder id, for loan imports (api/import-policy.ts). */
  importPolicy(): Promise<ImportPolicy>;
  /** An API key's revocation committed: the auth cache drops it, so its next request is refused. */
  apiKeyRevoked(id: string): void;
  /** Appends to the audit log as the request's caller; await it inside the mutation's transaction. */
  audit(
    request: FastifyRequest,
    entry: Omit<NewAuditEntry, 'at' | 'actorKeyId' | 'actorRole' | 'requestId'>,
  ): Promise<void>;
}

const routesOf = new WeakMap<object, readonly { method: string; url: string }[]>();

/** Every route the app registered (HEAD aside), for the permission-table tests and the docs. */
export function registeredRoutes(app: ApiApp): readonly { method: string; url: string }[] {
  return routesOf.get(app) ?? [];
}

const REQUEST_ID_RE = /^[A-Za-z0-9._:-]{1,64}$/;

/**
 * Validation: request bodies are checked strictly (a string is never a number), query strings and path
 * parameters are converted from text first (`?limit=10`), both by TypeBox against the route's schema.
 */
function validatorCompiler({ schema, httpPart }: { schema: unknown; httpPart?: string }) {
  const tschema = schema as TSchema;
  const check = TypeCompiler.Compile(tschema);
  const convert = httpPart !== 'body';
  // Clone, Default and Convert walk the schema interpretively (~10 µs for one path id, bench:api). Where the
  // schema has no defaults and no unions (Convert may turn "1" into 1 even where a string also fits), an input
  // that already checks is exactly what converting it would give: path ids, most parameters.
  const asGiven = convert && !hasDefaultsOrUnions(tschema);
  return (input: unknown) => {
    if (asGiven && check.Check(input)) return { value: input };
    const value = convert ? Value.Convert(tschema, Value.Default(tschema, Value.Clone(input))) : input;
    if (check.Check(value)) return { value };
    const validation = [...check.Errors(value)]
      .slice(0, 20)
      .map((e) => ({ instancePath: e.path, message: e.message }));
    return { error: Object.assign(new Error('the request does not match the schema'), { validation }) };
  };
}

/** Whether a schema (any depth) declares a default or a union (`anyOf`/`oneOf`), where Convert may rewrite. */
function hasDefaultsOrUnions(schema: unknown): boolean {
  if (Array.isArray(schema)) return schema.some(hasDefaultsOrUnions);
  if (schema === null || typeof schema !== 'object') return false;
  const o = schema as Record<string, unknown>;
  if ('default' in o || 'anyOf' in o || 'oneOf' in o) return true;
  return Object.values(o).some(hasDefaultsOrUnions);
}

/** Builds the API; nothing listens until the caller's `listen` (api/main.ts), tests use `inject()`. */
export async function buildApp(deps: ApiDeps): Promise<ApiApp> {
  const { config } = deps;
  const log = deps.log.child({ component: 'api' });
  // Typed as Fastify's logger so the instance type does not carry pino's generics.
  const fastifyLog: FastifyBaseLogger = log;
  const apiMetrics = new ApiMetrics();
  const apiKeys = new ApiKeyCache(deps.state.apiKeys, config.apiKeyCacheMs);
  const sessions = deps.sessions ?? tcpDeviceSessions(config.apiMqttUrl);
  const app = Fastify({
    loggerInstance: fastifyLog,
    // Requests are logged at debug by the onResponse hook below, with the route pattern, not the raw URL.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: config.apiBodyLimitBytes,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID_RE.test(given) ? given : randomUUID();
    },
    return503OnClosing: true,
    routerOptions: { ignoreTrailingSlash: true },
  }).withTypeProvider<TypeBoxTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  const routes: { method: string; url: string }[] = [];
  routesOf.set(app, routes);
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat())
      if (method !== 'HEAD') routes.push({ method, url: route.url });
  });

  const policies = deps.credit?.policies ?? new PolicyStore(deps.state, deps.now ?? Date.now);
  const lenderId = deps.credit?.config.lenderId ?? 'lender';
  const ctx: RouteContext = {
    config,
    importPolicy: async () => ({ policy: (await policies.current()).policy, lenderId }),
    state: deps.state,
    telemetry: deps.telemetry,
    sessions,
    log,
    apiMetrics,
    metrics: deps.metrics ?? [],
    now: deps.now ?? Date.now,
    apiKeyRevoked: (id) => apiKeys.forget(id),
    ...(deps.scores === undefined
      ? {}
      : {
          gradeCounts: async () => {
            const counts: Record<string, number> = {};
            for (const s of (await deps.scores?.heads()) ?? []) counts[s.grade] = (counts[s.grade] ?? 0) + 1;
            return counts;
          },
          onLoanEvent: (ids: readonly string[]) => {
            for (const id of ids) deps.scores?.notifyLoanEvent(id);
          },
        }),
    ...(deps.alerts === undefined
      ? {}
      : {
          countActiveAlerts: async () => (await deps.alerts?.service.countActive()) ?? 0,
          activeAlertsByBorrower: async () =>
            (await deps.alerts?.service.countActiveByBorrower()) ?? new Map<string, number>(),
        }),
    async audit(request, entry) {
      await deps.state.audit.appendAudit({
        ...entry,
        at: this.now(),
        ...(request.principal
          ? { actorKeyId: request.principal.keyId, actorRole: request.principal.role }
          : {}),
        requestId: String(request.id),
      });
    },
  };

  // `upgrade-insecure-requests` would make browsers fetch /docs assets over https from an API served over plain
  // http (the all-in-one demo, a TLS-terminating proxy's backend port); everything else is helmet's default.
  const securityHeaders = helmetHeaders({
    contentSecurityPolicy: { directives: { upgradeInsecureRequests: null } },
  });
  app.decorateRequest('principal', null);
  app.addHook('onRequest', (request, reply, done) => {
    void reply.headers(securityHeaders).header('x-request-id', request.id);
    done();
  });
  app.addHook('onResponse', (request, reply, done) => {
    apiMetrics.observe(
      request.method,
      request.routeOptions.url ?? 'unmatched',
      reply.statusCode,
      reply.elapsedTime / 1000,
    );
    // The line's fields are gathered only when debug is on: otherwise every request built them for nothing.
    if (log.isLevelEnabled('debug'))
      log.debug(
        {
          reqId: request.id,
          method: request.method,
          route: request.routeOptions.url,
          status: reply.statusCode,
          ms: reply.elapsedTime,
        },
        'request',
      );
    done();
  });

  if (config.apiCorsOrigins !== undefined) installCors(app, config.apiCorsOrigins);
  // Responses under 8 KiB (single records, a score) gain a few hundred bytes from gzip and cost a zlib stream
  // each (bench:api, 16 connections: score read p50 6.9 ms with gzip, 3.7 ms without). Lists, telemetry and
  // docs still compress.
  await app.register(compress, { global: true, threshold: 8192, encodings: ['gzip', 'deflate'] });
  const lastUsed = new LastUsedRecorder(deps.state.apiKeys, (fn) => deps.state.transaction(fn), log);
  app.addHook('onClose', () => lastUsed.flush());
  app.addHook('onRequest', createAuthHook(apiKeys, lastUsed, log));
  await app.register(rateLimit, {
    max: config.apiRateLimitPerMin,
    timeWindow: 60_000,
    hook: 'preParsing',
    keyGenerator: (request) => request.principal?.keyId ?? request.ip,
    errorResponseBuilder: (_request, context) =>
      new RiskfuseError('RATE_LIMITED', `over ${context.max} requests per minute; retry in ${context.after}`),
  });

  app.setErrorHandler((err, request, reply) => {
    const problem = toProblem(err, request, log);
    if (problem.status === 401) void reply.header('www-authenticate', 'Bearer realm="riskfuse"');
    return sendProblem(reply, problem);
  });
  app.setNotFoundHandler((request, reply) =>
    sendProblem(
      reply,
      problemOf('NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0] ?? ''}`, request),
    ),
  );

  app.addContentTypeParser(
    'text/csv',
    { bodyLimit: config.apiCsvBodyLimitBytes },
    (request, payload, done) => {
      const declared = Number(request.headers['content-length'] ?? 0);
      if (declared > config.apiCsvBodyLimitBytes) {
        done(
          new RiskfuseError(
            'PAYLOAD_TOO_LARGE',
            `CSV body over the limit of ${config.apiCsvBodyLimitBytes} bytes`,
          ),
          undefined,
        );
        return;
      }
      readCsv(payload, config.apiCsvBodyLimitBytes).then(
        (table) => done(null, table),
        (err: unknown) => done(err instanceof Error ? err : new Error(String(err)), undefined),
      );
    },
  );

  app.addSchema(Problem);
  await app.register(swagger, {
    openapi: OPENAPI_INFO,
    // Shared schemas keep their $id as the component name (`#/components/schemas/Problem`).
    refResolver: {
      buildLocalReference: (json, _baseUri, _fragment, i) =>
        typeof json.$id === 'string' ? json.$id : `def-${i}`,
    },
    transform: transformForOpenApi,
    transformObject: transformObjectForOpenApi,
  });
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    staticCSP: true,
    transformStaticCSP: (header) => header.replace(/\s*upgrade-insecure-requests;?/g, ''),
  });

  metaRoutes(app, ctx);
  await dashboardRoutes(app);
  await app.register(
    (v1: ApiApp, _opts, done) => {
      apiKeyRoutes(v1, ctx);
      portfolioRoutes(v1, ctx);
      siteRoutes(v1, ctx);
      lotRoutes(v1, ctx);
      deviceRoutes(v1, ctx);
      loanRoutes(v1, ctx);
      telemetryRoutes(v1, ctx);
      if (deps.scores !== undefined) {
        scoreRoutes(v1, ctx, deps.scores);
        modelHealthRoutes(v1, ctx, deps.scores);
        portfolioBorrowerRoutes(v1, ctx, deps.scores);
      }
      if (deps.alerts !== undefined) {
        alertRoutes(v1, ctx, deps.alerts);
        caseRoutes(v1, ctx, deps.alerts);
        suppressionRoutes(v1, ctx, deps.alerts);
      }
      if (deps.webhooks !== undefined) webhookRoutes(v1, ctx, deps.webhooks);
      if (deps.credit !== undefined) {
        creditRoutes(v1, ctx, deps.credit);
        creditApplicationRoutes(v1, ctx, new CreditApplications(deps.state, deps.credit, () => ctx.now()));
      }
      done();
    },
    { prefix: '/v1' },
  );
  return app;
}

/** CORS, only for the configured origins (API_CORS_ORIGINS); without it browsers get no CORS headers. */
function installCors(app: ApiApp, origins: string): void {
  const allowed = new Set(
    origins
      .split(',')
      .map((o) => o.trim())
      .filter((o) => o !== ''),
  );
  app.addHook('onRequest', (request, reply, done) => {
    const origin = request.headers.origin;
    if (typeof origin === 'string' && (allowed.has(origin) || allowed.has('*'))) {
      void reply.header('access-control-allow-origin', allowed.has('*') ? '*' : origin);
      void reply.header('vary', 'Origin');
      if (request.method === 'OPTIONS') {
        void reply
          .header('access-control-allow-methods', 'GET,POST,PATCH,DELETE')
          .header('access-control-allow-headers', 'authorization,content-type,x-api-key,x-request-id')
          .header('access-control-max-age', '600')
          .code(204)
          .send();
        return;
      }
    }
    done();
  });
}
