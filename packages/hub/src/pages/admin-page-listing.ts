import { HubError } from '@tshub/plugin-api';
import type { HubContext } from '../hub-context.js';
import { countUsers, groupNamesByUser, listUsers, spawnersByUser, type UserListQuery } from '../db/user-queries.js';
import { isoformat } from '../isoformat.js';
import type { ServerRuntime } from '../services/server-runtime.js';

/** Rows per page of the admin table. */
export const ADMIN_PAGE_SIZE = 50;

const SORTS = ['name', '-name', 'last_activity', '-last_activity'] as const;
export type AdminSort = (typeof SORTS)[number];

/** What the admin table shows: validated from the query string (a 400 for anything odd). */
export interface AdminListing {
  q: string;
  page: number;
  sort: AdminSort;
  /** '' every user, 'active' only users with a server running or starting. */
  state: '' | 'active';
}

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

/** One query argument as text: a repeated argument keeps the last value, as tornado's get_argument. */
function arg(query: Record<string, unknown>, key: string): string {
  const v = query[key];
  const last = Array.isArray(v) ? v.at(-1) : v;
  return typeof last === 'string' ? last : '';
}

/** Reads ?q=&page=&sort=&state=; throws HubError(400) with a sentence saying what is wrong. */
export function parseListing(query: unknown): AdminListing {
  const qs = query !== null && typeof query === 'object' ? (query as Record<string, unknown>) : {};
  const q = arg(qs, 'q').trim();
  if (q.length > 255) throw new HubError(400, 'The search text is too long: user names have at most 255 characters.');
  if (CONTROL.test(q)) throw new HubError(400, 'The search text cannot contain control characters.');
  const rawPage = arg(qs, 'page').trim();
  if (rawPage !== '' && !/^\d{1,9}$/.test(rawPage)) throw new HubError(400, 'The page number must be a whole number from 1 (for example ?page=2).');
  const page = rawPage === '' ? 1 : parseInt(rawPage, 10);
  if (page < 1) throw new HubError(400, 'The page number must be a whole number from 1 (for example ?page=2).');
  const sort = arg(qs, 'sort') || 'name';
  if (!(SORTS as readonly string[]).includes(sort)) throw new HubError(400, `Sort by one of ${SORTS.join(', ')}.`);
  const state = arg(qs, 'state');
  if (state !== '' && state !== 'active') throw new HubError(400, "The state filter is either empty (every user) or 'active'.");
  return { q, page, sort: sort as AdminSort, state };
}

/** The listing as a query string (for links and the post-redirect-get target); defaults are left out. */
export function listingQuery(l: AdminListing, over: Partial<AdminListing> = {}): string {
  const merged = { ...l, ...over };
  const params = new URLSearchParams();
  if (merged.q) params.set('q', merged.q);
  if (merged.state) params.set('state', merged.state);
  if (merged.sort !== 'name') params.set('sort', merged.sort);
  if (merged.page !== 1) params.set('page', String(merged.page));
  const s = params.toString();
  return s ? `?${s}` : '';
}

/** A posted `back` field (the listing the form was on); anything unreadable falls back to the first page. */
export function listingFromBack(back: string): AdminListing {
  try {
    return parseListing(Object.fromEntries(new URLSearchParams(back.replace(/^\?/, ''))));
  } catch {
    return { q: '', page: 1, sort: 'name', state: '' };
  }
}

const UNITS: Array<[number, string]> = [[365 * 86400, 'year'], [30 * 86400, 'month'], [7 * 86400, 'week'], [86400, 'day'], [3600, 'hour'], [60, 'minute']];

/** "3 minutes ago", "just now", "in 2 hours" (clock skew), or "never". */
export function relativeTime(when: Date | null, now: Date): string {
  if (!when) return 'never';
  const seconds = Math.round((now.getTime() - when.getTime()) / 1000);
  const abs = Math.abs(seconds);
  if (abs < 45) return 'just now';
  for (const [size, unit] of UNITS) {
    if (abs >= size) {
      const n = Math.round(abs / size);
      const text = `${n} ${unit}${n === 1 ? '' : 's'}`;
      return seconds >= 0 ? `${text} ago` : `in ${text}`;
    }
  }
  const n = Math.max(1, Math.round(abs / 60));
  return seconds >= 0 ? `${n} minute${n === 1 ? '' : 's'} ago` : `in ${n} minute${n === 1 ? '' : 's'}`;
}

export type ServerStatus = 'running' | 'starting' | 'stopping' | 'failed' | 'stopped';

export interface ServerView {
  name: string;
  status: ServerStatus;
  /** The server's URL when it is running, else null. */
  url: string | null;
  failed_message: string | null;
}

export interface UserView {
  name: string;
  admin: boolean;
  self: boolean;
  groups: string[];
  last_activity: string | null;
  last_activity_text: string;
  server: ServerView;
  named_servers: ServerView[];
}

function statusOf(rt: ServerRuntime | undefined): ServerStatus {
  if (!rt) return 'stopped';
  if (rt.phase === 'ready') return 'running';
  if (rt.phase === 'spawning') return 'starting';
  if (rt.phase === 'stopping') return 'stopping';
  return 'failed';
}

function serverView(name: string, rt: ServerRuntime | undefined): ServerView {
  const status = statusOf(rt);
  return { name, status, url: status === 'running' && rt ? rt.publicUrl : null, failed_message: status === 'failed' ? rt?.failure?.message ?? null : null };
}

export interface AdminTable {
  users: UserView[];
  total: number;
  pages: number;
}

/**
 * One page of the table, through the REST API's SQL (filter, sort, LIMIT/OFFSET, COUNT): at most four
 * queries whatever the number of users; live server state comes from the in-memory runtimes.
 */
export async function loadTable(hub: HubContext, l: AdminListing, selfId: number, now = new Date()): Promise<AdminTable> {
  let ids: UserListQuery['ids'] = null;
  if (l.state === 'active') {
    const set = new Set<number>();
    for (const rt of hub.servers.all) if (rt.active) set.add(rt.userId);
    ids = { mode: 'in', ids: [...set] };
  }
  const descending = l.sort.startsWith('-');
  const q: UserListQuery = {
    visible: null, ids, descending, nameFilter: l.q || null,
    sort: (descending ? l.sort.slice(1) : l.sort) as UserListQuery['sort'],
    offset: (l.page - 1) * ADMIN_PAGE_SIZE, limit: ADMIN_PAGE_SIZE,
  };
  const [rows, total] = await Promise.all([listUsers(hub.db, q), countUsers(hub.db, q)]);
  const userIds = rows.map((r) => r.id);
  const [groups, servers] = await Promise.all([groupNamesByUser(hub.db, userIds), spawnersByUser(hub.db, userIds)]);
  const live = new Map<number, ServerRuntime[]>(userIds.map((id) => [id, []]));
  for (const rt of hub.servers.all) live.get(rt.userId)?.push(rt);
  const users = rows.map((row): UserView => {
    const runtimes = live.get(row.id) ?? [];
    const named = new Set((servers.get(row.id) ?? []).map((s) => s.name).filter((n) => n !== ''));
    for (const rt of runtimes) if (rt.serverName) named.add(rt.serverName);
    return {
      name: row.name,
      admin: row.admin,
      self: row.id === selfId,
      groups: groups.get(row.id) ?? [],
      last_activity: isoformat(row.last_activity),
      last_activity_text: relativeTime(row.last_activity, now),
      server: serverView('', runtimes.find((rt) => rt.serverName === '')),
      named_servers: [...named].sort().map((n) => serverView(n, runtimes.find((rt) => rt.serverName === n))),
    };
  });
  return { users, total, pages: Math.max(1, Math.ceil(total / ADMIN_PAGE_SIZE)) };
}
