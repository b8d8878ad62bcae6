// Form logins through the hub pipeline: rate limiting per username and per client address (429 with
// Retry-After, successes reset), blocked users, and the sign-up link when the authenticator offers
// accounts. The authenticator is a small in-test fake (password "right" for everyone).
import t from 'tap';
import { HubError, type AccountManager, type AuthenticatorPlugin } from '@tshub/plugin-api';
import { BrowserClient, type Page } from './support/browser-client.js';
import { recordingSpawner } from './support/recording-spawner.js';
import { startAuthHub } from './support/auth-test-hub.js';

const nope = async (): Promise<never> => {
  throw new HubError(404, 'not in this test');
};
const accounts: AccountManager = {
  signupEnabled: true, signUp: nope, changePassword: nope, listPending: nope, approve: nope, reject: nope, listLocked: nope, unlock: nope, resetPassword: nope,
};
const formPlugin: AuthenticatorPlugin = {
  kind: 'fake-form',
  configSchema: { type: 'object', properties: {} },
  create: () => ({
    loginKind: 'form',
    accounts,
    async authenticate({ fields }) {
      return fields.password === 'right' ? { name: fields.username ?? '' } : null;
    },
  }),
};

async function postLogin(c: BrowserClient, username: string, password: string, ip: string): Promise<Page> {
  const form = await c.request('/hub/login', { headers: { 'x-forwarded-for': ip } });
  const xsrf = /name="_xsrf" value="([^"]*)"/.exec(form.text)![1]!;
  return c.request('/hub/login?next=%2Fhub%2Fhome', {
    method: 'POST', body: new URLSearchParams({ username, password, _xsrf: xsrf }),
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': ip },
  });
}

t.test('form logins: rate limits, blocked users, sign-up link', async (t) => {
  const spawner = recordingSpawner();
  const h = await startAuthHub(t, {
    authenticators: [formPlugin], spawners: [spawner.plugin],
    authenticator: { kind: 'fake-form', allow_all: true, blocked_users: ['mallory'], login_rate_limit: { max_failures: 3, window_seconds: 120 } },
  });
  const c = () => new BrowserClient(h.publicUrl);

  const page = await c().get('/hub/login');
  t.match(page.text, /<form id="login-form"/, 'the username/password form');
  t.match(page.text, /<a href="\/hub\/signup">Sign up<\/a>/, 'a sign-up link when the authenticator offers sign-up');

  t.equal((await postLogin(c(), 'Carol', 'right', '10.0.0.9')).headers.get('location'), '/hub/home', 'a good login');

  // Per username: failures from three addresses lock the name everywhere.
  for (const ip of ['10.0.1.1', '10.0.1.2', '10.0.1.3']) t.equal((await postLogin(c(), 'alice', 'wrong', ip)).status, 403);
  const locked = await postLogin(c(), ' ALICE ', 'right', '10.0.1.4');
  t.equal(locked.status, 429, 'the (normalised) name is limited, even with the right password');
  const retry = Number(locked.headers.get('retry-after'));
  t.ok(retry > 60 && retry <= 120, `Retry-After ${retry} s`);
  t.match(locked.text, /Too many failed sign-in attempts\. Wait 2 minutes/);
  t.equal((await postLogin(c(), 'bob', 'right', '10.0.1.1')).status, 302, 'another name from one of those addresses is fine');

  // Per address: failures on three names lock the address.
  for (const name of ['u1', 'u2', 'u3']) await postLogin(c(), name, 'wrong', '10.0.2.1');
  t.equal((await postLogin(c(), 'dave', 'right', '10.0.2.1')).status, 429, 'the address is limited for any name');

  // A success resets the name's count, not the address's: otherwise one account of their own would let
  // someone reset their address's count between guesses at other people's passwords.
  for (let i = 0; i < 2; i++) await postLogin(c(), 'erin', 'wrong', '10.0.3.1');
  t.equal((await postLogin(c(), 'erin', 'right', '10.0.3.1')).status, 302);
  for (let i = 0; i < 2; i++) await postLogin(c(), 'erin', 'wrong', '10.0.3.2');
  t.equal((await postLogin(c(), 'erin', 'right', '10.0.3.3')).status, 302, 'two more failures after a success are still below the limit for the name');
  await postLogin(c(), 'victim1', 'wrong', '10.0.5.1');
  await postLogin(c(), 'victim2', 'wrong', '10.0.5.1');
  t.equal((await postLogin(c(), 'erin', 'right', '10.0.5.1')).status, 302, 'their own login works');
  await postLogin(c(), 'victim3', 'wrong', '10.0.5.1');
  t.equal((await postLogin(c(), 'victim4', 'right', '10.0.5.1')).status, 429, 'but does not reset the address count');

  const blocked = await postLogin(c(), 'mallory', 'right', '10.0.4.1');
  t.equal(blocked.status, 403, 'blocked users are refused');
  t.match(blocked.text, /Invalid username or password\./, 'without revealing that the password was right');
});
