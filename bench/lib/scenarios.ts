/** The request mixes measured against both hubs. */
import { fail, snippet } from './common.js';
import { auth, JSON_HEADERS, type Req, type Res } from './http.js';
import type { Hub } from './hubs.js';

export interface Scenario {
  id: string;
  title: string;
  expect: number;
  /** When the probe request answers one of these, the scenario is skipped with a note. */
  skipOn?: number[];
  check?: (res: Res) => string | null;
  make: (h: Hub, i: number) => Req;
}

/** The scenarios, for hubs that hold `userCount` users. */
export const SCENARIOS = (userCount: number): Scenario[] => [
  {
    id: 'token',
    title: 'GET /hub/api/user, API token issued by the hub (POST /users/alice/tokens)',
    expect: 200,
    check: (res) => ((JSON.parse(res.body) as { name?: string }).name === 'alice' ? null : `not alice: ${snippet(res.body, 120)}`),
    make: (h) => ({ path: '/hub/api/user', headers: auth(h.aliceToken) }),
  },
  {
    id: 'token-config',
    title: 'GET /hub/api/user, pre-shared token from the config (api_tokens)',
    expect: 200,
    check: (res) => ((JSON.parse(res.body) as { name?: string }).name === 'alice' ? null : `not alice: ${snippet(res.body, 120)}`),
    make: (h) => ({ path: '/hub/api/user', headers: auth(h.configAliceToken) }),
  },
  {
    id: 'users-page',
    title: `GET /hub/api/users?limit=50&offset=..., paginated (Accept: application/jupyterhub-pagination+json), ${userCount} users, admin token`,
    expect: 200,
    skipOn: [404, 405],
    check: (res) => {
      const body = JSON.parse(res.body) as { items?: unknown[]; _pagination?: { offset?: number; total?: number } };
      if (!Array.isArray(body.items) || !body._pagination) return `not a paginated answer: ${snippet(res.body, 160)}`;
      const want = Math.min(50, (body._pagination.total ?? 0) - (body._pagination.offset ?? 0));
      return body.items.length === want ? null : `${body.items.length} items instead of ${want}`;
    },
    make: (h, i) => ({
      path: `/hub/api/users?limit=50&offset=${(i * 50) % Math.max(50, userCount - 50)}`,
      headers: { ...auth(h.adminToken), Accept: 'application/jupyterhub-pagination+json' },
    }),
  },
  {
    id: 'activity',
    title: 'POST /hub/api/users/alice/activity {last_activity: now}',
    expect: 200,
    make: (h) => ({
      method: 'POST',
      path: '/hub/api/users/alice/activity',
      headers: { ...JSON_HEADERS, ...auth(h.aliceToken) },
      body: JSON.stringify({ last_activity: new Date().toISOString() }),
    }),
  },
  {
    id: 'home',
    title: 'GET /hub/home with the login cookie (logged in through the form)',
    expect: 200,
    make: (h) => ({ path: '/hub/home', headers: { Cookie: h.loginCookie } }),
  },
];

/** The scenarios named in --scenarios (comma-separated; empty = all), in that order. */
export function chooseScenarios(list: string, userCount: number): Scenario[] {
  const all = SCENARIOS(userCount);
  const wanted = list ? [...new Set(list.split(',').map((s) => s.trim()).filter(Boolean))] : all.map((s) => s.id);
  return wanted.map((w) => all.find((s) => s.id === w) ?? fail(`unknown scenario '${w}' (known: ${all.map((s) => s.id).join(', ')})`));
}
