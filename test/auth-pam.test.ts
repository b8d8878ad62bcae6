// `kind: pam` against the real PAM stack (Debian's python3-pamela, service `login`, the hub as root):
// throwaway system users and groups are created with useradd/groupadd/chpasswd and removed at teardown.
// The right password logs in through the hub's form, a wrong one gets the usual message, a member of
// admin_groups becomes admin, and allowed_groups refuses someone outside the group with a 403 page.
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import t, { type Test } from 'tap';
// The kind is not exported from @tshub/authenticator-local's index yet; the built module is used directly.
import { pamAuthenticator } from '@tshub/authenticator-local';
import { BrowserClient, type Page } from './support/browser-client.js';
import { recordingSpawner } from './support/recording-spawner.js';
import { startAuthHub } from './support/auth-test-hub.js';
import { need } from './support/requirements.js';

const hasPamela = () => spawnSync('/usr/bin/python3', ['-I', '-c', 'import pamela'], { stdio: 'ignore' }).status === 0;
const isRoot = () => process.getuid?.() === 0;
const hasUseradd = () => ['useradd', 'usermod', 'userdel', 'groupadd', 'groupdel', 'chpasswd'].every((c) => spawnSync('sh', ['-c', `command -v ${c}`], { stdio: 'ignore' }).status === 0);

const textOf = (page: Page) => page.text.replace(/<[^>]*>/g, ' ').replace(/&#39;|&#x27;/g, "'").replace(/\s+/g, ' ');

t.test('pam: real system accounts through the login form', async (t) => {
  if (!need(t, hasPamela(), 'python3-pamela for /usr/bin/python3 (apt-get install python3-pamela)')) return;
  if (!need(t, isRoot() && hasUseradd(), 'root with useradd/usermod/groupadd/chpasswd (the pam test creates system users)')) return;

  const tag = randomBytes(4).toString('hex');
  const [student, teacher, outsider, expired] = ['s', 't', 'o', 'e'].map((r) => `tshubpam${tag}${r}`) as [string, string, string, string];
  const [allowedGroup, adminGroup] = [`tshubpamg${tag}a`, `tshubpamg${tag}d`];
  const passwords = { [student]: `stu-${randomBytes(6).toString('hex')}`, [teacher]: `tea-${randomBytes(6).toString('hex')}`, [outsider]: `out-${randomBytes(6).toString('hex')}`,
    [expired]: `exp-${randomBytes(6).toString('hex')}` };
  const users: string[] = [];
  const groups: string[] = [];
  t.teardown(() => {
    for (const u of users) spawnSync('userdel', ['-r', u], { stdio: 'ignore' });
    for (const g of groups) spawnSync('groupdel', [g], { stdio: 'ignore' });
  });
  for (const g of [allowedGroup, adminGroup]) {
    groups.push(g);
    execFileSync('groupadd', [g]);
  }
  for (const [name, group] of [[student, allowedGroup], [teacher, adminGroup], [outsider, null], [expired, allowedGroup]] as const) {
    users.push(name);
    execFileSync('useradd', ['-m', '-s', '/bin/sh', ...(group ? ['-G', group] : []), name]);
    execFileSync('chpasswd', { input: `${name}:${passwords[name]}\n` });
  }
  // Expired in 1970: the password is right, PAM's account stack (check_account) says no.
  execFileSync('usermod', ['-e', '1970-01-02', expired]);

  const TOKEN = randomBytes(16).toString('hex');
  const spawner = recordingSpawner();
  const h = await startAuthHub(t, {
    authenticators: [pamAuthenticator], spawners: [spawner.plugin],
    hub: { api_tokens: { [TOKEN]: 'tshubpam-bot' } },
    authenticator: {
      kind: 'pam', admin_groups: [adminGroup], allowed_groups: [allowedGroup], admin_users: ['tshubpam-bot'],
      login_rate_limit: { max_failures: 100, window_seconds: 60 },
    },
  });
  const apiUser = async (name: string) => {
    const res = await fetch(`${h.publicUrl}/hub/api/users/${name}`, { headers: { authorization: `token ${TOKEN}` } });
    return { status: res.status, body: (res.status === 200 ? await res.json() : {}) as { admin?: boolean } };
  };
  const formLogin = async (t: Test, username: string, password: string) => {
    const c = new BrowserClient(h.publicUrl);
    const form = await c.get('/hub/login');
    t.match(form.text, /<form id="login-form"/, 'the hub shows its username/password form');
    return c.submit(form, '/hub/login?next=%2Fhub%2Fhome', { username, password });
  };

  t.test('the right password logs in', async (t) => {
    const started = Date.now();
    const home = await formLogin(t, student, passwords[student]!);
    t.equal(home.status, 200);
    t.equal(new URL(home.url).pathname, '/hub/home', 'lands on the home page');
    t.match(textOf(home), new RegExp(student));
    t.comment(`login took ${Date.now() - started} ms`);
    const { status, body } = await apiUser(student);
    t.equal(status, 200);
    t.equal(body.admin, false, 'not in an admin group');
  });

  t.test('a wrong password gets the invalid message', async (t) => {
    const page = await formLogin(t, student, passwords[teacher]!);
    t.equal(page.status, 403);
    t.match(textOf(page), /Invalid username or password\./);
    const nobody = await formLogin(t, `tshubpam${tag}x`, 'whatever-pw');
    t.match(textOf(nobody), /Invalid username or password\./, 'an unknown system user too');
  });

  t.test('check_account: an expired account is refused although the password is right', async (t) => {
    const page = await formLogin(t, expired, passwords[expired]!);
    t.equal(page.status, 403);
    t.match(textOf(page), /Invalid username or password\./);
    t.equal((await apiUser(expired)).status, 404);
  });

  t.test('a member of admin_groups becomes admin', async (t) => {
    const home = await formLogin(t, teacher.toUpperCase(), passwords[teacher]!);
    t.equal(new URL(home.url).pathname, '/hub/home', 'the name is normalised before PAM sees it');
    const { status, body } = await apiUser(teacher);
    t.equal(status, 200);
    t.equal(body.admin, true);
  });

  t.test('allowed_groups refuses someone outside the groups with a 403 page', async (t) => {
    const page = await formLogin(t, outsider, passwords[outsider]!);
    t.equal(page.status, 403);
    t.match(textOf(page), new RegExp(`User ${outsider} is not allowed to use this hub`));
    t.equal((await apiUser(outsider)).status, 404, 'no hub user was created');
  });
});
