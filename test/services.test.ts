import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { pino } from 'pino';
import { buildHub, defaultRegistry, validateConfig, type Hub } from '@tshub/hub';
import { BrowserClient, type Page } from './support/browser-client.js';
import { freePort } from './support/free-port.js';
import { need } from './support/requirements.js';
import { startTestHub, type TestHub } from './support/test-hub.js';

const ADMIN = 'a'.repeat(32);
const BOT = 'b'.repeat(32);
const READER = 'r'.repeat(32);
const EXT = 'e'.repeat(32);
const RUNTIME = 'x'.repeat(32);

/**
 * A tiny HubOAuth service, written the way JupyterHub's docs show (Debian's jupyterhub 3.0 client
 * library): `<prefix>` answers the visitor's hub identity as JSON, `<prefix>oauth_callback` finishes
 * the OAuth login, `<prefix>env` shows the JUPYTERHUB_* environment it got (token redacted).
 * The cookie secret is new at every start, so a restarted service must send visitors through OAuth again.
 */
const SERVICE_PY = String.raw`
import json, os, secrets
from urllib.parse import urlparse
from tornado import ioloop, web
from jupyterhub.services.auth import HubOAuthenticated, HubOAuthCallbackHandler
from jupyterhub.utils import url_path_join

class WhoAmI(HubOAuthenticated, web.RequestHandler):
    @web.authenticated
    def get(self):
        self.set_header("Content-Type", "application/json")
        self.write(json.dumps(self.get_current_user(), sort_keys=True))

class Env(web.RequestHandler):
    def get(self):
        env = {k: v for k, v in os.environ.items() if k.startswith("JUPYTERHUB_") or k in ("JPY_API_TOKEN", "SERVICE_GREETING", "PATH")}
        for k in ("JUPYTERHUB_API_TOKEN", "JPY_API_TOKEN"):
            if k in env:
                env[k] = "<%d chars>" % len(env[k])
        self.set_header("Content-Type", "application/json")
        self.write(json.dumps({"env": env, "cwd": os.getcwd(), "pid": os.getpid()}))

prefix = os.environ["JUPYTERHUB_SERVICE_PREFIX"]
port = urlparse(os.environ["JUPYTERHUB_SERVICE_URL"]).port
app = web.Application(
    [
        (prefix, WhoAmI),
        (url_path_join(prefix, "oauth_callback"), HubOAuthCallbackHandler),
        (url_path_join(prefix, "env"), Env),
    ],
    cookie_secret=secrets.token_bytes(32),
)
app.listen(port, "127.0.0.1")
print("whoami service listening on port %d" % port, flush=True)
ioloop.IOLoop.current().start()
`;

interface Res {
  status: number;
  body: any;
}

function api(th: TestHub, token: string | null) {
  return async (method: string, p: string, body?: unknown): Promise<Res> => {
    const headers: Record<string, string> = {};
    if (token) headers.authorization = `token ${token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`${th.publicUrl}/hub/api${p}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // not JSON
    }
    return { status: res.status, body: parsed };
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Retries `fn` until it returns a value (not undefined) or `ms` pass. */
async function eventually<T>(ms: number, fn: () => Promise<T | undefined>): Promise<T | undefined> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined || Date.now() > end) return v;
    await sleep(200);
  }
}

const unescapeHtml = (s: string) => s.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');

/** The hidden fields of the OAuth confirmation form. */
function hiddenFields(page: Page): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of page.text.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) out[m[1]!] = unescapeHtml(m[2]!);
  return out;
}

async function servicesHub(t: Test) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tshub-service-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const script = path.join(dir, 'whoami.py');
  writeFileSync(script, SERVICE_PY);
  const port = await freePort();
  const th = await startTestHub(t, {
    config: {
      hub: { api_tokens: { [ADMIN]: 'root' }, redirect_to_server: false },
      authenticator: { admin_users: ['root'] },
      services: [
        { name: 'whoami', url: `http://127.0.0.1:${port}`, command: ['/usr/bin/python3', script], cwd: dir, environment: { SERVICE_GREETING: 'hello' } },
        { name: 'bot', api_token: BOT, admin: false },
        { name: 'reader', api_token: READER },
        { name: 'ext', url: 'http://127.0.0.1:9', api_token: EXT, oauth_no_confirm: true, info: { purpose: 'tests' }, display: false },
      ],
      load_roles: [
        // JupyterHub users do not hold access:services by default; a deployment grants it.
        { name: 'service-users', scopes: ['access:services'], users: ['student'] },
        { name: 'user-reader', scopes: ['read:users', 'list:users'], services: ['reader'] },
      ],
    },
  });
  return { th, port, script, dir };
}

t.test('a managed HubOAuth service behind the proxy, its API and tokens', async (t) => {
  const { th, script, dir } = await servicesHub(t);
  const admin = api(th, ADMIN);

  // The hub starts the service; wait until it answers through the proxy.
  const envPage = await eventually(20_000, async () => {
    const r = await fetch(`${th.publicUrl}/services/whoami/env`);
    return r.status === 200 ? ((await r.json()) as { env: Record<string, string>; cwd: string; pid: number }) : undefined;
  });
  t.ok(envPage, 'the managed service answers through the proxy at /services/whoami/');
  if (!envPage) {
    const log = path.join(th.dataDir, 'service-logs', 'whoami.log');
    t.comment(existsSync(log) ? readFileSync(log, 'utf8') : 'no service log');
    return;
  }

  await t.test('the service environment (JupyterHub _ServiceSpawner)', async (t) => {
    const env = envPage.env;
    t.equal(env.JUPYTERHUB_SERVICE_NAME, 'whoami');
    t.equal(env.JUPYTERHUB_CLIENT_ID, 'service-whoami');
    t.equal(env.JUPYTERHUB_SERVICE_PREFIX, '/services/whoami/');
    t.match(env.JUPYTERHUB_SERVICE_URL, /^http:\/\/127\.0\.0\.1:\d+$/);
    t.equal(env.JUPYTERHUB_OAUTH_CALLBACK_URL, '/services/whoami/oauth_callback');
    t.same(JSON.parse(env.JUPYTERHUB_OAUTH_ACCESS_SCOPES!), ['access:services', 'access:services!service=whoami']);
    t.same(JSON.parse(env.JUPYTERHUB_OAUTH_CLIENT_ALLOWED_SCOPES!), ['access:services!service=whoami']);
    t.equal(env.JUPYTERHUB_API_URL, `${th.hubUrl}/hub/api`);
    t.equal(env.JUPYTERHUB_BASE_URL, '/');
    t.equal(env.JUPYTERHUB_HOST, '');
    t.equal(env.JUPYTERHUB_USER, '');
    t.equal(env.JUPYTERHUB_API_TOKEN, '<32 chars>', 'a generated token');
    t.equal(env.JPY_API_TOKEN, '<32 chars>');
    t.notOk('JUPYTERHUB_ACTIVITY_URL' in env, 'services get no activity URL');
    t.equal(env.SERVICE_GREETING, 'hello', 'spec.environment is applied');
    t.ok(env.PATH, 'PATH is kept from the hub');
    t.equal(envPage.cwd, dir, 'cwd from the spec');
    const log = readFileSync(path.join(th.dataDir, 'service-logs', 'whoami.log'), 'utf8');
    t.match(log, /whoami service listening/, 'output goes to data_dir/service-logs/<name>.log');
  });

  await t.test('GET /services and /services/:name', async (t) => {
    const list = await admin('GET', '/services');
    t.equal(list.status, 200);
    t.same(Object.keys(list.body).sort(), ['bot', 'ext', 'reader', 'whoami'], 'an object keyed by name');
    t.same(list.body.whoami, {
      kind: 'service', name: 'whoami', admin: false, roles: [], url: list.body.whoami.url, prefix: '/services/whoami/',
      command: ['/usr/bin/python3', script], pid: envPage.pid, info: {}, display: true,
    }, 'the full model, with the pid of the managed process');
    const ext = await admin('GET', '/services/ext');
    t.equal(ext.status, 200);
    t.same(ext.body, { kind: 'service', name: 'ext', admin: false, roles: [], url: 'http://127.0.0.1:9', prefix: '/services/ext/', command: [], pid: 0, info: { purpose: 'tests' }, display: false });
    const reader = await admin('GET', '/services/reader');
    t.same(reader.body, { kind: 'service', name: 'reader', admin: false, roles: ['user-reader'], url: '', prefix: '', command: [], pid: 0, info: {}, display: true }, 'no url: empty prefix; roles listed');
    t.same((await admin('GET', '/services/nope')).body, { status: 404, message: 'Service nope does not exist' });
    t.equal((await api(th, BOT)('GET', '/services')).status, 403, 'a service without list:services');
    t.equal((await api(th, null)('GET', '/services')).status, 403, 'no credentials');
    const self = await api(th, BOT)('GET', '/services/bot');
    t.equal(self.status, 200, 'a service may read its own name (its identify scope)');
    t.same(self.body, { kind: 'service', name: 'bot', admin: false }, 'read:services:name shows kind, name, admin only');
    t.equal((await api(th, BOT)('GET', '/services/reader')).status, 404, 'but not other services');
  });

  await t.test('service tokens identify the service, with its roles', async (t) => {
    const bot = api(th, BOT);
    const reader = api(th, READER);
    const me = await bot('GET', '/user');
    t.equal(me.status, 200);
    t.match(me.body, { kind: 'service', name: 'bot', admin: false });
    t.equal((await admin('POST', '/users/alice')).status, 201);
    t.equal((await reader('GET', '/users/alice')).status, 200, 'a role with read:users lets the service read users');
    t.equal((await reader('GET', '/users')).status, 200, 'and list them');
    t.match((await reader('GET', '/user')).body, { kind: 'service', name: 'reader' });
    t.ok([403, 404].includes((await bot('GET', '/users/alice')).status), 'without the role it cannot');
    t.equal((await bot('GET', '/users')).status, 403);
  });

  await t.test('runtime services: POST and DELETE', async (t) => {
    const body = { url: 'http://127.0.0.1:9', api_token: RUNTIME, info: { added: 'at runtime' } };
    const created = await admin('POST', '/services/rt', body);
    t.equal(created.status, 201);
    t.same(created.body, { kind: 'service', name: 'rt', admin: false, roles: [], url: 'http://127.0.0.1:9', prefix: '/services/rt/', command: [], pid: 0, info: { added: 'at runtime' }, display: true });
    t.equal((await admin('POST', '/services/rt', body)).status, 409, 'exists');
    t.equal((await admin('POST', '/services/whoami', {})).status, 409, 'a config service exists too');
    const managed = await admin('POST', '/services/m', { command: ['sleep', '100'] });
    t.equal(managed.status, 400, 'managed services cannot be created at runtime');
    t.equal((await admin('POST', '/services/bad', { colour: 'red' })).status, 400, 'unknown keys');
    t.equal((await admin('POST', '/services/bad', { oauth_no_confirm: true })).status, 400, 'OAuth config without url or redirect URI');
    t.equal((await api(th, BOT)('POST', '/services/nope', {})).status, 403, 'needs admin:services');
    t.match((await api(th, RUNTIME)('GET', '/user')).body, { kind: 'service', name: 'rt' }, 'its api_token works');
    const routes = await admin('GET', '/proxy');
    t.match(routes.body['/services/rt/'], { routespec: '/services/rt/', target: 'http://127.0.0.1:9', data: { service: 'rt' } }, 'routed at once');
    t.match(routes.body['/services/whoami/'], { data: { service: 'whoami' } });

    t.equal((await admin('DELETE', '/services/whoami')).status, 405, 'config services cannot be deleted');
    t.equal((await admin('DELETE', '/services/nope')).status, 404);
    t.equal((await api(th, BOT)('DELETE', '/services/rt')).status, 403);
    t.equal((await admin('DELETE', '/services/rt')).status, 200);
    t.equal((await admin('GET', '/services/rt')).status, 404, 'gone');
    t.equal((await api(th, RUNTIME)('GET', '/user')).status, 403, 'its token is revoked');
    t.notOk((await admin('GET', '/proxy')).body['/services/rt/'], 'its route is removed');
  });

  await t.test('OAuth through the real proxy: confirmation, identity, anonymous, forbidden', async (t) => {
    const anon = new BrowserClient(th.publicUrl);
    const anonPage = await anon.get('/services/whoami/');
    t.equal(anonPage.status, 200);
    t.match(new URL(anonPage.url).pathname, /^\/hub\/login/, 'an anonymous visitor is sent to the hub login');

    const student = new BrowserClient(th.publicUrl);
    await student.login('student');
    const confirm = await student.get('/services/whoami/');
    t.equal(confirm.status, 200);
    t.match(new URL(confirm.url).pathname, '/hub/api/oauth2/authorize');
    t.match(confirm.text, /whoami<\/strong> would like to know your identity \(user name and groups\)/, 'the confirmation page');
    t.notMatch(confirm.headers.get('content-security-policy') ?? '', /frame-ancestors 'self'/, 'the consent page cannot be framed');
    const fields = hiddenFields(confirm);
    t.match(fields, { client_id: 'service-whoami', redirect_uri: '/services/whoami/oauth_callback', response_type: 'code' });
    t.ok(fields.state && fields._xsrf, 'state and _xsrf are carried');

    const noXsrf = await student.request('/hub/api/oauth2/authorize', {
      method: 'POST', body: new URLSearchParams({ ...fields, _xsrf: 'forged' }), headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    t.equal(noXsrf.status, 403, 'the form needs the right _xsrf');

    const { _xsrf, ...rest } = fields;
    const done = await student.submit(confirm, '/hub/api/oauth2/authorize', rest);
    t.equal(done.status, 200, `authorized: ${student.hops.slice(-5).join(' -> ')}`);
    t.equal(new URL(done.url).pathname, '/services/whoami/');
    const who = JSON.parse(done.text);
    t.match(who, { kind: 'user', name: 'student' }, 'the service sees the student');
    t.ok(who.scopes.includes('access:services!service=whoami'), 'through an access:services token');

    const again = await student.get('/services/whoami/');
    t.equal(again.status, 200);
    t.equal(JSON.parse(again.text).name, 'student', 'the service cookie identifies the student from now on');

    const outsider = new BrowserClient(th.publicUrl);
    await outsider.login('outsider');
    const denied = await outsider.get('/services/whoami/');
    t.equal(denied.status, 403, 'a user without access:services gets the 403 page');
    t.match(denied.text, /do not have permission to access the service whoami/);
  });

  await t.test('oauth_no_confirm skips the page; the code is exchanged with the service token', async (t) => {
    const student = new BrowserClient(th.publicUrl);
    await student.login('student');
    const res = await student.request('/hub/api/oauth2/authorize?client_id=service-ext&redirect_uri=%2Fservices%2Fext%2Foauth_callback&response_type=code&state=s1');
    t.equal(res.status, 302);
    const loc = new URL(res.headers.get('location') ?? '', th.publicUrl);
    t.equal(loc.pathname, '/services/ext/oauth_callback');
    t.equal(loc.searchParams.get('state'), 's1');
    const code = loc.searchParams.get('code') ?? '';
    const form = { client_id: 'service-ext', client_secret: EXT, grant_type: 'authorization_code', code, redirect_uri: '/services/ext/oauth_callback' };
    const wrong = await fetch(`${th.publicUrl}/hub/api/oauth2/token`, { method: 'POST', body: new URLSearchParams({ ...form, client_secret: 'nope-nope' }) });
    t.equal(wrong.status, 401, 'a wrong secret is refused');
    const tok = await fetch(`${th.publicUrl}/hub/api/oauth2/token`, { method: 'POST', body: new URLSearchParams(form) });
    t.equal(tok.status, 200);
    const { access_token } = (await tok.json()) as { access_token: string };
    const me = await api(th, access_token)('GET', '/user');
    t.match(me.body, { kind: 'user', name: 'student' });
    t.same(me.body.scopes, ['access:services!service=ext'], 'only the access scope for this service');
  });

  await t.test('a killed service is restarted and serves again', async (t) => {
    const student = new BrowserClient(th.publicUrl);
    await student.login('student');
    const first = await student.get('/services/whoami/');
    // The student authorized the service before: no confirmation page this time.
    t.equal(new URL(first.url).pathname, '/services/whoami/', 'an earlier authorization skips the confirmation');
    const before = (await admin('GET', '/services/whoami')).body.pid as number;
    t.ok(before > 0);
    process.kill(before, 'SIGKILL');
    const t0 = Date.now();
    const after = await eventually(10_000, async () => {
      const pid = (await admin('GET', '/services/whoami')).body.pid as number;
      return pid > 0 && pid !== before ? pid : undefined;
    });
    t.ok(after, 'a new process');
    const page = await eventually(10_000, async () => {
      const p = await student.get('/services/whoami/');
      return p.status === 200 && new URL(p.url).pathname === '/services/whoami/' ? p : undefined;
    });
    t.ok(page, `serves again after ${Date.now() - t0} ms`);
    if (page) t.equal(JSON.parse(page.text).name, 'student', 'and identifies the student (through OAuth again: new cookie secret)');

    await th.stop();
    let alive = true;
    try {
      process.kill(after!, 0);
    } catch {
      alive = false;
    }
    t.notOk(alive, 'the hub stops its services on shutdown');
  });
});

t.test('start-up errors, config sync, roles', async (t) => {
  await t.test('OAuth config without url or redirect URI is a start-up error', async (t) => {
    await t.rejects(startTestHub(t, { config: { services: [{ name: 'bad', oauth_no_confirm: true, api_token: EXT }] } }), /neither a url nor an oauth_redirect_uri/);
  });
  await t.test(
    "extending the default 'user' role with access:services (JupyterHub's documented way) reaches every user",
    async (t) => {
      const CAROL = 'c'.repeat(32);
      const th = await startTestHub(t, {
        config: { hub: { api_tokens: { [CAROL]: 'carol' } }, load_roles: [{ name: 'user', scopes: ['self', 'access:services'] }] },
      });
      const me = await api(th, CAROL)('GET', '/user');
      t.equal(me.status, 200);
      t.ok((me.body.scopes as string[]).includes('access:services'), `scopes: ${JSON.stringify(me.body.scopes)}`);
    },
  );
  await t.test('config sync across restarts: tokens replaced, removed services deleted, runtime ones kept', async (t) => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'tshub-service-sync-'));
    t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
    const build = async (services: Array<Record<string, unknown>>) => {
      const result = validateConfig({ hub: { data_dir: dataDir, db_url: `pglite:${path.join(dataDir, 'db')}` }, authenticator: { kind: 'dummy' }, services }, defaultRegistry());
      if (!result.ok) throw new Error(result.errors.join('; '));
      return buildHub({ config: result.config, logger: pino({ level: 'silent' }) });
    };
    const tokenRows = (hub: Hub) => hub.ctx.db.selectFrom('api_tokens').select(['service_name', 'note', 'hashed']).where('user_id', 'is', null).orderBy('service_name').execute();
    const clients = (hub: Hub) => hub.ctx.db.selectFrom('oauth_clients').select(['identifier', 'service_name', 'redirect_uri', 'allowed_scopes']).orderBy('identifier').execute();

    let hub = await build([
      { name: 'bot', api_token: BOT },
      { name: 'gone', api_token: EXT, url: 'http://127.0.0.1:9' },
      { name: 'cron', command: ['true'] },
    ]);
    const first = await tokenRows(hub);
    t.same(first.map((r) => [r.service_name, r.note]), [['bot', 'from config'], ['cron', 'generated at startup'], ['gone', 'from config']]);
    t.same(await clients(hub), [
      { identifier: 'service-gone', service_name: 'gone', redirect_uri: '/services/gone/oauth_callback', allowed_scopes: ['access:services!service=gone'] },
    ], 'an OAuth client only for the service with a url');
    await hub.ctx.db.insertInto('services').values({ name: 'runtime', from_config: false }).execute();
    await hub.close();

    hub = await build([
      { name: 'bot', api_token: READER, oauth_redirect_uri: 'https://example.org/cb', oauth_client_allowed_scopes: ['read:users:name'] },
      { name: 'cron', command: ['true'] },
    ]);
    const second = await tokenRows(hub);
    t.same(second.map((r) => [r.service_name, r.note]), [['bot', 'from config'], ['cron', 'generated at startup']], 'the removed service and its token are gone');
    t.not(second[0]!.hashed, first[0]!.hashed, 'the changed api_token replaced the old one');
    t.not(second[1]!.hashed, first[1]!.hashed, 'a managed service gets a fresh token every start');
    t.same(await clients(hub), [
      { identifier: 'service-bot', service_name: 'bot', redirect_uri: 'https://example.org/cb', allowed_scopes: ['access:services!service=bot', 'read:users:name'] },
    ], 'explicit OAuth config without a url; the removed service\'s client is gone');
    const names = (await hub.ctx.db.selectFrom('services').select(['name', 'from_config']).orderBy('name').execute()).map((r) => [r.name, r.from_config]);
    t.same(names, [['bot', true], ['cron', true], ['runtime', false]], 'runtime services survive a restart');
    await hub.close();
  });
});

t.test('a managed service with `user` runs as that system account (the hub runs as root)', async (t) => {
  if (!need(t, process.getuid?.() === 0, 'root (only root can start a process as another account)')) return;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tshub-service-user-'));
  chmodSync(dir, 0o777);
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const out = path.join(dir, 'id');
  const th = await startTestHub(t, {
    config: {
      hub: { api_tokens: { [ADMIN]: 'root' } },
      authenticator: { admin_users: ['root'] },
      services: [
        { name: 'as-nobody', user: 'nobody', command: ['/bin/sh', '-c', `echo "$(id -u) $HOME $USER" > ${out}; exec sleep 60`] },
        { name: 'as-nobody-at-all', user: 'tshubnosuchaccount', command: ['/bin/sh', '-c', 'exec sleep 60'] },
      ],
    },
  });
  const line = await eventually(15_000, async () => (existsSync(out) ? readFileSync(out, 'utf8').trim() || undefined : undefined));
  const nobody = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('nobody:'))!.split(':');
  t.equal(line, `${nobody[2]} ${nobody[5]} nobody`, "the process runs with nobody's uid, HOME and USER");
  const missing = await api(th, ADMIN)('GET', '/services/as-nobody-at-all');
  t.equal(missing.body.pid, 0, 'a service whose account does not exist is not started');
  t.not((await api(th, ADMIN)('GET', '/services/as-nobody')).body.pid, 0, 'the other one is');
});
