import { Type, type Static } from '@sinclair/typebox';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { ERRORS, RiskfuseError, type ErrorCode } from '../core/errors.js';
import type { Logger } from '../core/logger.js';

/**
 * One error shape for every API failure: RFC 9457 problem details (`application/problem+json`) with the
 * stable riskfuse error `code` (core/errors.ts) and the request id. Stack traces and internal messages of
 * 5xx errors never leave the process; they are logged with the request id instead.
 */
export const PROBLEM_CONTENT_TYPE = 'application/problem+json; charset=utf-8';

export const FieldError = Type.Object({
  path: Type.String({
    description: 'where: `body/name`, `querystring/limit`, `params/id`, `line 12/amountDue`',
  }),
  message: Type.String(),
});

export const Problem = Type.Object(
  {
    type: Type.String({
      description: 'URI reference naming the problem type: `urn:riskfuse:problem:<code>`',
    }),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.String(),
    code: Type.String({ description: 'stable error code (never reworded once shipped)' }),
    instance: Type.String({ description: 'the request path' }),
    requestId: Type.String(),
    errors: Type.Optional(Type.Array(FieldError, { description: 'per-field problems (validation)' })),
    dependents: Type.Optional(
      Type.Record(Type.String(), Type.Integer(), { description: 'what still refers to the resource (409)' }),
    ),
  },
  { $id: 'Problem', description: 'RFC 9457 problem details' },
);
export type Problem = Static<typeof Problem>;

/** A reference to the shared `Problem` schema (registered once with `addSchema`, one component in OpenAPI). */
export const ProblemRef = Type.Unsafe<Problem>(Type.Ref('Problem'));

const TITLES: Record<ErrorCode, string> = {
  CONFIG_INVALID: 'Invalid configuration',
  VALIDATION_FAILED: 'Invalid request',
  NOT_FOUND: 'Not found',
  CONFLICT: 'Conflict',
  UNAUTHENTICATED: 'Authentication required',
  FORBIDDEN: 'Forbidden',
  PAYLOAD_TOO_LARGE: 'Payload too large',
  UNSUPPORTED_MEDIA_TYPE: 'Unsupported media type',
  IMPORT_REJECTED: 'Import rejected',
  RATE_LIMITED: 'Too many requests',
  STORE_UNAVAILABLE: 'Store unavailable',
  STORE_REJECTED: 'Internal error',
  STORE_QUERY_INVALID: 'Invalid query',
  MIGRATION_FAILED: 'Internal error',
  SHUTTING_DOWN: 'Shutting down',
  MODEL_INVALID: 'Invalid model',
  INTERNAL: 'Internal error',
};

/** Error responses every route declares, so that they too are serialised from a schema and documented. */
export const ERROR_RESPONSES = {
  400: ProblemRef,
  401: ProblemRef,
  403: ProblemRef,
  404: ProblemRef,
  409: ProblemRef,
  413: ProblemRef,
  415: ProblemRef,
  429: ProblemRef,
  500: ProblemRef,
  503: ProblemRef,
} as const;

export function problemOf(
  code: ErrorCode,
  detail: string,
  request: FastifyRequest,
  extra: { errors?: Problem['errors']; dependents?: Record<string, number>; status?: number } = {},
): Problem {
  return {
    type: `urn:riskfuse:problem:${code.toLowerCase().replace(/_/g, '-')}`,
    title: TITLES[code],
    status: extra.status ?? ERRORS[code].status,
    detail,
    code,
    instance: request.url.split('?')[0] ?? request.url,
    requestId: String(request.id),
    ...(extra.errors === undefined ? {} : { errors: extra.errors }),
    ...(extra.dependents === undefined ? {} : { dependents: extra.dependents }),
  };
}

/** Details a RiskfuseError may carry into the problem document. */
export interface ProblemDetails {
  readonly errors?: Problem['errors'];
  readonly dependents?: Record<string, number>;
}

const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'VALIDATION_FAILED',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'VALIDATION_FAILED',
};

const BY_STATUS: Record<number, ErrorCode> = {
  401: 'UNAUTHENTICATED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  409: 'CONFLICT',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  422: 'IMPORT_REJECTED',
  429: 'RATE_LIMITED',
};

interface AjvError {
  readonly instancePath?: string;
  readonly message?: string;
  readonly keyword?: string;
  readonly params?: Record<string, unknown>;
}

function validationErrors(err: FastifyError & { validationContext?: string }): Problem['errors'] {
  const where = err.validationContext ?? 'request';
  return (err.validation as AjvError[] | undefined)?.slice(0, 20).map((v) => {
    const missing = v.keyword === 'required' ? v.params?.missingProperty : undefined;
    const extra = v.keyword === 'additionalProperties' ? v.params?.additionalProperty : undefined;
    const field = typeof missing === 'string' ? `/${missing}` : typeof extra === 'string' ? `/${extra}` : '';
    return {
      path: `${where}${v.instancePath ?? ''}${field}`,
      message: typeof extra === 'string' ? 'is not an allowed property' : (v.message ?? 'is invalid'),
    };
  });
}

/** Maps any error to a problem document; 5xx details stay in the log. */
export function toProblem(err: unknown, request: FastifyRequest, log: Logger): Problem {
  if (err instanceof RiskfuseError) {
    if (err.status >= 500 && err.code !== 'STORE_UNAVAILABLE' && err.code !== 'SHUTTING_DOWN') {
      log.error({ err, reqId: request.id }, 'request failed');
      return problemOf('INTERNAL', 'internal error; the request id identifies it in the log', request);
    }
    const details = (err.details ?? {}) as ProblemDetails;
    return problemOf(err.code, err.message, request, {
      ...(details.errors === undefined ? {} : { errors: details.errors }),
      ...(details.dependents === undefined ? {} : { dependents: details.dependents }),
    });
  }
  const fe = err as FastifyError & { validationContext?: string };
  if (Array.isArray(fe.validation)) {
    return problemOf('VALIDATION_FAILED', 'the request does not match the schema', request, {
      errors: validationErrors(fe) ?? [],
    });
  }
  const mapped = fe.code === undefined ? undefined : FASTIFY_CODES[fe.code];
  if (mapped !== undefined) return problemOf(mapped, fe.message, request);
  const status = typeof fe.statusCode === 'number' ? fe.statusCode : 500;
  if (status >= 400 && status < 500) {
    const code = BY_STATUS[status] ?? 'VALIDATION_FAILED';
    // Fastify's own 4xx messages (bad JSON, bad content length) are safe and say what was wrong.
    return problemOf(code, fe.message, request, { status });
  }
  log.error({ err, reqId: request.id }, 'request failed');
  return problemOf('INTERNAL', 'internal error; the request id identifies it in the log', request);
}

export function sendProblem(reply: FastifyReply, problem: Problem): FastifyReply {
  return reply.code(problem.status).type(PROBLEM_CONTENT_TYPE).send(problem);
}
