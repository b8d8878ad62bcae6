import type { FastifyRequest } from 'fastify';
import { badRequest } from '../errors.js';

export const PAGINATION_MEDIA_TYPE = 'application/jupyterhub-pagination+json';

export interface PageRequest {
  offset: number;
  limit: number;
  /** The client sent `Accept: application/jupyterhub-pagination+json`. */
  paginated: boolean;
}

/**
 * Reads offset/limit as JupyterHub does: `abs(int(x))`, non-integers are a 400; limit defaults to
 * api_page_default_limit when the client opted into pagination, else to api_page_max_limit (the
 * silent cap), and is clamped to [1, api_page_max_limit].
 */
export function pageRequest(req: FastifyRequest, limits: { api_page_default_limit: number; api_page_max_limit: number }): PageRequest {
  const q = (req.query ?? {}) as Record<string, unknown>;
  const accept = String(req.headers.accept ?? '');
  const paginated = accept.split(',').some((part) => part.split(';')[0]!.trim() === PAGINATION_MEDIA_TYPE);
  const int = (name: string, fallback: number): number => {
    const raw = q[name];
    if (raw === undefined || raw === '') return fallback;
    if (typeof raw !== 'string' || !/^\s*[+-]?\d{1,15}\s*$/.test(raw)) throw badRequest(`${name} must be an integer, not ${JSON.stringify(raw).slice(0, 40)}`);
    return Math.abs(parseInt(raw, 10));
  };
  const offset = int('offset', 0);
  const limit = Math.max(1, Math.min(limits.api_page_max_limit, int('limit', paginated ? limits.api_page_default_limit : limits.api_page_max_limit)));
  return { offset, limit, paginated };
}

/**
 * The response body: a bare list (JupyterHub's legacy shape, silently capped), or
 * `{items, _pagination: {offset, limit, total, next}}` with `next.url` absolute.
 */
export function pageResponse<T>(req: FastifyRequest, page: PageRequest, items: T[], total: number): T[] | { items: T[]; _pagination: object } {
  if (!page.paginated) return items;
  const nextOffset = page.offset + page.limit;
  let next: { offset: number; limit: number; url: string } | null = null;
  if (nextOffset < total) {
    const url = new URL(req.url, `${req.protocol}://${req.headers.host ?? 'localhost'}`);
    url.searchParams.set('offset', String(nextOffset));
    url.searchParams.set('limit', String(page.limit));
    next = { offset: nextOffset, limit: page.limit, url: url.href };
  }
  return { items, _pagination: { offset: page.offset, limit: page.limit, total, next } };
}
