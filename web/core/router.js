// Hash routes: a view's address is its path and its non-empty parameters.
/** A page's hash: the path and its non-empty parameters. */
export function hashOf(path, params = {}) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params))
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return `#${path}${s === '' ? '' : `?${s}`}`;
}
