import type { ProxyRoute } from './chp-client.js';
import { canonicalRoutespec } from './routespec.js';

/** A route the hub wants in the proxy. */
export interface DesiredRoute {
  target: string;
  data: Record<string, unknown>;
}

/** What {@link diffRoutes} says to do: (re-)add these routes, delete these routespecs. */
export interface RouteDiff {
  add: Array<{ routespec: string; target: string; data: Record<string, unknown> }>;
  remove: string[];
}

/**
 * Compares the routes the hub wants with the jupyterhub-owned routes the proxy has, following
 * JupyterHub's `check_routes`:
 * - a desired route is added when it is missing, when its target differs, or when a data key the hub
 *   sets differs (keys only the proxy sets, like `last_activity`, are not compared);
 * - every actual route that is not desired is removed, except routes in `keep` (routes of pending
 *   spawners, which may be about to be added or deleted by the spawn/stop in progress).
 * Routespecs are compared in canonical form, so `/user/a%40b/` and `/user/a@b/` are the same route;
 * `add` carries the desired routespec as given and `remove` the actual one.
 * Pure: no I/O, inputs are not modified.
 */
export function diffRoutes(
  desired: ReadonlyMap<string, DesiredRoute>,
  actual: ReadonlyMap<string, ProxyRoute>,
  keep: ReadonlySet<string> = new Set(),
): RouteDiff {
  const actualByKey = new Map<string, ProxyRoute>();
  for (const [routespec, route] of actual) actualByKey.set(canonicalRoutespec(routespec), route);

  const wanted = new Set<string>();
  for (const routespec of keep) wanted.add(canonicalRoutespec(routespec));

  const add: RouteDiff['add'] = [];
  for (const [routespec, route] of desired) {
    const key = canonicalRoutespec(routespec);
    wanted.add(key);
    const current = actualByKey.get(key);
    if (!current || current.target !== route.target || !hubDataMatches(route.data, current.data)) {
      add.push({ routespec, target: route.target, data: route.data });
    }
  }

  const remove: string[] = [];
  for (const [routespec] of actual) {
    if (!wanted.has(canonicalRoutespec(routespec))) remove.push(routespec);
  }
  return { add, remove };
}

// Keys the client or the proxy manage themselves; never a reason to re-add a route.
const UNCOMPARED = new Set(['target', 'jupyterhub', 'last_activity']);

function hubDataMatches(want: Record<string, unknown>, have: Record<string, unknown>): boolean {
  for (const [key, value] of Object.entries(want)) {
    if (UNCOMPARED.has(key) || value === undefined) continue;
    if (!jsonEqual(value, have[key])) return false;
  }
  return true;
}

function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((item, i) => jsonEqual(item, b[i]));
  }
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  const keys = Object.keys(ao).filter((k) => ao[k] !== undefined);
  if (keys.length !== Object.keys(bo).filter((k) => bo[k] !== undefined).length) return false;
  return keys.every((k) => jsonEqual(ao[k], bo[k]));
}
