import type { IncomingMessage, ServerResponse } from 'node:http';
import helmet, { type HelmetOptions } from 'helmet';

/**
 * Helmet's response headers for `options`, worked out once. `@fastify/helmet` (13.2, `buildHelmetOnRoutes`)
 * calls `helmet(options)` on every request — validating the options and parsing the CSP directives each
 * time, about 30 µs a request on this project's machine, the largest single cost of a score read
 * (bench:api). With static options (no per-request CSP nonces, no directive functions) helmet sets the same
 * headers on every response, so they are computed here by running helmet once against a recorder and then
 * set by one synchronous onRequest hook (api/app.ts). Removals helmet asks for (`X-Powered-By`) are not
 * needed: Fastify never sets that header.
 *
 * Pinned by api/test/meta.test.ts ("when any route answers, then it carries helmet's headers…").
 */
export function helmetHeaders(options: Readonly<HelmetOptions>): Readonly<Record<string, string>> {
  for (const values of Object.values(
    typeof options.contentSecurityPolicy === 'object' ? (options.contentSecurityPolicy.directives ?? {}) : {},
  )) {
    if (values !== null && typeof values === 'object' && [...values].some((v) => typeof v === 'function'))
      throw new Error('helmetHeaders: CSP directive functions vary per request and cannot be precomputed');
  }
  const headers: Record<string, string> = {};
  const recorder = {
    setHeader(name: string, value: string | number | readonly string[]) {
      headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value);
      return recorder;
    },
    removeHeader(name: string) {
      delete headers[name.toLowerCase()];
    },
  };
  // Helmet 8 throws on invalid options (since 8.1 it no longer passes them to `next`).
  helmet(options)({} as IncomingMessage, recorder as unknown as ServerResponse, () => undefined);
  return Object.freeze(headers);
}
