// Routespecs are JupyterHub's proxy keys: '/', '/user/<escaped name>/', '/services/<name>/' (or
// 'host/user/…/' with host routing). configurable-http-proxy percent-decodes the path of every API
// call and stores (and reports) its keys decoded, so the hub side must re-escape them the way it
// escaped them when adding, or a route it owns looks foreign and check_routes would delete it.
// These helpers give every routespec one canonical form: each segment escaped like JupyterHub's
// `url_escape_path` (Python `quote(value, safe='@~')`, our `urlEscapePath`), always with a trailing '/'.

import { urlEscapePath } from '../url-escape.js';

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    // not valid percent-encoding: the segment was never escaped, keep it literally
    return segment;
  }
}

/**
 * Returns the canonical form of a routespec: every segment decoded once and re-escaped with
 * `urlEscapePath`, with a trailing '/'. Idempotent, so `/user/a%40b.c/`, `/user/a@b.c/`
 * and `/user/a@b.c` all map to `/user/a@b.c/`, and `/user/%C3%A9/` and `/user/é/` to `/user/%C3%A9/`.
 */
export function canonicalRoutespec(routespec: string): string {
  const spec = routespec
    .split('/')
    .map((segment) => urlEscapePath(decodeSegment(segment)))
    .join('/');
  return spec.endsWith('/') ? spec : `${spec}/`;
}

/**
 * The path to append to `{apiUrl}/api/routes` for a routespec: canonical, percent-encoded (never
 * double-encoded), always starting with '/', without the trailing '/' except for the root route.
 */
export function chpPathFromRoutespec(routespec: string): string {
  let path = canonicalRoutespec(routespec);
  if (!path.startsWith('/')) path = `/${path}`;
  if (path !== '/') path = path.replace(/\/+$/, '');
  return path === '' ? '/' : path;
}

/**
 * The canonical routespec for a key of CHP's `GET /api/routes` answer (keys there are decoded).
 * With host routing the first segment is the host and the routespec has no leading '/'.
 */
export function routespecFromChpPath(chpPath: string, hostRouting = false): string {
  let spec = chpPath.split('/').map(urlEscapePath).join('/');
  if (hostRouting) spec = spec.replace(/^\/+/, '');
  return spec.endsWith('/') ? spec : `${spec}/`;
}
