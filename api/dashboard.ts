import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
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

/** The page's own files, as `allowedPath` says: the tests and the type-checking files stay out. */
const servable = (path: string) =>
  !path.startsWith('/test/') &&
  !path.startsWith('/types/') &&
  !path.endsWith('.d.ts') &&
  !path.endsWith('tsconfig.json');

/** Every servable file under `dir`, recursively, as `/relative/path`. */
function filesOf(root: string, dir = root): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = join(dir, e.name);
    if (e.isDirectory()) return filesOf(root, full);
    const rel = `/${relative(root, full)}`;
    return servable(rel) ? [rel] : [];
  });
}

/**
 * A version of the page's files and libraries: a hash of each file's path, size and modification time and
 * of the libraries' versions. Read at every page load (a few dozen stat calls), so an edited file gets a new
 * version without a restart.
 */
function versionOf(root: string, libraries: readonly string[]): string {
  const hash = createHash('sha256');
  for (const rel of filesOf(root).sort()) {
    const st = statSync(join(root, rel));
    hash.update(`${rel}\0${st.size}\0${st.mtimeMs}\0`);
  }
  for (const lib of libraries) hash.update(`${lib}\0`);
  return hash.digest('base64url').slice(0, 12);
}

/** A package's version, as its package.json says. */
function versionOfPackage(pkg: string): string {
  const require = createRequire(import.meta.url);
  return `${pkg}@${(require(`${pkg}/package.json`) as { version: string }).version}`;
}

const IMMUTABLE = 'public, max-age=31536000, immutable';

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
    allowedPath: servable,
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
  // Versioned files: the page loads its modules, styles and libraries under `r/<version>/`, so the browser keeps
  // them without asking again (`immutable`) until a file changes and the page names a new version. Before,
  // every load revalidated each module (a 304 round trip per file, one import level after another: most of
  // the login form's time on a busy machine, bench:dashboard). The page itself is revalidated on every load.
  const libraries = { uplot: distOf('uplot'), leaflet: distOf('leaflet') };
  const libraryVersions = Object.keys(libraries).map(versionOfPackage);
  app.get<{ Params: { version: string; '*': string } }>(
    '/dashboard/r/:version/*',
    { schema: { hide: true } },
    (request, reply) => {
      const path = `/${request.params['*']}`;
      const vendor = /^\/vendor\/(uplot|leaflet)(\/.+)$/.exec(path);
      const [base, file] =
        vendor?.[1] !== undefined && vendor[2] !== undefined
          ? [libraries[vendor[1] as keyof typeof libraries], vendor[2]]
          : [root, path];
      if (
        path.split('/').includes('..') ||
        (base === root && !servable(path)) ||
        !statSync(join(base, file), { throwIfNoEntry: false })?.isFile()
      )
        return reply.callNotFound();
      // An older version's URL still gets today's file, but not for keeps.
      const current = request.params.version === versionOf(root, libraryVersions);
      void reply.header('cache-control', current ? IMMUTABLE : 'no-cache');
      return reply.sendFile(file, base, { cacheControl: false });
    },
  );
  // The page names its files under the current version (relative links only; `#…` anchors stay as they are).
  const page = (): string =>
    readFileSync(join(root, 'index.html'), 'utf8').replace(
      /\b(src|href)="(?![#/]|[a-z]+:)([^"]+)"/g,
      `$1="r/${versionOf(root, libraryVersions)}/$2"`,
    );
  // The router ignores trailing slashes, so the folder itself needs its own route to the page; without the
  // slash the page's relative links would resolve against `/`, hence the redirect.
  app.get('/dashboard', { schema: { hide: true } }, (request, reply) =>
    request.url.split('?')[0]?.endsWith('/') === true
      ? reply.header('cache-control', 'no-cache').type('text/html; charset=utf-8').send(page())
      : reply.redirect('/dashboard/'),
  );
  app.get('/', { schema: { hide: true } }, (_request, reply) => reply.redirect('/dashboard/'));
  return true;
}
