import t from 'tap';
import { startTestHub } from './support/test-hub.js';

const ADMIN = '1'.repeat(32);
const USER = '2'.repeat(32);

/** A small deterministic PRNG, so a failure reproduces. */
function rng(seed: number) {
  return () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
}

const NAMES = [
  'alice', 'ghost', 'a@b.c', 'é', '日本', 'x'.repeat(300), '..', '../etc', '%2e%2e', 'a%2Fb', 'a b', "o'brien", '<script>', '%00', 'a%00b',
  '%ff', '%', 'CON', '-', '.', '~', '{}', 'null', 'true', '0', '-1',
];
const BODIES: Array<string | undefined> = [
  undefined, '', '{', '}', '[]', '"str"', '123', 'null', 'true', '{"admin":"yes"}', '{"admin":1}', '{"usernames":[1,2]}', '{"usernames":"alice"}',
  '{"usernames":[]}', '{"users":"x"}', '{"users":[null]}', '{"groups":[{}]}', '{"scopes":"all"}', '{"scopes":["nope:nope"]}', '{"expires_in":-1}',
  '{"expires_in":"soon"}', '{"note":42}', '{"name":""}', '{"name":["x"]}', '{"last_activity":"yesterday"}', '{"servers":{"":{"last_activity":1}}}',
  '{"servers":[]}', '{"remove":"maybe"}', '{"proxy":"yes"}', '{"api_url":42}', '{"auth_state":"x"}', '{"a":' + '['.repeat(5000) + ']'.repeat(5000) + '}',
  '{"x":"' + 'y'.repeat(2 * 1024 * 1024) + '"}', '{"name":"\\u0000"}', '{"__proto__":{"admin":true}}', '{"constructor":{"prototype":{"x":1}}}',
];
const TOKENS = [ADMIN, USER, 'nope', '', ' ', 'x'.repeat(5000), `${ADMIN} extra`, '%00'];
const AUTH_SCHEMES = ['token', 'Token', 'bearer', 'Basic', ''];
const CONTENT_TYPES = ['application/json', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', undefined];
const ROUTES: Array<[string, string]> = [
  ['GET', '/users'], ['POST', '/users'], ['GET', '/users/{n}'], ['POST', '/users/{n}'], ['PATCH', '/users/{n}'], ['DELETE', '/users/{n}'],
  ['POST', '/users/{n}/server'], ['DELETE', '/users/{n}/server'], ['POST', '/users/{n}/servers/{n}'], ['DELETE', '/users/{n}/servers/{n}'],
  ['GET', '/users/{n}/server/progress'], ['POST', '/users/{n}/activity'], ['GET', '/users/{n}/tokens'], ['POST', '/users/{n}/tokens'],
  ['GET', '/users/{n}/tokens/{n}'], ['DELETE', '/users/{n}/tokens/{n}'], ['GET', '/groups'], ['POST', '/groups'], ['GET', '/groups/{n}'],
  ['POST', '/groups/{n}'], ['DELETE', '/groups/{n}'], ['POST', '/groups/{n}/users'], ['DELETE', '/groups/{n}/users'], ['PUT', '/groups/{n}/properties'],
  ['GET', '/services'], ['GET', '/services/{n}'], ['POST', '/services/{n}'], ['DELETE', '/services/{n}'], ['GET', '/proxy'], ['PATCH', '/proxy'],
  ['GET', '/info'], ['GET', '/user'], ['GET', '/'], ['GET', '/{n}'], ['POST', '/oauth2/token'], ['GET', '/oauth2/authorize?client_id={n}&redirect_uri={n}'],
  ['GET', '/users?state={n}&sort={n}&offset={n}&limit={n}&name_filter={n}'], ['GET', '/groups?offset={n}&limit={n}'],
];

t.test('2,000+ malformed API requests: no 500s, and the hub still serves', async (t) => {
  // Spawns would be legitimate work, not malformed input: point the spawner at a command that never
  // starts, so any request that does reach a spawn fails fast and is not counted as a 500 from input.
  const th = await startTestHub(t, {
    config: {
      hub: { api_tokens: { [ADMIN]: 'root', [USER]: 'alice' }, load_groups: { class: ['alice'] } },
      authenticator: { admin_users: ['root'] },
    },
  });
  const random = rng(42);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  const failures: string[] = [];
  const statuses = new Map<number, number>();
  const TOTAL = 2200;
  let sent = 0;
  const deadline = Date.now() + 120_000;

  const one = async () => {
    const [method, template] = pick(ROUTES);
    const path = template.replace(/\{n\}/g, () => pick(NAMES));
    const body = method === 'GET' || method === 'HEAD' ? undefined : pick(BODIES);
    const token = pick(TOKENS);
    const scheme = pick(AUTH_SCHEMES);
    const headers: Record<string, string> = {};
    if (random() < 0.9) headers.authorization = `${scheme} ${token}`;
    const ct = pick(CONTENT_TYPES);
    if (ct && body !== undefined) headers['content-type'] = ct;
    if (random() < 0.2) headers.accept = 'application/jupyterhub-pagination+json';
    // POST server with a valid-looking body for a real user would start a real server: not malformed.
    if (path.match(/^\/users\/(alice|root)\/servers?(\/|$)/) && method === 'POST' && (body === undefined || body === '' || body.startsWith('{"'))) return;
    const url = `${th.hubUrl}/hub/api${path}`;
    let status = 0;
    try {
      const res = await fetch(url, { method, headers, body });
      status = res.status;
      await res.arrayBuffer();
    } catch (err) {
      failures.push(`${method} ${path.slice(0, 80)}: transport error ${(err as Error).message}`);
      return;
    }
    sent++;
    statuses.set(status, (statuses.get(status) ?? 0) + 1);
    if (status >= 500) failures.push(`${status} ${method} ${path.slice(0, 80)} body=${String(body).slice(0, 60)} ct=${ct} auth=${headers.authorization?.slice(0, 20)}`);
  };

  while (sent < TOTAL && Date.now() < deadline) await Promise.all(Array.from({ length: 8 }, one));
  t.ok(sent >= 2000, `sent ${sent} malformed requests`);
  t.comment(`statuses: ${JSON.stringify(Object.fromEntries([...statuses].sort((a, b) => a[0] - b[0])))}`);
  t.same(failures.slice(0, 20), [], `no 500s or broken connections (${failures.length} in all)`);

  const root = await fetch(`${th.hubUrl}/hub/api/`);
  t.equal(root.status, 200, 'the hub still answers');
  const me = await fetch(`${th.hubUrl}/hub/api/user`, { headers: { authorization: `token ${ADMIN}` } });
  t.equal(me.status, 200, 'and still authenticates');
  t.equal(((await me.json()) as { name: string }).name, 'root');
});

t.test('a body over the limit is a 413 through the proxy too, not the proxy\'s 503', async (t) => {
  const th = await startTestHub(t, { config: { hub: { api_tokens: { [ADMIN]: 'root' } }, authenticator: { admin_users: ['root'] } } });
  // 2 MB: over the API's 1 MB and the forms' 64 KB limits. The hub answers before reading the body; the
  // proxy is still sending it, and used to see the connection close under it (a 503, now and then).
  const big = 'a'.repeat(2 * 1024 * 1024);
  const statuses: number[] = [];
  for (let i = 0; i < 5; i++) {
    const api = await fetch(`${th.publicUrl}/hub/api/users`, { method: 'POST', headers: { authorization: `token ${ADMIN}`, 'content-type': 'application/json' }, body: big });
    statuses.push(api.status);
    if (i === 0) t.same(await api.json(), { status: 413, message: 'Request body too large' }, 'a JupyterHub-shaped JSON error');
    else await api.arrayBuffer();
    const form = await fetch(`${th.publicUrl}/hub/login`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: big, redirect: 'manual' });
    statuses.push(form.status);
    await form.arrayBuffer();
  }
  t.same(statuses, Array(10).fill(413), 'ten oversized posts (API and login form), ten 413s');
});
