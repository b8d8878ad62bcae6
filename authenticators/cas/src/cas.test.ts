import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { HubError, type Authenticator, type AuthModel, type JsonObject, type PluginLogger } from '@tshub/plugin-api';
import { makeTestCa, OPENSSL, startFakeCas, type FakeCas } from '../../../test/support/fake-cas.js';
import { need } from '../../../test/support/requirements.js';
import { casAuthenticator } from './cas.js';
import type { CasConfig } from './config.js';

/**
 * Plugin-level: the cas authenticator called as the hub calls it (loginRedirect, then authenticate with
 * the callback query), against a real HTTPS fake CAS server with a throwaway CA.
 */

if (need(t, existsSync(OPENSSL), 'the openssl CLI (apt-get install openssl)')) await suite();

async function suite(): Promise<void> {
  const CALLBACK = 'https://hub.example.edu/hub/oauth_callback';
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tshub-cas-unit-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));

  const users = {
    ada: { password: 'pw-ada', attributes: { affiliation: ['member', 'student'], mail: ['ada@example.edu'], memberOf: ['course-101', 'course-102'], uid: ['ada.l'] } },
    grace: { password: 'pw-grace', attributes: { affiliation: ['staff'], memberOf: ['jupyter-admins'] } },
  };
  const fake: FakeCas = await startFakeCas({ dir, users });
  t.teardown(() => fake.close());

  const logs: string[] = [];
  const record = (level: string) => (obj: object | string, msg?: string) => void logs.push(`${level} ${typeof obj === 'string' ? obj : msg ?? ''}`);
  const log: PluginLogger = { debug: record('debug'), info: record('info'), warn: record('warn'), error: record('error') };
  const store = { get: async () => undefined, set: async () => {}, delete: async () => {}, keys: async () => [] };

  function create(config: Partial<CasConfig> = {}): Authenticator {
    const full: CasConfig = { cas_login_url: `${fake.base}/login`, cas_ca_bundle: fake.caFile, ...config };
    return casAuthenticator.create({ config: full, store, log, urls: { hubPrefix: '/hub/', publicOrigin: 'https://hub.example.edu' } });
  }

  /** The pending state of the most recent {@link login}, to check what was validated. */
  let lastPending: JsonObject = {};

  /** The hub's part of a login: redirect, the person signs in at CAS, the callback hands the query to authenticate. */
  async function login(auth: Authenticator, user: string): Promise<AuthModel | null> {
    const { url, pending } = await auth.loginRedirect!({ callbackUrl: CALLBACK, remoteAddress: '127.0.0.1' });
    lastPending = pending;
    const back = new URL(await fake.signIn(url, user));
    return auth.authenticate({ fields: Object.fromEntries(back.searchParams), remoteAddress: '127.0.0.1', pending, callbackUrl: CALLBACK });
  }

  /** A pending login as loginRedirect makes it (service = callback?state=...), for calling authenticate directly. */
  function pendingFor(state: string, base = CALLBACK): { service: string; state: string } {
    return { service: `${base}?state=${state}`, state };
  }

  /** Asserts that `promise` rejects with a HubError of `status` whose message matches `pattern`. */
  async function refuses(tt: Test, promise: Promise<unknown>, status: number, pattern: RegExp): Promise<HubError | undefined> {
    try {
      await promise;
      tt.fail(`expected HubError ${status}`);
    } catch (err) {
      if (!(err instanceof HubError)) throw err;
      tt.equal(err.status, status, `status ${status}`);
      tt.match(err.message, pattern);
      return err;
    }
    return undefined;
  }

  t.test('loginRedirect sends the browser to CAS with the service URL and a random state in it', async (t) => {
    const r = await create().loginRedirect!({ callbackUrl: CALLBACK, remoteAddress: '127.0.0.1' });
    const state = r.pending['state'];
    if (typeof state !== 'string') throw new Error(`pending.state is not a string: ${JSON.stringify(r.pending)}`);
    t.match(state, /^[A-Za-z0-9_-]{22,}$/, 'an unguessable state (at least 128 bits, base64url)');
    const service = `${CALLBACK}?state=${state}`;
    t.equal(r.url, `${fake.base}/login?service=${encodeURIComponent(service)}`);
    t.same(r.pending, { service, state }, 'the pending cookie keeps the exact service URL and the state');
    const other = await create().loginRedirect!({ callbackUrl: CALLBACK, remoteAddress: '127.0.0.1' });
    t.not(other.pending['state'], state, 'every login gets its own state');
    const fixed = await create({ cas_service_url: 'https://public.example.edu/hub/oauth_callback' }).loginRedirect!({ callbackUrl: CALLBACK, remoteAddress: '' });
    const fixedService = `https://public.example.edu/hub/oauth_callback?state=${String(fixed.pending['state'])}`;
    t.equal(new URL(fixed.url).searchParams.get('service'), fixedService, 'cas_service_url wins (with the state added)');
    t.same(fixed.pending, { service: fixedService, state: fixed.pending['state'] });
    t.equal(create().loginKind, 'redirect');
    t.equal(create({ login_service: 'UniLogin' }).loginLabel, 'Sign in with UniLogin');
  });

  t.test('CAS 3.0: user, attributes, admin and groups from a validated ticket', async (t) => {
    const auth = create({ admin_attributes: { memberOf: ['jupyter-admins'] }, groups_attribute: 'memberOf' });
    const ada = await login(auth, 'ada');
    t.same(ada, { name: 'ada', admin: false, groups: ['course-101', 'course-102'], authState: { cas_user: 'ada', attributes: users.ada.attributes } });
    const grace = await login(auth, 'grace');
    t.equal(grace?.admin, true, 'admin from memberOf');
    t.same(grace?.groups, ['jupyter-admins']);
    t.equal(fake.validations.at(-1)?.path, '/cas/p3/serviceValidate');
    t.equal(fake.validations.at(-1)?.service, lastPending['service'], 'validated for the same service URL (with the state)');
    t.match(fake.validations.at(-1)?.service, /^https:\/\/hub\.example\.edu\/hub\/oauth_callback\?state=[A-Za-z0-9_-]{22,}$/);
    t.equal(create().hasAllowRules, false);
    t.equal(auth.hasAllowRules, true, 'admins from attributes are let in, so admin_attributes is an allow rule');
    t.equal(await auth.checkAllowed!('ada', ada!), false, 'but it does not let in people who are not admins');
    t.equal((await login(create(), 'ada'))?.admin, undefined, 'no admin_attributes: admin left to the hub');
  });

  t.test('CAS 2.0 validates at /serviceValidate, which releases no attributes', async (t) => {
    const auth = create({ cas_version: '2.0', required_attributes: { affiliation: ['student'] } });
    const ada = await login(auth, 'ada');
    t.same(ada, { name: 'ada', authState: { cas_user: 'ada', attributes: {} } });
    t.equal(fake.validations.at(-1)?.path, '/cas/serviceValidate');
    t.equal(await auth.checkAllowed!('ada', ada!), false, 'nothing released, so a required attribute is missing');
  });

  t.test('required_attributes is an allow rule checked against the released attributes', async (t) => {
    const auth = create({ required_attributes: { affiliation: ['student', 'alum'] } });
    t.equal(auth.hasAllowRules, true);
    t.equal(await auth.checkAllowed!('ada', (await login(auth, 'ada'))!), true);
    logs.length = 0;
    t.equal(await auth.checkAllowed!('grace', (await login(auth, 'grace'))!), false);
    t.match(logs.join('\n'), /required_attributes: affiliation \(has: staff; needs one of: student, alum\)/, 'the log says why');
  });

  t.test('username_attribute names the user; a missing attribute is a clear 403', async (t) => {
    t.equal((await login(create({ username_attribute: 'uid' }), 'ada'))?.name, 'ada.l');
    await refuses(t, login(create({ username_attribute: 'uid' }), 'grace'), 403, /did not release the 'uid' attribute/);
  });

  t.test('spent, foreign and malformed tickets are refused with advice to log in again', async (t) => {
    const auth = create();
    const { url, pending } = await auth.loginRedirect!({ callbackUrl: CALLBACK, remoteAddress: '' });
    const back = new URL(await fake.signIn(url, 'ada'));
    const ticket = back.searchParams.get('ticket')!;
    const state = back.searchParams.get('state')!;
    t.equal(state, pending['state'], 'CAS sends the browser back to the service URL, state and all');
    const input = { fields: { state, ticket }, remoteAddress: '', pending, callbackUrl: CALLBACK };
    t.equal((await auth.authenticate(input))?.name, 'ada');
    await refuses(t, auth.authenticate(input), 403, /CAS did not accept the login ticket \(INVALID_TICKET: Ticket ST-.* not recognized\)\. .*log in again/);
    const foreign = fake.issueTicket('ada', 'https://other.example.edu/');
    await refuses(t, auth.authenticate({ ...input, fields: { state, ticket: foreign } }), 403, /INVALID_SERVICE/);
    const before = fake.validations.length;
    await refuses(t, auth.authenticate({ ...input, fields: { state } }), 400, /without a login ticket/);
    await refuses(t, auth.authenticate({ ...input, fields: { state, ticket: 'ST-1 <script>' } }), 400, /malformed/);
    await refuses(t, auth.authenticate({ ...input, fields: { state, ticket: fake.issueTicket('ada', String(pending['service'])) }, pending: null }), 400, /did not start in this browser/);
    t.equal(fake.validations.length, before, 'none of these reached CAS');
  });

  t.test('login CSRF: a ticket the attacker got for their own login does not log the victim in', async (t) => {
    const auth = create({ admin_attributes: { memberOf: ['jupyter-admins'] } });
    // The attacker (grace) starts a login in their own browser and signs in at CAS, but stops before the
    // callback: the URL CAS sent them back to holds a valid, unspent ticket for the hub's service URL.
    const attacker = await auth.loginRedirect!({ callbackUrl: CALLBACK, remoteAddress: '192.0.2.66' });
    const attackerFields = Object.fromEntries(new URL(await fake.signIn(attacker.url, 'grace')).searchParams);
    t.equal(attackerFields['state'], attacker.pending['state'], "the attacker's callback URL carries the attacker's state");
    const bare = fake.issueTicket('grace', CALLBACK); // as if the attacker had gone to CAS login?service=<callback> directly

    // The victim's browser started its own login (its own pending cookie) and is then made to open the attacker's link.
    const victim = await auth.loginRedirect!({ callbackUrl: CALLBACK, remoteAddress: '127.0.0.1' });
    const victimState = String(victim.pending['state']);
    const asVictim = (fields: Record<string, string>) => auth.authenticate({ fields, remoteAddress: '127.0.0.1', pending: victim.pending, callbackUrl: CALLBACK });
    const before = fake.validations.length;
    await refuses(t, asVictim(attackerFields), 400, /^This login did not start in this browser\. Please log in again\.$/);
    await refuses(t, asVictim({ ticket: attackerFields['ticket']! }), 400, /did not start in this browser/);
    await refuses(t, asVictim({ ticket: bare }), 400, /did not start in this browser/);
    await refuses(t, asVictim({ state: '', ticket: bare }), 400, /did not start in this browser/);
    const sameLength = `${victimState[0] === 'A' ? 'B' : 'A'}${victimState.slice(1)}`;
    await refuses(t, asVictim({ state: sameLength, ticket: bare }), 400, /did not start in this browser/);
    t.equal(fake.validations.length, before, 'refused before CAS was asked: nothing was validated for the victim');

    // Even an attacker who learned the victim's state gets nowhere: the ticket is validated for the
    // victim's service URL (with the victim's state), not the one CAS issued it for.
    await refuses(t, asVictim({ state: victimState, ticket: bare }), 403, /INVALID_SERVICE/);
    t.equal(fake.validations.at(-1)?.service, victim.pending['service'], "validated against the victim's own service URL");
    await refuses(t, asVictim({ state: victimState, ticket: attackerFields['ticket']! }), 403, /INVALID_SERVICE/);

    // A pending cookie without a state (as made before states existed) is refused as well.
    await refuses(t, auth.authenticate({ fields: { ticket: fake.issueTicket('grace', CALLBACK) }, remoteAddress: '', pending: { service: CALLBACK }, callbackUrl: CALLBACK }),
      400, /did not start in this browser/);

    // The victim's own login still goes through, as the victim.
    const mine = Object.fromEntries(new URL(await fake.signIn(victim.url, 'ada')).searchParams);
    t.same(await asVictim(mine), { name: 'ada', admin: false, authState: { cas_user: 'ada', attributes: users.ada.attributes } });
  });

  t.test('TLS: without the CA bundle the certificate is not trusted, and the message says what to set', async (t) => {
    const auth = create({ cas_ca_bundle: undefined });
    const pending = pendingFor('tls-state-0123456789abcdef');
    const input = () => ({ fields: { state: pending.state, ticket: fake.issueTicket('ada', pending.service) }, remoteAddress: '', pending, callbackUrl: CALLBACK });
    const err = await refuses(t, auth.authenticate(input()), 502,
      /could not verify the CAS server's TLS certificate \(unable to verify the first certificate\).*authenticator\.cas_ca_bundle/);
    t.match(err?.logMessage, /UNABLE_TO_VERIFY_LEAF_SIGNATURE/);
    // A bundle with some other CA is just as untrusted.
    const wrongCa = makeTestCa(mkdtempSync(path.join(dir, 'other-ca-'))).caFile;
    await refuses(t, create({ cas_ca_bundle: wrongCa }).authenticate(input()), 502, /TLS certificate/);
  });

  t.test('CAS down or broken: 503 / 502 with a message, never a crash', async (t) => {
    const closedPort = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const port = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(port));
      });
    });
    const down = create({ cas_service_validate_url: `https://127.0.0.1:${closedPort}/cas/p3/serviceValidate` });
    const pending = pendingFor('down-state-0123456789abcdef');
    const input = { fields: { state: pending.state, ticket: 'ST-1-abc' }, remoteAddress: '', pending, callbackUrl: CALLBACK };
    await refuses(t, down.authenticate(input), 503, /could not be reached/);
    for (const [fault, pattern] of [['http-500', /answered HTTP 500/], ['html', /could not read/]] as const) {
      fake.fault = fault;
      await refuses(t, create().authenticate(input), 502, pattern);
    }
    fake.fault = 'none';
  });

  t.test('validateConfig names the key path of what is wrong', async (t) => {
    await create().validateConfig!();
    t.pass('a good config passes');
    await refuses(t, create({ cas_login_url: undefined }).validateConfig!(), 500, /^authenticator\.cas_login_url: required/);
    await refuses(t, create({ cas_service_validate_url: 'not a url' }).validateConfig!(), 500, /^authenticator\.cas_service_validate_url: not a URL/);
    await refuses(t, create({ cas_ca_bundle: path.join(dir, 'missing.pem') }).validateConfig!(), 500, /^authenticator\.cas_ca_bundle: cannot read .*missing\.pem \(ENOENT\)/);
    await refuses(t, create({ cas_service_url: 'https://hub.example.edu/hub/login' }).validateConfig!(), 500,
      /^authenticator\.cas_service_url: must be the hub's callback URL, ending in \/hub\/oauth_callback/);
    await create({ cas_service_url: 'https://hub.example.edu/hub/oauth_callback' }).validateConfig!();
    writeFileSync(path.join(dir, 'not-pem.txt'), 'hello');
    await refuses(t, create({ cas_ca_bundle: path.join(dir, 'not-pem.txt') }).validateConfig!(), 500, /^authenticator\.cas_ca_bundle: .* holds no PEM certificate/);
    logs.length = 0;
    await create({ required_attributes: { affiliation: ['student'] }, allow_all: true }).validateConfig!();
    t.match(logs.join('\n'), /required_attributes has no effect while allow_all is true/);
    logs.length = 0;
    await create({ cas_version: '2.0', groups_attribute: 'memberOf' }).validateConfig!();
    t.match(logs.join('\n'), /CAS 2\.0 \/serviceValidate often releases no attributes/);
  });

  t.test('logoutRedirect: single logout through CAS back to the hub login page', async (t) => {
    const login = 'https://hub.example.edu/hub/login';
    t.equal(create().logoutRedirect!({ hubLoginUrl: login, authState: null }), null, 'no cas_logout_url: stay on the hub');
    t.equal(create({ cas_logout_url: `${fake.base}/logout` }).logoutRedirect!({ hubLoginUrl: login, authState: null }), `${fake.base}/logout?service=${encodeURIComponent(login)}`);
    const v2 = create({ cas_logout_url: `${fake.base}/logout`, cas_version: '2.0' }).logoutRedirect!({ hubLoginUrl: login, authState: null });
    t.equal(new URL(v2!).searchParams.get('url'), login, 'CAS 2.0 servers read url=');
  });
}
