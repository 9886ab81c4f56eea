// The API client: the key from sessionStorage on every call, 401 logs out, errors carry the status.
export const KEY = 'riskfuse.apiKey';

/** Who is logged in (GET /v1/me) and the live alert feed, shared by the views. */
export const session = { me: null, stream: null };

/**
 * Whether the caller's role may call `METHOD /path` (as keyed in api/permissions.ts, e.g.
 * 'POST /v1/applications/:id/decisions'): GET /v1/me sends the table's routes for the role, so a page shows an
 * action only when the API would let the caller take it.
 */
export const can = (route) => session.me !== null && session.me.may.includes(route);

export const canAct = () =>
  session.me !== null && (session.me.role === 'admin' || session.me.role === 'officer');

class HttpError extends Error {
  /** `errors`: the problem's per-field list (validation), in the message after the detail. */
  constructor(status, detail, errors = []) {
    const fields = errors.map((e) => `${e.path} ${e.message}`).join('; ');
    super(`${status}: ${detail}${fields === '' ? '' : ` (${fields})`}`);
    this.status = status;
  }
}

export async function api(path, init = {}) {
  const key = sessionStorage.getItem(KEY) ?? '';
  const res = await fetch(path, {
    ...init,
    headers: { authorization: `Bearer ${key}`, ...(init.body ? { 'content-type': 'application/json' } : {}) },
  });
  if (res.status === 401) {
    logout();
    throw new HttpError(401, 'the API key is not valid');
  }
  const body = await res.json().catch(() => ({}));
  if (!res.ok)
    throw new HttpError(
      res.status,
      body.detail ?? res.statusText,
      Array.isArray(body.errors) ? body.errors : [],
    );
  return body;
}

export function logout() {
  sessionStorage.removeItem(KEY);
  session.me = null;
  session.stream?.abort();
  session.stream = null;
  location.hash = '#/login';
}

/** @typedef {import('../api-types').paths} Paths */
/** @typedef {{ [P in keyof Paths]: Paths[P] extends { get: object } ? P : never }[keyof Paths]} GetRoute */
/**
 * @template {GetRoute} R
 * @typedef {Paths[R] extends { get: { responses: { 200: { content: { 'application/json': infer T } } } } } ? T : never} GetResponse
 */

/**
 * A GET typed by the OpenAPI document: `route` is the document's path ('/v1/borrowers/{id}'), its `{name}`
 * segments are filled from `params` (encoded) and the other defined, non-empty params make the query string.
 * The answer's type is the route's 200 schema (web/api-types.d.ts), so `npm run typecheck` catches a view
 * that reads a field the API does not send.
 * @template {GetRoute} R
 * @param {R} route
 * @param {Record<string, string | number | boolean | undefined | null> | URLSearchParams} [params]
 * @returns {Promise<GetResponse<R>>}
 */
export function get(route, params = {}) {
  const rest = new Map(params instanceof URLSearchParams ? params : Object.entries(params));
  const path = route.replace(/\{(\w+)\}/g, (_, name) => {
    const v = rest.get(name);
    rest.delete(name);
    if (v === undefined || v === null || v === '')
      throw new Error(`${route}: the path parameter ${name} is missing`);
    return encodeURIComponent(String(v));
  });
  const q = new URLSearchParams();
  for (const [k, v] of rest) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const query = q.toString();
  return api(query === '' ? path : `${path}?${query}`);
}

export const optional = (p) => p.catch((err) => (err.status === 404 ? undefined : Promise.reject(err)));
