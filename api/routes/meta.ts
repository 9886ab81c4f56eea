import { Type } from '@sinclair/typebox';
import { errorMessage } from '../../core/errors.js';
import type { ApiApp, RouteContext } from '../app.js';
import { renderSamples } from '../metrics.js';

const Check = Type.Object({ ok: Type.Boolean(), detail: Type.Optional(Type.String()) });
const Ready = Type.Object({
  status: Type.Union([Type.Literal('ready'), Type.Literal('not-ready')]),
  checks: Type.Object({ stateStore: Check, telemetryStore: Check, broker: Check }),
});

const READY_TIMEOUT_MS = 2000;

async function probe(run: () => Promise<unknown>): Promise<{ ok: boolean; detail?: string }> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const result = await Promise.race([
      run(),
      new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`no answer within ${READY_TIMEOUT_MS} ms`)),
          READY_TIMEOUT_MS,
        );
      }),
    ]);
    return result === false ? { ok: false, detail: 'not reachable' } : { ok: true };
  } catch (err) {
    return { ok: false, detail: errorMessage(err) };
  } finally {
    clearTimeout(timer);
  }
}

/** Liveness, readiness, Prometheus metrics and the OpenAPI document: public, not rate limited. */
export function metaRoutes(app: ApiApp, ctx: RouteContext): void {
  const open = { rateLimit: false } as const;
  app.get(
    '/health',
    {
      config: open,
      schema: {
        summary: 'Liveness: the process answers',
        tags: ['health'],
        security: [],
        response: { 200: Type.Object({ status: Type.Literal('ok') }) },
      },
    },
    () => ({ status: 'ok' as const }),
  );

  app.get(
    '/ready',
    {
      config: open,
      schema: {
        summary: 'Readiness: the state store, the telemetry store and the MQTT broker answer',
        tags: ['health'],
        security: [],
        response: { 200: Ready, 503: Ready },
      },
    },
    async (_request, reply) => {
      const [stateStore, telemetryStore, broker] = await Promise.all([
        probe(() => ctx.state.db.schemaVersion()),
        probe(() => ctx.telemetry.ping()),
        probe(() => ctx.sessions.isUp()),
      ]);
      const ok = stateStore.ok && telemetryStore.ok && broker.ok;
      void reply.code(ok ? 200 : 503);
      return {
        status: ok ? ('ready' as const) : ('not-ready' as const),
        checks: { stateStore, telemetryStore, broker },
      };
    },
  );

  app.get(
    '/metrics',
    {
      config: open,
      schema: {
        summary: 'Prometheus metrics (text format 0.0.4)',
        tags: ['health'],
        security: [],
        produces: ['text/plain'],
        response: { 200: Type.String() },
      },
    },
    (_request, reply) => {
      const samples = [...ctx.apiMetrics.samples(), ...ctx.metrics.flatMap((m) => m.samples())];
      const text = `${renderSamples(samples)}\n${ctx.apiMetrics.renderHistogram()}\n`;
      void reply.type('text/plain; version=0.0.4; charset=utf-8');
      return text;
    },
  );

  app.get('/openapi.json', { config: open, schema: { hide: true } }, () => app.swagger());
}
