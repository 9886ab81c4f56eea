import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { ApiApp } from './app.js';

/** The dashboard's own files: `web/` at the repository root, from source (api/) or from the build (dist/api/). */
function webRoot(): string | undefined {
  const here = dirname(fileURLToPath(import.meta.url));
  return [join(here, '..', 'web'), join(here, '..', '..', 'web')].find((d) =>
    existsSync(join(d, 'index.html')),
  );
}

/** A package's `dist/` folder, resolved the way Node resolves the package itself. */
function distOf(pkg: string): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve(`${pkg}/package.json`)), 'dist');
}

/**
 * The risk-officer dashboard: static ES modules under `/dashboard/`, the chart and map libraries from
 * node_modules under `/dashboard/vendor/…` (no CDN: it works offline), `/` redirects to it. The files are
 * public (permissions.ts `PUBLIC_PREFIXES`); every API call the page makes carries the key the user typed.
 * Helmet's default CSP already fits: scripts are same-origin modules (no inline script), uPlot and Leaflet
 * set styles through the CSSOM (not governed by `style-src`) and Leaflet's marker images are same-origin.
 * Returns false (nothing registered) when `web/` is not shipped alongside the code.
 */
export async function dashboardRoutes(app: ApiApp): Promise<boolean> {
  const root = webRoot();
  if (root === undefined) return false;
  await app.register(fastifyStatic, {
    root,
    prefix: '/dashboard/',
    // Only the page's own files: the tests and the type-checking files (types/, *.d.ts, tsconfig.json) stay out.
    allowedPath: (path) =>
      !path.startsWith('/test/') &&
      !path.startsWith('/types/') &&
      !path.endsWith('.d.ts') &&
      !path.endsWith('tsconfig.json'),
    index: false,
    // The page's own files change with releases: revalidated on every load (ETag).
    maxAge: 0,
  });
  await app.register(fastifyStatic, {
    root: distOf('uplot'),
    prefix: '/dashboard/vendor/uplot/',
    decorateReply: false,
    maxAge: 3_600_000,
  });
  await app.register(fastifyStatic, {
    root: distOf('leaflet'),
    prefix: '/dashboard/vendor/leaflet/',
    decorateReply: false,
    maxAge: 3_600_000,
  });
  // The router ignores trailing slashes, so the folder itself needs its own route to the page; without the
  // slash the page's relative links would resolve against `/`, hence the redirect.
  app.get('/dashboard', { schema: { hide: true } }, (request, reply) =>
    request.url.split('?')[0]?.endsWith('/') === true
      ? reply.sendFile('index.html', root)
      : reply.redirect('/dashboard/'),
  );
  app.get('/', { schema: { hide: true } }, (_request, reply) => reply.redirect('/dashboard/'));
  return true;
}
