// A person's first visit to a hub started by the README's start line: open the one-time admin link
// from the log, set the password, start the server, reach it through the proxy, log out, log in
// again with the new password. Prints "N passed, N failed"; exits non-zero on any failure.
import { readFileSync } from 'node:fs';
import { CookieJar } from 'tough-cookie';

const log = readFileSync(process.argv[2], 'utf8');
const link = /(https?:\/\/\S+?\/hub\/setup-admin\?token=[A-Za-z0-9_-]+)/.exec(log)?.[1];
const jar = new CookieJar();
let passed = 0;
let failed = 0;
const check = (ok, what) => {
  console.log(`${ok ? 'ok' : 'not ok'} - ${what}`);
  ok ? passed++ : failed++;
};

async function request(url, init = {}) {
  const headers = new Headers(init.headers);
  const cookie = await jar.getCookieString(url);
  if (cookie) headers.set('cookie', cookie);
  const res = await fetch(url, { ...init, headers, redirect: 'manual' });
  for (const c of res.headers.getSetCookie()) await jar.setCookie(c, url, { ignoreError: true });
  return { status: res.status, url, location: res.headers.get('location'), text: await res.text() };
}

async function follow(url, init) {
  let res = await request(url, init);
  for (let i = 0; i < 40; i++) {
    if (res.location) res = await request(new URL(res.location, res.url).href);
    else if (res.status === 200 && res.url.includes('/hub/spawn-pending/')) {
      await new Promise((r) => setTimeout(r, 300));
      res = await request(res.url);
    } else break;
  }
  return res;
}

const form = (page, fields) => {
  const xsrf = /name="_xsrf" value="([^"]*)"/.exec(page.text)?.[1] ?? '';
  return { method: 'POST', body: new URLSearchParams({ ...fields, _xsrf: xsrf }), headers: { 'content-type': 'application/x-www-form-urlencoded' } };
};

check(Boolean(link), 'the hub printed a one-time admin set-up link');
const origin = new URL(link).origin;
check(origin === 'http://127.0.0.1:8000', `the hub is at http://127.0.0.1:8000 (${origin})`);
const setup = await request(link);
check(setup.status === 200 && /password/i.test(setup.text), 'the link opens the set-up page');
const password = 'correct horse battery staple';
const done = await follow(link.split('?')[0], form(setup, { token: new URL(link).searchParams.get('token'), password, password_confirm: password }));
check(done.status === 200 && done.url.endsWith('/hub/home'), `setting the password logs the admin in (${done.status} ${done.url})`);
const server = await follow(`${origin}/hub/spawn`);
check(server.status === 200 && new URL(server.url).pathname.startsWith('/user/admin/'), `the admin lands in a running notebook server (${server.status} ${server.url})`);
const status = await request(`${origin}/user/admin/api/status`);
check(status.status === 200, 'its API answers through the proxy');
await follow(`${origin}/hub/logout`);
const loginPage = await follow(`${origin}/hub/home`);
check(loginPage.url.includes('/hub/login'), 'after logout the hub asks for a login');
const again = await follow(`${origin}/hub/login?next=%2Fhub%2Fhome`, form(loginPage, { username: 'admin', password }));
check(again.status === 200 && again.url.endsWith('/hub/home'), 'logging in with the new password works');
const reused = await request(link);
check(reused.status === 404, 'the one-time link cannot be used again');
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
