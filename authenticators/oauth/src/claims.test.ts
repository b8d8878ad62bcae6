import t from 'tap';
import { claimAt, groupsFrom, inAnyGroup, usernameFrom } from './claims.js';
import { oauthConfigProperties, resolveOAuthOptions } from './options.js';

const claims = {
  sub: 'u1',
  preferred_username: 'Alice',
  'https://example.edu/groups': ['x'],
  realm_access: { roles: ['teacher', 'student'] },
  uid: 1234,
  blank: '  ',
  one_group: '/class/2024',
};

t.test('claimAt reads a literal key first, then a dotted path', async (t) => {
  t.same(claimAt(claims, 'https://example.edu/groups'), ['x'], 'a key containing dots');
  t.same(claimAt(claims, 'realm_access.roles'), ['teacher', 'student']);
  t.equal(claimAt(claims, 'realm_access.missing'), undefined);
  t.equal(claimAt(claims, 'sub.deeper'), undefined, 'path through a string');
});

t.test('usernameFrom takes strings and numbers, not blanks or objects', async (t) => {
  t.equal(usernameFrom(claims, 'preferred_username'), 'Alice');
  t.equal(usernameFrom(claims, 'uid'), '1234');
  t.equal(usernameFrom(claims, 'blank'), null);
  t.equal(usernameFrom(claims, 'realm_access'), null);
  t.equal(usernameFrom(claims, 'nope'), null);
});

t.test('groupsFrom: lists, single strings, Keycloak paths; undefined when absent', async (t) => {
  t.same(groupsFrom(claims, 'realm_access.roles'), ['teacher', 'student']);
  t.same(groupsFrom(claims, 'one_group'), ['class/2024'], 'leading slash dropped, single value wrapped');
  t.same(groupsFrom({ g: ['a', 'a', 3, '', 'b'] }, 'g'), ['a', 'b'], 'non-strings, blanks and duplicates dropped');
  t.same(groupsFrom({ g: [] }, 'g'), [], 'in no group');
  t.equal(groupsFrom(claims, 'groups'), undefined, 'no claim');
  t.ok(inAnyGroup(['a', 'b'], ['b']));
  t.notOk(inAnyGroup(['a'], []));
  t.notOk(inAnyGroup(undefined, ['a']));
});

t.test('options: schema documents every key; env fallbacks and kind defaults', async (t) => {
  for (const [key, prop] of Object.entries(oauthConfigProperties)) {
    t.type((prop as { description?: unknown }).description, 'string', `${key} has a description`);
    t.not((prop as { default?: unknown }).default, undefined, `${key} has a default`);
  }
  const defaults = { scope: ['openid'], usernameClaim: 'preferred_username', loginService: 'X', basicAuth: true };
  const s = resolveOAuthOptions({ oidc_issuer: ' https://idp.example.edu ', scope: [] }, defaults, { OAUTH_CLIENT_ID: 'env-id', OAUTH_CLIENT_SECRET: 'env-secret' });
  t.equal(s.clientId, 'env-id');
  t.equal(s.clientSecret, 'env-secret');
  t.equal(s.issuer, 'https://idp.example.edu', 'trimmed');
  t.same(s.scope, ['openid'], 'empty scope means the default');
  t.equal(s.enablePkce, true);
  t.equal(s.groupsClaim, 'groups');
  const c = resolveOAuthOptions({ client_id: 'cfg', scope: ['a'], username_claim: 'email', login_service: 'School' }, defaults, { OAUTH_CLIENT_ID: 'env-id' });
  t.equal(c.clientId, 'cfg', 'config wins over env');
  t.same(c.scope, ['a']);
  t.equal(c.usernameClaim, 'email');
  t.equal(c.loginService, 'School');
  t.equal(c.issuer, null);
});
