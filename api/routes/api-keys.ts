import { Type } from '@sinclair/typebox';
import { issueApiKey } from '../../core/credentials.js';
import { RiskfuseError } from '../../core/errors.js';
import type { ApiKey as ApiKeyRecord } from '../../core/state/index.js';
import type { ApiApp, RouteContext } from '../app.js';
import { routesFor } from '../permissions.js';
import { decodeCursor, isNumber, paged } from '../pagination.js';
import { ERROR_RESPONSES } from '../problem.js';
import { ApiKey, ApiRole, AuditEntry, Cursor, IssuedKey, Limit, Page } from '../schemas.js';

const KeyParams = Type.Object({ id: Type.String({ pattern: '^[0-9a-f]{16}$', description: 'API key id' }) });

/** API keys (admin; auditors may list) and the audit log (admin, auditor). */
export function apiKeyRoutes(app: ApiApp, ctx: RouteContext): void {
  const { state } = ctx;
  /**
   * Rotate and revoke check then write (the key is still active; it is not the last active admin key):
   * serializable, so that on PostgreSQL two requests at once behave as if one ran after the other — two revokes
   * of the last two admin keys leave one, two rotations of a key make one replacement — as SQLite's
   * one-at-a-time write transactions do. (Creating a key checks nothing: its id is random.)
   */
  const SERIALIZABLE = { isolation: 'serializable' } as const;
  const mustGet = async (id: string): Promise<ApiKeyRecord> => {
    const key = await state.apiKeys.getApiKey(id);
    if (key === undefined) throw new RiskfuseError('NOT_FOUND', `no API key ${id}`);
    return key;
  };
  const refuseLastAdmin = async (key: ApiKeyRecord): Promise<void> => {
    if (
      key.role === 'admin' &&
      key.revokedAt === undefined &&
      (await state.apiKeys.countActiveApiKeys('admin')) <= 1
    ) {
      throw new RiskfuseError(
        'CONFLICT',
        'this is the last active admin key; create another admin key first',
      );
    }
  };

  app.get(
    '/me',
    {
      schema: {
        summary: 'The calling API key: id, name, role and the routes the role may call',
        tags: ['api-keys'],
        response: {
          200: Type.Object({
            id: Type.String(),
            name: Type.String(),
            role: ApiRole,
            may: Type.Array(Type.String(), {
              description:
                '`METHOD /path` of every route the role may call (api/permissions.ts): the dashboard shows only these actions',
            }),
          }),
          ...ERROR_RESPONSES,
        },
      },
    },
    async (request) => {
      const key = await mustGet(request.principal?.keyId ?? '');
      return { id: key.id, name: key.name, role: key.role, may: routesFor(key.role) };
    },
  );

  app.get(
    '/api-keys',
    {
      schema: {
        summary: 'List API keys (never their secrets)',
        tags: ['api-keys'],
        response: { 200: Type.Object({ items: Type.Array(ApiKey) }), ...ERROR_RESPONSES },
      },
    },
    async () => ({ items: await state.apiKeys.listApiKeys() }),
  );

  app.post(
    '/api-keys',
    {
      schema: {
        summary: 'Create an API key; the key is in this response only',
        tags: ['api-keys'],
        body: Type.Object(
          { name: Type.String({ minLength: 1, maxLength: 100 }), role: ApiRole },
          { additionalProperties: false },
        ),
        response: { 201: IssuedKey, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const issued = issueApiKey();
      const apiKey: ApiKeyRecord = {
        id: issued.id,
        name: request.body.name,
        role: request.body.role,
        createdAt: ctx.now(),
      };
      await state.transaction(async () => {
        await state.apiKeys.createApiKey(apiKey, { salt: issued.salt, keyHash: issued.keyHash });
        await ctx.audit(request, {
          action: 'create',
          resource: 'api-key',
          resourceId: apiKey.id,
          after: apiKey,
        });
      });
      void reply.code(201);
      return { apiKey, key: issued.key };
    },
  );

  app.post(
    '/api-keys/:id/rotate',
    {
      schema: {
        summary: 'Rotate: a new key with the same name and role replaces this one, which is revoked',
        tags: ['api-keys'],
        params: KeyParams,
        response: { 201: IssuedKey, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const issued = issueApiKey();
      const nowMs = ctx.now();
      const apiKey = await state.transaction(async () => {
        const old = await mustGet(request.params.id);
        if (old.revokedAt !== undefined) throw new RiskfuseError('CONFLICT', `API key ${old.id} is revoked`);
        const replacement: ApiKeyRecord = {
          id: issued.id,
          name: old.name,
          role: old.role,
          createdAt: nowMs,
          rotatedFrom: old.id,
        };
        await state.apiKeys.createApiKey(replacement, { salt: issued.salt, keyHash: issued.keyHash });
        await state.apiKeys.revokeApiKey(old.id, nowMs);
        await ctx.audit(request, {
          action: 'rotate',
          resource: 'api-key',
          resourceId: old.id,
          before: old,
          after: { revoked: { ...old, revokedAt: nowMs }, replacement },
        });
        return replacement;
      }, SERIALIZABLE);
      // After the commit: forgotten before it, a request in between could cache the key as still active.
      ctx.apiKeyRevoked(request.params.id);
      void reply.code(201);
      return { apiKey, key: issued.key };
    },
  );

  app.delete(
    '/api-keys/:id',
    {
      schema: {
        summary: 'Revoke an API key (it stays listed, marked revoked)',
        tags: ['api-keys'],
        params: KeyParams,
        response: { 200: ApiKey, ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const nowMs = ctx.now();
      const revoked = await state.transaction(async () => {
        const old = await mustGet(request.params.id);
        if (old.revokedAt !== undefined)
          throw new RiskfuseError('CONFLICT', `API key ${old.id} is already revoked`);
        await refuseLastAdmin(old);
        const after = { ...old, revokedAt: nowMs };
        await state.apiKeys.revokeApiKey(old.id, nowMs);
        await ctx.audit(request, {
          action: 'revoke',
          resource: 'api-key',
          resourceId: old.id,
          before: old,
          after,
        });
        return after;
      }, SERIALIZABLE);
      // After the commit (api/api-key-cache.ts): refused from the next request on.
      ctx.apiKeyRevoked(revoked.id);
      return revoked;
    },
  );

  app.get(
    '/audit',
    {
      schema: {
        summary: 'The audit log, newest first',
        tags: ['audit'],
        querystring: Type.Object(
          {
            limit: Limit,
            cursor: Type.Optional(Cursor),
            action: Type.Optional(Type.String({ maxLength: 64 })),
            resource: Type.Optional(Type.String({ maxLength: 64 })),
            resourceId: Type.Optional(Type.String({ maxLength: 128 })),
            actorKeyId: Type.Optional(Type.String({ maxLength: 64 })),
          },
          { additionalProperties: false },
        ),
        response: { 200: Page(AuditEntry), ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const { limit, cursor, ...filter } = request.query;
      const beforeId = cursor === undefined ? undefined : decodeCursor(cursor, isNumber);
      const rows = await state.audit.listAudit({
        ...filter,
        limit: limit + 1,
        ...(beforeId === undefined ? {} : { beforeId }),
      });
      return paged(rows, limit, (e) => e.id);
    },
  );
}
