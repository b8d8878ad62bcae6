import http from 'node:http';
import t from 'tap';
import { hasSingleuser, need } from './support/requirements.js';
import { startTestHub, type TestHub } from './support/test-hub.js';

/**
 * Replays what the external jupyterhub-idle-culler (v1.x/2.x) sends, byte for byte where it matters
 * (tornado's client: no Content-Type on a DELETE with a body; `Accept` only for paginated lists;
 * `_pagination.next.url` followed verbatim), with exactly the scopes its README asks for, and checks
 * the answers it relies on.
 */

const ADMIN_TOKEN = 'd'.repeat(32);
const CULLER_TOKEN = 'e'.repeat(32);
const PAGINATION = 'application/jupyterhub-pagination+json';

interface Answer {
  status: number;
  body: any;
}

/** A request as tornado's simple_httpclient sends it: only the headers given, plus Host and Content-Length. */
function raw(url: string, opts: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: opts.method ?? 'GET', headers: { ...opts.headers, ...(opts.body !== undefined ? { 'content-length': String(Buffer.byteLength(opts.body)) } : {}) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => {
        let body: unknown = text;
        try {
          body = text ? JSON.parse(text) : null;
        } catch {
          /* not JSON */
        }
        resolve({ status: res.statusCode ?? 0, body });
      });
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** fetch_paginated: follows `_pagination.next.url` verbatim; accepts a bare list too. */
async function fetchPaginated(url: string, token: string): Promise<{ items: any[]; pages: number }> {
  const items: any[] = [];
  let next: string | null = url;
  let pages = 0;
  while (next) {
    const res = await raw(next, { headers: { authorization: `token ${token}`, accept: PAGINATION } });
    if (res.status !== 200) throw new Error(`GET ${next}: ${res.status} ${JSON.stringify(res.body)}`);
    pages++;
    if (Array.isArray(res.body)) {
      items.push(...res.body);
      next = null;
    } else {
      items.push(...res.body.items);
      next = res.body._pagination.next?.url ?? null;
    }
  }
  return { items, pages };
}

/** dateutil.parser.parse + "naive means UTC". */
function parseDate(s: string): number {
  return Date.parse(/[zZ]|[+-]\d\d:?\d\d$/.test(s) ? s : s + 'Z');
}

/** LooseVersion comparison, as the culler decides whether to use the state filter. */
function versionAtLeast(v: string, min: string): boolean {
  const a = v.split(/[.-]/).map((x) => parseInt(x, 10) || 0);
  const b = min.split('.').map(Number);
  for (let i = 0; i < b.length; i++) if ((a[i] ?? 0) !== b[i]) return (a[i] ?? 0) > b[i]!;
  return true;
}

async function waitReady(th: TestHub, specs: Array<[string, string]>): Promise<void> {
  const until = Date.now() + 60_000;
  while (!specs.every(([u, s]) => [...th.hub.ctx.servers.all].some((rt) => rt.userName === u && rt.serverName === s && rt.ready))) {
    if (Date.now() > until) throw new Error('servers did not become ready');
    await new Promise((r) => setTimeout(r, 100));
  }
}

t.test('jupyterhub-idle-culler\'s calls, with its documented scopes', async (t) => {
  if (!need(t, hasSingleuser(), 'jupyterhub-singleuser (apt-get install jupyterhub python3-notebook)')) return;
  const th = await startTestHub(t, {
    config: {
      hub: { api_tokens: { [ADMIN_TOKEN]: 'admin' }, redirect_to_server: false, allow_named_servers: true },
      authenticator: { admin_users: ['admin'] },
      services: [{ name: 'idle-culler', api_token: CULLER_TOKEN }],
      load_roles: [{ name: 'idle-culler', scopes: ['list:users', 'read:users:activity', 'read:servers', 'delete:servers', 'admin:users'], services: ['idle-culler'] }],
    },
  });
  const url = `${th.publicUrl}/hub/api`;
  const auth = { authorization: `token ${CULLER_TOKEN}` };
  const admin = { authorization: `token ${ADMIN_TOKEN}`, 'content-type': 'application/json' };

  t.equal((await raw(`${url}/users`, { method: 'POST', headers: admin, body: JSON.stringify({ usernames: ['alice', 'bob', 'dave'] }) })).status, 201);
  for (const path of ['/users/alice/server', '/users/bob/servers/nb']) {
    const res = await raw(`${url}${path}`, { method: 'POST', headers: admin, body: '{}' });
    t.ok([201, 202].includes(res.status), `POST ${path}: ${res.status}`);
  }
  await waitReady(th, [['alice', ''], ['bob', 'nb']]);

  // 1. GET {url}/ (the culler sends its token; none is needed) -> version >= 1.3.0: use state filters.
  const root = await raw(`${url}/`, { headers: auth });
  t.equal(root.status, 200, 'GET /hub/api/');
  t.ok(versionAtLeast(root.body.version, '1.3.0'), `version ${root.body.version} is >= 1.3.0, so the culler filters by state`);
  t.equal((await raw(`${url}/`)).status, 200, 'without a token too');

  // 2. --cull-users: GET /users?state=inactive (paginated, limit=1 to force several pages).
  const inactive = await fetchPaginated(`${url}/users?state=inactive&limit=1`, CULLER_TOKEN);
  t.same(inactive.items.map((u) => u.name).sort(), ['admin', 'dave'], `state=inactive: users without active servers (${inactive.pages} pages followed verbatim)`);
  t.ok(inactive.pages >= 2, 'next.url is absolute and reachable');
  for (const u of inactive.items) {
    t.match(u, { name: String, admin: Boolean, created: String }, `${u.name}: the fields the culler reads`);
    t.ok('last_activity' in u && 'servers' in u, `${u.name}: last_activity and servers present`);
    t.same(u.servers, {}, `${u.name}: no servers`);
  }

  // 3. GET /users?state=ready, with the pagination Accept header.
  const ready = await fetchPaginated(`${url}/users?state=ready&limit=1`, CULLER_TOKEN);
  t.same(ready.items.map((u) => u.name).sort(), ['alice', 'bob'], `state=ready: users with a ready server (${ready.pages} pages)`);
  // Older culler versions (and --api-page-size 0 without Accept) read a bare list.
  const bare = await raw(`${url}/users?state=ready`, { headers: auth });
  t.ok(Array.isArray(bare.body) && bare.body.length === 2, 'without the Accept header: a bare list');

  // 4. The server fields handle_server reads.
  const now = Date.now();
  for (const user of ready.items) {
    for (const [name, server] of Object.entries<any>(user.servers)) {
      t.equal(server.name, name, `${user.name}/${name}: name`);
      t.equal(server.pending, null, 'pending is null (not skipped)');
      t.equal(server.ready, true, 'ready is true');
      t.match(server.url, /^\/user\//, 'url');
      const started = parseDate(server.started);
      const last = parseDate(server.last_activity);
      t.ok(started <= now && now - started < 120_000, `started parses (${server.started})`);
      t.ok(last >= started - 5000 && last <= now + 1000, `last_activity parses (${server.last_activity})`);
    }
  }
  t.ok(ready.items.find((u) => u.name === 'bob')?.servers.nb, 'named servers appear under their name');

  // 5. Stop the default server: DELETE .../server, no body -> 204 (202 means "slow to stop").
  const stopDefault = await raw(`${url}/users/alice/server`, { method: 'DELETE', headers: auth });
  t.ok([202, 204].includes(stopDefault.status), `DELETE /users/alice/server: ${stopDefault.status}`);
  // Named + --remove-named-servers: a JSON body without Content-Type (tornado sends none on DELETE).
  const removeNamed = await raw(`${url}/users/bob/servers/nb`, { method: 'DELETE', headers: auth, body: JSON.stringify({ remove: true }) });
  // JupyterHub's get_json_body reads the body whatever its Content-Type; so does tshub.
  t.ok([202, 204].includes(removeNamed.status), `DELETE /users/bob/servers/nb {"remove": true} without Content-Type: ${removeNamed.status} ${JSON.stringify(removeNamed.body)}`);
  const until = Date.now() + 20_000;
  let bob: Answer = { status: 0, body: null };
  while (Date.now() < until) {
    bob = await raw(`${url}/users/bob?include_stopped_servers=1`, { headers: auth });
    if (bob.body?.servers && !bob.body.servers.nb) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  t.same(bob.body.servers, {}, 'the named server is removed, not just stopped');
  const afterStop = await fetchPaginated(`${url}/users?state=ready`, CULLER_TOKEN);
  t.same(afterStop.items, [], 'no user has a ready server any more');

  // 6. User cull (all servers stopped): DELETE /users/:name -> 204.
  for (const name of ['dave', 'alice', 'bob']) {
    const del = await raw(`${url}/users/${name}`, { method: 'DELETE', headers: auth });
    t.equal(del.status, 204, `DELETE /users/${name}`);
    t.equal((await raw(`${url}/users/${name}`, { headers: auth })).status, 404, `${name} is gone`);
  }

  // What the culler must not be able to do with these scopes: start servers.
  const start = await raw(`${url}/users/admin/server`, { method: 'POST', headers: auth });
  t.equal(start.status, 403, 'its scopes do not allow starting servers');
});
