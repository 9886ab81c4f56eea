import type {
  FastifyDynamicSwaggerOptions,
  SwaggerTransform,
  SwaggerTransformObject,
} from '@fastify/swagger';

/**
 * The OpenAPI 3 document is generated from the route schemas (@fastify/swagger), served at `/docs`
 * (swagger-ui, assets served locally) and `/openapi.json`, and committed as `openapi.json` by
 * `npm run openapi` (a test fails when the committed file is stale).
 */
export const OPENAPI_INFO: NonNullable<FastifyDynamicSwaggerOptions['openapi']> = {
  openapi: '3.0.3',
  info: {
    title: 'riskfuse API',
    version: '1',
    description: [
      'Risk-officer API of riskfuse: portfolio (borrowers, sites, collateral lots), devices, loan-data import,',
      'telemetry queries, API keys and the audit log.',
      '',
      'Authenticate with `Authorization: Bearer <key>` (or `X-API-Key`). Errors are RFC 9457 problem documents',
      '(`application/problem+json`) with a stable `code`. Lists are paged with `limit` and an opaque `cursor`',
      '(`nextCursor` of the previous page).',
      '',
      'Loan-data import (`/v1/imports/*`, JSON or `text/csv`) is idempotent by external id and, by default,',
      'all-or-nothing: every row is validated first, and if any is rejected nothing is applied (422 with a',
      'per-row report). `?mode=partial` applies the valid rows and reports the rest. Either way a request is',
      'applied in one transaction.',
    ].join('\n'),
  },
  components: {
    securitySchemes: {
      bearer: { type: 'http', scheme: 'bearer', description: 'API key `rfk_…`' },
      apiKeyHeader: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
    },
  },
  security: [{ bearer: [] }, { apiKeyHeader: [] }],
};

/** Route schema adjustments for the document: CSV bodies are documented as text, not as the parsed table. */
export const transformForOpenApi: SwaggerTransform = ({ schema, url }) => {
  const body = (schema as { body?: { content?: Record<string, unknown> } } | undefined)?.body;
  if (body?.content?.['text/csv'] === undefined) return { schema, url };
  return {
    schema: {
      ...schema,
      body: {
        content: {
          ...body.content,
          'text/csv': {
            schema: {
              type: 'string',
              description: 'CSV with a header line naming the columns (same names as the JSON fields)',
            },
          },
        },
      },
    },
    url,
  };
};

type Operation = { responses?: Record<string, { content?: Record<string, unknown> }> };

/** Error responses are problem documents: documented as `application/problem+json`. */
export const transformObjectForOpenApi: SwaggerTransformObject = (doc) => {
  const openapi = (doc as { openapiObject?: { paths?: Record<string, Record<string, Operation>> } })
    .openapiObject;
  for (const path of Object.values(openapi?.paths ?? {})) {
    for (const op of Object.values(path)) {
      for (const [status, response] of Object.entries(op.responses ?? {})) {
        const json = response.content?.['application/json'];
        if (Number(status) >= 400 && json !== undefined && response.content !== undefined) {
          response.content = { 'application/problem+json': json };
        }
      }
    }
  }
  return openapi ?? {};
};
