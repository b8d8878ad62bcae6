import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { BUILTIN_TEMPLATE_DIR, TemplateRenderer } from './template-renderer.js';

const common = {
  base_url: '/',
  hub_prefix: '/hub/',
  user: { name: 'alice@uni.edu', admin: true },
  version: '0.1.0',
  xsrf: 'xsrf-abc',
  announcement: null,
};

const server = (over: Record<string, unknown> = {}) => ({
  active: false,
  ready: false,
  pending: null,
  url: '/user/alice@uni.edu/',
  failed_message: null,
  ...over,
});

/** Realistic variables for every built-in page. */
const pages: Record<string, Record<string, unknown>> = {
  'login.html': {
    ...common,
    user: null,
    next: '/hub/user/alice/lab?x=1&y=2',
    username: 'alice',
    login_error: 'Invalid username or password',
    login_hint: 'Your university ID',
    login_kind: 'form',
    login_url: '/hub/oauth_login',
    login_service: 'GitHub',
  },
  'home.html': {
    ...common,
    spawn_url: '/hub/spawn',
    allow_named_servers: true,
    default_server: server({ active: true, ready: true }),
    named_servers: [
      { ...server({ active: true, pending: 'spawn' }), name: 'gpu' },
      { ...server({ failed_message: 'Spawn failed: timeout' }), name: 'scratch' },
      { ...server({ active: true, ready: true, pending: 'stop' }), name: 'old' },
    ],
  },
  'spawn.html': {
    ...common,
    user_name: 'alice@uni.edu',
    server_name: '',
    spawn_url: '/hub/spawn/alice%40uni.edu',
    options_form: '<label for="image">Image</label><select id="image" name="image"><option>python</option></select>',
    error: null,
  },
  'spawn-pending.html': {
    ...common,
    user_name: 'alice@uni.edu',
    server_name: 'gpu',
    progress_url: '/hub/api/users/alice%40uni.edu/servers/gpu/progress',
    server_url: '/user/alice@uni.edu/gpu/',
  },
  'not-running.html': {
    ...common,
    user_name: 'alice@uni.edu',
    server_name: '',
    spawn_url: '/hub/spawn/alice%40uni.edu',
    failed_message: null,
    implicit_spawn_seconds: 5,
  },
  'error.html': {
    ...common,
    status_code: 503,
    status_message: 'Service Unavailable',
    message: 'Proxy target missing',
    extra_html: '<b>ignored</b>',
    links: [],
  },
  'logout.html': { ...common, user: null, login_url: '/hub/login' },
  'setup-admin.html': {
    ...common,
    user: null,
    admin_name: 'admin',
    token: 'setup-token',
    error: null,
    minimum_password_length: 12,
  },
  'accept-share.html': {
    ...common,
    code: 'sharecode',
    owner: 'alice',
    server_name: '',
    accept_url: '/hub/accept-share',
    scopes: [{ scope: 'access:servers!server=alice/', text: 'Use this server' }],
    expires_at: '2026-12-01T00:00:00Z',
    error: null,
  },
  'signup.html': { ...common, user: null, minimum_password_length: 10, open_signup: false, error: 'The two passwords do not match.', username: 'alice', signup_status: null },
  'change-password.html': { ...common, minimum_password_length: 10, error: 'The current password is not correct.', changed: false },
  'authorize-users.html': {
    ...common, pending: [{ name: 'bob', created: '2026-11-01T10:00:00.000Z' }], locked: [{ name: 'dave', until: null }, { name: 'erin', until: '2026-11-22T14:00:00.000Z' }],
    minimum_password_length: 10, first_use: true, message: 'Approved alice: they can sign in now.', error: null,
  },
  'admin.html': {
    ...common,
    flash: { kind: 'info', text: 'Started bob\'s server.' },
    users: [
      {
        name: 'alice@uni.edu', admin: true, self: true, groups: [], last_activity: '2026-11-22T14:00:00Z', last_activity_text: '5 minutes ago',
        server: { name: '', status: 'running', url: '/user/alice@uni.edu/', failed_message: null }, named_servers: [],
      },
      {
        name: 'bob', admin: false, self: false, groups: ['physics', 'tas'], last_activity: null, last_activity_text: 'never',
        server: { name: '', status: 'failed', url: null, failed_message: 'Spawn failed: timeout' },
        named_servers: [{ name: 'gpu', status: 'starting', url: null, failed_message: null }, { name: 'old', status: 'stopped', url: null, failed_message: null }],
      },
    ],
    total: 120, page_count: 3, listing: { q: 'a', page: 2, sort: '-last_activity', state: '' }, back: 'q=a&page=2', admin_url: '/hub/admin',
    first_row: 51, last_row: 100, prev_url: '/hub/admin?q=a', next_url: '/hub/admin?q=a&page=3', first_url: '/hub/admin?q=a',
    sort_urls: { name: '/hub/admin?q=a', last_activity: '/hub/admin?q=a&sort=last_activity' },
    allow_named_servers: true, accounts_url: '/hub/authorize',
  },
  'admin-confirm-delete.html': {
    ...common,
    target: { name: 'bob', admin: false, servers: 2, running: 1 }, back: 'q=b', admin_url: '/hub/admin', cancel_url: '/hub/admin?q=b',
  },
  'oauth.html': {
    ...common,
    service_name: 'grader',
    scope_descriptions: ['read:users:groups!user=alice'],
    fields: [{ name: 'client_id', value: 'service-grader' }, { name: 'state', value: 'x"y' }],
  },
};

const VOID = new Set(['area', 'base', 'br', 'col', 'embed', 'hr', 'img', 'input', 'link', 'meta', 'source', 'track', 'wbr']);

/** Cheap structural HTML lint: balanced tags, unique ids, label/aria references resolve, scripts parse. */
function lint(html: string): string[] {
  const problems: string[] = [];
  if (!html.startsWith('<!DOCTYPE html>')) problems.push('missing doctype');
  if (!/<html lang="en">/.test(html)) problems.push('missing lang');
  if ((html.match(/<main\b/g) ?? []).length !== 1) problems.push('need exactly one <main>');
  if ((html.match(/<h1\b/g) ?? []).length !== 1) problems.push('need exactly one <h1>');
  for (const bad of ['undefined', '[object Object]', 'NaN']) {
    if (html.replace(/<script>[\s\S]*?<\/script>/g, '').includes(bad)) problems.push(`contains ${bad}`);
  }
  // Scripts must at least be syntactically valid.
  for (const m of html.matchAll(/<script>([\s\S]*?)<\/script>/g)) {
    try {
      new Function(m[1] ?? '');
    } catch (err) {
      problems.push(`script syntax: ${(err as Error).message}`);
    }
  }
  const body = html
    .replace(/<script>[\s\S]*?<\/script>/g, '<script></script>')
    .replace(/<style>[\s\S]*?<\/style>/g, '<style></style>')
    .replace(/<!--[\s\S]*?-->/g, '')
    .replace(/<!DOCTYPE html>/, '');
  const stack: string[] = [];
  for (const m of body.matchAll(/<(\/?)([a-zA-Z][a-zA-Z0-9-]*)\b[^>]*?(\/?)>/g)) {
    const [, closing, rawName, selfClosing] = m;
    const name = (rawName ?? '').toLowerCase();
    if (VOID.has(name) || selfClosing) continue;
    if (!closing) stack.push(name);
    else if (stack.pop() !== name) {
      problems.push(`unbalanced </${name}>`);
      break;
    }
  }
  if (stack.length) problems.push(`unclosed: ${stack.join(',')}`);
  const ids = [...body.matchAll(/\sid="([^"]*)"/g)].map((m) => m[1]);
  const idSet = new Set(ids);
  if (idSet.size !== ids.length) problems.push('duplicate ids');
  for (const m of body.matchAll(/\s(?:for|aria-describedby|aria-labelledby)="([^"]*)"/g)) {
    for (const ref of (m[1] ?? '').split(/\s+/)) if (!idSet.has(ref)) problems.push(`dangling reference #${ref}`);
  }
  for (const m of body.matchAll(/<a\b[^>]*>/g)) if (!/\shref="/.test(m[0])) problems.push(`<a> without href: ${m[0]}`);
  if (!body.includes('href="#main"') || !body.includes('id="main"')) problems.push('missing skip link');
  return problems;
}

t.test('every built-in template is covered and renders valid-looking HTML', async (t) => {
  const r = new TemplateRenderer();
  const builtins = readdirSync(BUILTIN_TEMPLATE_DIR).filter((f) => f.endsWith('.html') && f !== 'page.html');
  t.same(builtins.sort(), Object.keys(pages).sort(), 'test covers every page template');
  for (const [name, vars] of Object.entries(pages)) {
    const html = r.render(name, vars);
    t.same(lint(html), [], `${name} lints clean`);
  }
});

t.test('pages render with only the common variables (missing vars do not throw)', async (t) => {
  const r = new TemplateRenderer();
  for (const name of Object.keys(pages)) {
    const html = r.render(name, {});
    t.match(html, /<main id="main"/, name);
    t.notMatch(html.replace(/<script>[\s\S]*?<\/script>/g, ''), /undefined/, `${name} has no "undefined"`);
  }
});

t.test('autoescape: user-controlled values are escaped', async (t) => {
  const r = new TemplateRenderer();
  const evil = '<script>alert(1)</script>';
  const user = { name: evil, admin: false };
  const home = r.render('home.html', { ...pages['home.html'], user });
  t.notOk(home.includes(evil), 'user name escaped on home');
  t.ok(home.includes('&lt;script&gt;alert(1)&lt;/script&gt;'));
  t.ok(home.includes('data-api-user-url="/hub/api/users/%3Cscript%3Ealert(1)%3C%2Fscript%3E"'), 'urlencoded in API URL');
  const login = r.render('login.html', { ...pages['login.html'], username: '"><img src=x>', login_error: evil });
  t.notOk(login.includes('"><img'), 'attribute value escaped');
  t.notOk(login.includes(evil), 'login error escaped');
  const err = r.render('error.html', { ...pages['error.html'], message: evil, status_message: evil });
  t.notOk(err.includes(evil));
  t.notOk(err.includes('<b>ignored</b>'), 'extra_html is not rendered');
  const pending = r.render('spawn-pending.html', { ...pages['spawn-pending.html'], xsrf: '"x"' });
  t.ok(pending.includes('data-xsrf="&quot;x&quot;"'));
});

t.test('trusted HTML: options_form and announcement are not escaped', async (t) => {
  const r = new TemplateRenderer({ vars: { announcement: 'Maintenance <b>Friday</b>' } });
  const html = r.render('spawn.html', pages['spawn.html']!);
  t.ok(html.includes('<select id="image" name="image">'));
  t.ok(html.includes('action="/hub/spawn/alice%40uni.edu" method="post"'));
  t.ok(html.includes('name="_xsrf" value="xsrf-abc"'));
  // per-call announcement: null in pages[...] overrides constructor vars
  t.notOk(html.includes('<b>Friday</b>'));
  const html2 = r.render('spawn.html', { ...pages['spawn.html'], announcement: undefined });
  t.ok(html2.includes('<b>Friday</b>'), 'constructor vars apply when the call does not set them');
  const login = r.render('login.html', { ...pages['login.html'], announcement_login: 'Login <i>here</i>' });
  t.ok(login.includes('Login <i>here</i>'), 'per-page announcement');
});

t.test('login form posts to the hub with next encoded and the xsrf field', async (t) => {
  const r = new TemplateRenderer();
  const html = r.render('login.html', pages['login.html']!);
  t.ok(html.includes('action="/hub/login?next=%2Fhub%2Fuser%2Falice%2Flab%3Fx%3D1%26y%3D2"'));
  t.match(html, /name="username"[^>]*value="alice"[^>]*autocomplete="username"/);
  t.match(html, /name="password" type="password" autocomplete="current-password"/);
  t.match(html, /role="alert">Invalid username or password</);
  t.notMatch(html, /Sign in with/);
  const redirect = r.render('login.html', { ...pages['login.html'], login_kind: 'redirect', login_error: null, login_label: 'Sign in with GitHub' });
  t.match(redirect, /<a id="login-service" class="btn btn-primary btn-block" href="\/hub\/oauth_login">Sign in with GitHub<\/a>/);
  t.notMatch(redirect, /name="password"/);
});

t.test('header: admin link only for admins, logout link, no nav when logged out', async (t) => {
  const r = new TemplateRenderer();
  const admin = r.render('home.html', pages['home.html']!);
  t.ok(admin.includes('href="/hub/admin"'));
  t.ok(admin.includes('href="/hub/logout"'));
  t.ok(admin.includes('aria-current="page"'));
  const plain = r.render('home.html', { ...pages['home.html'], user: { name: 'bob', admin: false } });
  t.notOk(plain.includes('href="/hub/admin"'));
  const loggedOut = r.render('logout.html', pages['logout.html']!);
  t.notOk(loggedOut.includes('href="/hub/logout"'));
  t.ok(loggedOut.includes('You have been logged out'));
  t.ok(loggedOut.includes('href="/hub/login"'));
});

t.test('home: start link when stopped, server link and stop button when running', async (t) => {
  const r = new TemplateRenderer();
  const stopped = r.render('home.html', {
    ...pages['home.html'],
    allow_named_servers: false,
    default_server: server({ failed_message: 'Spawn failed: boom' }),
  });
  t.match(stopped, /<a id="start" class="btn btn-primary" href="\/hub\/spawn">Start My Server<\/a>/);
  t.notMatch(stopped, /Stop My Server/);
  t.match(stopped, /The last attempt to start your server failed: <span class="lines">Spawn failed: boom<\/span>/);
  t.notMatch(stopped, /Named servers/);
  const running = r.render('home.html', pages['home.html']!);
  t.match(running, /href="\/user\/alice@uni.edu\/">My Server<\/a>/);
  t.match(running, /Stop My Server/);
  t.ok(running.includes('"X-XSRFToken": xsrf'));
  t.ok(running.includes('credentials: "same-origin"'));
  t.ok(running.includes('data-xsrf="xsrf-abc"'));
  t.ok(running.includes('href="/hub/spawn-pending/alice%40uni.edu/gpu"'), 'pending named server links to progress');
  t.ok(running.includes('href="/hub/spawn/alice%40uni.edu/scratch"'), 'stopped named server start link');
});

t.test('spawn-pending carries the progress URL, xsrf and retry link', async (t) => {
  const r = new TemplateRenderer();
  const html = r.render('spawn-pending.html', pages['spawn-pending.html']!);
  t.ok(html.includes('data-progress-url="/hub/api/users/alice%40uni.edu/servers/gpu/progress"'));
  t.ok(html.includes('data-xsrf="xsrf-abc"'));
  t.ok(html.includes('data-server-url="/user/alice@uni.edu/gpu/"'));
  t.ok(html.includes("'_xsrf=' + encodeURIComponent(xsrf)".replace(/'/g, '"')), 'EventSource URL gets _xsrf');
  t.match(html, /new EventSource\(url\)/);
  t.match(html, /<progress id="progress-bar" max="100" value="0">/);
  t.match(html, /aria-live="polite"/);
  t.ok(html.includes('href="/hub/spawn/alice%40uni.edu/gpu">Try again'));
  t.ok(html.includes('href="/hub/home">Home'));
  t.notMatch(html, /innerHTML|html_message\s*[;)]/, 'event HTML is never injected');
  t.match(html, /<noscript>/);
  const dflt = r.render('spawn-pending.html', { ...pages['spawn-pending.html'], server_name: '' });
  t.ok(dflt.includes('href="/hub/spawn/alice%40uni.edu">Try again'));
});

t.test('not-running: failure message, launch link, implicit spawn countdown', async (t) => {
  const r = new TemplateRenderer();
  const html = r.render('not-running.html', pages['not-running.html']!);
  t.match(html, /<h1>Server not running<\/h1>/);
  t.match(html, /href="\/hub\/spawn\/alice%40uni.edu">Launch Server<\/a>/);
  t.match(html, /data-seconds="5"/);
  t.match(html, /<meta http-equiv="refresh" content="5;url=\/hub\/spawn\/alice%40uni.edu">/);
  const failed = r.render('not-running.html', { ...pages['not-running.html'], failed_message: 'Spawn failed: <oops>' });
  t.match(failed, /The last attempt to start your server failed: <span class="lines">Spawn failed: &lt;oops&gt;<\/span>/);
  t.notMatch(failed, /data-seconds=/, 'no implicit spawn after a failure');
  const noAuto = r.render('not-running.html', { ...pages['not-running.html'], implicit_spawn_seconds: 0 });
  t.notMatch(noAuto, /countdown|http-equiv="refresh"/);
});

t.test('error page: friendly text per status, links', async (t) => {
  const r = new TemplateRenderer();
  const cases: [number, RegExp][] = [
    [403, /permission/],
    [404, /couldn’t find/],
    [424, /not running/],
    [429, /Too many requests/],
    [500, /Something went wrong/],
    [503, /Your server appears to be down. Try restarting it from the hub/],
  ];
  for (const [code, re] of cases) {
    const html = r.render('error.html', { ...pages['error.html'], status_code: code, message: null });
    t.match(html, re, String(code));
    t.match(html, new RegExp(`<title>${code} `));
  }
  const linked = r.render('error.html', {
    ...pages['error.html'],
    links: [{ href: '/hub/home', text: 'Back home' }, { href: '/hub/login', text: 'Log in' }],
  });
  t.match(linked, /href="\/hub\/home">Back home<\/a>/);
  t.match(linked, /href="\/hub\/login">Log in<\/a>/);
  t.match(linked, /role="alert">.*Proxy target missing/);
});

t.test('setup-admin posts the token, passwords and xsrf', async (t) => {
  const r = new TemplateRenderer();
  const html = r.render('setup-admin.html', { ...pages['setup-admin.html'], error: 'Passwords do not match' });
  t.match(html, /action="\/hub\/setup-admin" method="post"/);
  t.match(html, /name="token" value="setup-token"/);
  t.match(html, /name="_xsrf" value="xsrf-abc"/);
  t.match(html, /name="password" type="password" autocomplete="new-password"\s+required minlength="12"/);
  t.match(html, /name="password_confirm"/);
  t.match(html, /role="alert">Passwords do not match</);
});

t.test('template_paths: deployment directories override built-in templates', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tshub-templates-'));
  const dir2 = mkdtempSync(join(tmpdir(), 'tshub-templates-'));
  writeFileSync(join(dir, 'login.html'), 'CUSTOM LOGIN for {{ username }} at {{ hub_prefix }} {{ course }}');
  writeFileSync(join(dir2, 'login.html'), 'SHADOWED');
  writeFileSync(
    join(dir, 'page.html'),
    '{% extends "templates/page.html" %}{% block footer %}<footer>My University</footer>{% endblock %}',
  );
  writeFileSync(
    join(dir, 'logout.html'),
    '{% extends "templates/logout.html" %}{% block main %}<h1>Bye {{ user_label }}</h1>{{ super() }}{% endblock %}',
  );
  const r = new TemplateRenderer({ templatePaths: [dir, dir2], vars: { course: 'CS101', user_label: 'x' } });
  t.equal(r.render('login.html', { username: '<b>' }), 'CUSTOM LOGIN for &lt;b&gt; at /hub/ CS101');
  const home = r.render('home.html', pages['home.html']!);
  t.match(home, /<footer>My University<\/footer>/, 'built-in pages use the overridden layout');
  t.notMatch(home, /tshub 0\.1\.0/);
  const logout = r.render('logout.html', { user_label: 'y' });
  t.match(logout, /<h1>Bye y<\/h1>/, 'per-call vars win over constructor vars');
  t.match(logout, /You have been logged out/, 'super() reaches the built-in block');
  t.match(logout, /<footer>My University<\/footer>/);
  // No override: the built-in renderer is untouched.
  t.match(new TemplateRenderer().render('login.html', pages['login.html']!), /<h1>Sign in<\/h1>/);
});

t.test('urlencode encodes path-segment characters like encodeURIComponent', async (t) => {
  const r = new TemplateRenderer();
  const out = r.env.renderString('{{ a | urlencode }}|{{ n | urlencode }}|{{ u | urlencode }}|{{ o | urlencode }}', {
    a: 'a@b/c d?#&é',
    n: 42,
    u: undefined,
    o: { x: '1 2', y: '/' },
  });
  t.equal(out, `${encodeURIComponent('a@b/c d?#&é')}|42||x=1%202&amp;y=%2F`);
});
