import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { HubError, type Authenticator, type PluginLogger } from '@tshub/plugin-api';
import { Limiter, PAM_HELPER, pamAuthenticator, pamPlugin, type PamAuthConfig, type PamDeps } from './pam.js';
import { MemoryStore } from './memory-store.js';

/**
 * A fake helper (Node instead of Python): records its argv, environment and stdin in `LOG`, then
 * behaves by username: good, bad, acct (account check fails), slow (never answers), crash, nopamela, conc-*.
 */
const FAKE = String.raw`
const fs = require('node:fs');
const log = process.argv[2];
let input = '';
process.stdin.setEncoding('utf8').on('data', (d) => (input += d)).on('end', () => {
  const req = input ? JSON.parse(input) : {};
  const say = (o) => process.stdout.write(JSON.stringify(o) + '\n');
  fs.appendFileSync(log, JSON.stringify({ event: 'start', at: Date.now(), argv: process.argv, env: process.env, stdin: input }) + '\n');
  const done = () => fs.appendFileSync(log, JSON.stringify({ event: 'end', at: Date.now() }) + '\n');
  const u = req.username ?? '';
  if (process.argv.includes('--probe')) { say({ result: 'ok' }); return done(); }
  if (u === 'good') say({ result: 'ok' });
  else if (u === 'bad') say({ result: 'denied', stage: 'authenticate', error: '[PAM Error 7] Authentication failure' });
  else if (u === 'acct') say({ result: 'denied', stage: 'account', error: '[PAM Error 13] User account has expired' });
  else if (u === 'nopamela') say({ result: 'unavailable', error: "ModuleNotFoundError: No module named 'pamela'" });
  else if (u === 'crash') { process.stderr.write('Traceback: boom\n'); process.exit(1); }
  else if (u === 'slow') { setTimeout(() => {}, 60000); return; }
  else if (u.startsWith('conc')) { setTimeout(() => { say({ result: 'ok' }); done(); }, 400); return; }
  done();
});
`;

interface Recorded {
  event: 'start' | 'end';
  at: number;
  argv: string[];
  env: Record<string, string>;
  stdin: string;
}

function fixture(t: Test, config: PamAuthConfig = {}, deps: PamDeps = {}) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tshub-pam-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const script = path.join(dir, 'fake-helper.cjs');
  const logFile = path.join(dir, 'calls.jsonl');
  writeFileSync(script, FAKE);
  const lines: string[] = [];
  const record = (level: string) => (obj: object | string, msg?: string) => lines.push(`${level} ${JSON.stringify(obj)} ${msg ?? ''}`);
  const log: PluginLogger = { debug: record('debug'), info: record('info'), warn: record('warn'), error: record('error') };
  const plugin = pamPlugin({ helper: { command: process.execPath, args: [script, logFile] }, ...deps });
  const auth = plugin.create({ config, store: new MemoryStore(), log, urls: { hubPrefix: '/hub/', publicOrigin: '' } });
  const calls = (): Recorded[] =>
    existsSync(logFile) ? readFileSync(logFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Recorded) : [];
  return { auth, lines, calls };
}

const login = (auth: Authenticator, username: string, password: string) => auth.authenticate({ fields: { username, password }, remoteAddress: '10.1.2.3' });

t.test('schema and kind', async (t) => {
  t.equal(pamAuthenticator.kind, 'pam');
  const schema = pamAuthenticator.configSchema as { properties: Record<string, { default: unknown; description: string }> };
  t.equal(schema.properties.service?.default, 'login');
  t.equal(schema.properties.check_account?.default, true);
  t.same(schema.properties.admin_groups?.default, []);
  t.same(schema.properties.allowed_groups?.default, []);
  for (const [key, prop] of Object.entries(schema.properties)) t.type(prop.description, 'string', `${key} has a description`);
  const { auth } = fixture(t);
  t.equal(auth.loginKind, 'form');
  t.equal(auth.hasAllowRules, false);
  t.equal(fixture(t, { allowed_groups: ['students'] }).auth.hasAllowRules, true);
  t.equal(fixture(t, { admin_groups: ['wheel'] }).auth.hasAllowRules, true, 'admins are let in, so admin_groups is an allow rule');
});

t.test('the request goes on stdin; the password is never on argv or in the environment, nor in logs', async (t) => {
  const password = 'S3cret pass "quoted" \\ ünïcode';
  const { auth, lines, calls } = fixture(t, { service: 'jupyterhub', check_account: false });
  t.same(await login(auth, 'good', password), { name: 'good' });
  t.equal(await login(auth, 'bad', password), null, 'a wrong password is null');
  t.equal(await login(auth, 'acct', password), null, 'a refused account is null');
  const starts = calls().filter((c) => c.event === 'start');
  t.equal(starts.length, 3, 'one helper per login');
  for (const c of starts) {
    t.notOk(JSON.stringify(c.argv).includes('S3cret'), 'not on argv');
    t.notOk(JSON.stringify(c.env).includes('S3cret'), 'not in the environment');
    t.same(Object.keys(c.env).filter((k) => !['PATH', 'LANG'].includes(k) && !k.startsWith('NODE') && !k.startsWith('_TAPJS')), [], 'a minimal environment, none of the hub secrets (tap adds its own markers)');
  }
  t.same(JSON.parse(starts[0]!.stdin), { username: 'good', password, service: 'jupyterhub', check_account: false }, 'all on stdin, as JSON');
  t.notOk(lines.join('\n').includes('S3cret'), 'no password in the log');
  t.match(lines.join('\n'), /warn .*"user":"bad".*PAM authentication failed: \[PAM Error 7\]/);
  t.match(lines.join('\n'), /warn .*"user":"acct".*PAM account check failed/);
});

t.test('defaults: service login, check_account on', async (t) => {
  const { auth, calls } = fixture(t);
  await login(auth, 'good', 'pw');
  t.match(JSON.parse(calls()[0]!.stdin), { service: 'login', check_account: true });
});

t.test('input refused before any process runs', async (t) => {
  const { auth, calls } = fixture(t);
  for (const [u, p] of [['', 'pw'], ['good', ''], ['-rf', 'pw'], ['a\u0000b', 'pw'], ['a:b', 'pw'], ['x'.repeat(256), 'pw'], ['good', 'p'.repeat(5000)]] as const) {
    t.equal(await login(auth, u, p), null, `refused: ${JSON.stringify(u.slice(0, 10))}/${p.length}`);
  }
  t.same(await auth.authenticate({ fields: {}, remoteAddress: '' }), null, 'no fields');
  t.equal(calls().length, 0, 'no helper was started (an empty password must not reach pam_unix nullok)');
});

t.test('a helper that hangs is killed at the timeout: 503, logged', async (t) => {
  const { auth, lines } = fixture(t, { timeout_seconds: 0.5 });
  const started = Date.now();
  const err = await login(auth, 'slow', 'pw').catch((e: unknown) => e);
  t.ok(err instanceof HubError && err.status === 503, 'HubError 503');
  t.ok(Date.now() - started < 10_000, `gave up after ${Date.now() - started} ms (timeout 0.5 s; without the kill it would wait forever)`);
  t.match(lines.join('\n'), /error .*timed out/);
});

t.test('a crashing helper or one without pamela: HubError(500) with a clear log line', async (t) => {
  const { auth, lines } = fixture(t);
  const crash = await login(auth, 'crash', 'pw').catch((e: unknown) => e);
  t.ok(crash instanceof HubError && crash.status === 500);
  t.match(lines.join('\n'), /error .*exited with 1 without an answer: Traceback: boom/);
  const missing = await login(auth, 'nopamela', 'pw').catch((e: unknown) => e);
  t.ok(missing instanceof HubError && missing.status === 500);
  t.match(lines.join('\n'), /error .*authenticator\.kind: pam needs python3-pamela .*No module named 'pamela'/);
});

t.test('a missing interpreter: validateConfig names python3-pamela, logins are a 500', async (t) => {
  const lines: string[] = [];
  const log: PluginLogger = { debug() {}, info() {}, warn() {}, error: (o, m) => lines.push(`${JSON.stringify(o)} ${m ?? ''}`) };
  const auth = pamAuthenticator.create({ config: { python: '/nonexistent/python3' }, store: new MemoryStore(), log, urls: { hubPrefix: '/hub/', publicOrigin: '' } });
  await t.rejects(auth.validateConfig!(), /authenticator\.kind: pam needs python3-pamela.*\/nonexistent\/python3: cannot run .*ENOENT/);
  const err = await login(auth, 'someone', 'pw').catch((e: unknown) => e);
  t.ok(err instanceof HubError && err.status === 500);
  t.match(lines.join('\n'), /pam needs python3-pamela/);
  t.notOk(lines.join('\n').includes('"pw"'));
});

t.test('at most 4 helpers at once; the waiting line is bounded (503)', async (t) => {
  const { auth, calls } = fixture(t);
  const results = await Promise.all(Array.from({ length: 10 }, (_, i) => login(auth, `conc${i}`, 'pw')));
  t.same(results.map((r) => r?.name), Array.from({ length: 10 }, (_, i) => `conc${i}`));
  let running = 0;
  let peak = 0;
  for (const c of calls().sort((a, b) => a.at - b.at || (a.event === 'end' ? -1 : 1))) {
    running += c.event === 'start' ? 1 : -1;
    peak = Math.max(peak, running);
  }
  t.ok(peak <= 4, `peak ${peak} helpers at once`);
  t.ok(peak >= 2, 'but they do run in parallel');

  const small = fixture(t, {}, { concurrency: 1, maxQueue: 2 });
  const settled = await Promise.allSettled(Array.from({ length: 5 }, (_, i) => login(small.auth, `conc${i}`, 'pw')));
  const refused = settled.filter((s) => s.status === 'rejected').map((s) => (s as PromiseRejectedResult).reason as HubError);
  t.equal(refused.length, 2, 'one running, two waiting, two refused');
  t.ok(refused.every((e) => e.status === 503 && e.headers['Retry-After'] === '5'));
});

t.test('Limiter hands slots on in order and frees them after errors', async (t) => {
  const limiter = new Limiter(2, 10);
  const order: number[] = [];
  const job = (i: number, fail = false) => limiter.run(async () => {
    order.push(i);
    await new Promise((r) => setTimeout(r, 20));
    if (fail) throw new Error('x');
    return i;
  });
  const all = await Promise.allSettled([job(1, true), job(2), job(3), job(4, true), job(5)]);
  t.same(order, [1, 2, 3, 4, 5]);
  t.same(all.map((s) => s.status), ['rejected', 'fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
  t.equal(limiter.active, 0);
  t.equal(limiter.queued, 0);
});

t.test('admin_groups and allowed_groups use the system groups', async (t) => {
  const groups: Record<string, string[]> = { good: ['good', 'wheel'], conc1: ['conc1', 'students'] };
  const looked: string[] = [];
  const deps: PamDeps = {
    groupsOf: async (name) => {
      looked.push(name);
      return groups[name] ?? [];
    },
  };
  const { auth } = fixture(t, { admin_groups: ['wheel', 'admins'], allowed_groups: ['students'] }, deps);
  t.same(await login(auth, 'good', 'pw'), { name: 'good', admin: true });
  t.same(await login(auth, 'conc1', 'pw'), { name: 'conc1', admin: false }, 'admin_groups is authoritative: false, not undefined');
  t.equal(await login(auth, 'bad', 'pw'), null);
  t.same(looked, ['good', 'conc1'], 'groups are looked up only after PAM said yes');
  t.equal(await auth.checkAllowed!('conc1', { name: 'conc1' }), true);
  t.equal(await auth.checkAllowed!('good', { name: 'good' }), false, 'admin group is not an allowed group');
  t.equal(await auth.checkAllowed!('nobody', { name: 'nobody' }), false);

  const plain = fixture(t, {}, deps).auth;
  t.same(await login(plain, 'good', 'pw'), { name: 'good' }, 'without admin_groups admin is left to the hub');
  t.equal(await plain.checkAllowed!('conc1', { name: 'conc1' }), false, 'without allowed_groups nobody is allowed by the plugin');

  const failing = fixture(t, { admin_groups: ['wheel'], allowed_groups: ['students'] }, { groupsOf: async () => { throw new Error('ldap down'); } });
  const err = await login(failing.auth, 'good', 'pw').catch((e: unknown) => e);
  t.ok(err instanceof HubError && err.status === 500, 'a failed admin lookup is a 500, not a silent demotion');
  t.match(failing.lines.join('\n'), /admin_groups check failed: ldap down/);
  t.equal(await failing.auth.checkAllowed!('good', { name: 'good' }), false);
});

t.test('validateConfig warns about unknown groups', async (t) => {
  const { auth, lines } = fixture(t, { admin_groups: ['wheel'], allowed_groups: ['nosuch'] }, { groupExists: async (g) => g === 'wheel' });
  await auth.validateConfig!();
  t.match(lines.join('\n'), /warn .*authenticator\.allowed_groups: no such system group \(yet\): nosuch/);
  t.notMatch(lines.join('\n'), /wheel/);
});

t.test('the Python helper itself', async (t) => {
  t.match(PAM_HELPER, /sys\.stdin\.buffer\.read\(\)/, 'reads the request from stdin');
  t.match(PAM_HELPER, /pamela\.authenticate\(user, req\["password"\], service=service/);
  t.match(PAM_HELPER, /pamela\.check_account\(user, service=service/);
});
