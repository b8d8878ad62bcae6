// Default roles (contract section 5): user = self, admin = the admin list, server = the server token's scopes.
import t from 'tap';
import { identifyScopes, serverTokenScopes, userScopes } from './roles.js';
import { expandScopes, hasScope } from './scopes.js';

t.test('a normal user holds exactly self, expanded and filtered to them', async (t) => {
  const { list, set } = userScopes('alice', false);
  t.strictSame(list, [...expandScopes(['self'], 'alice')].sort());
  t.strictSame(list, [...list].sort(), 'list is sorted');
  t.equal(list.length, 14);
  t.ok(list.every((s) => s.endsWith('!user=alice')), 'every scope is filtered to alice');
  t.ok(hasScope(set, 'servers', { user: 'alice', server: 'alice/' }));
  t.ok(hasScope(set, 'access:servers', { user: 'alice', server: 'alice/gpu' }));
  t.ok(hasScope(set, 'read:tokens', { user: 'alice' }));
  t.notOk(hasScope(set, 'read:users', { user: 'bob' }));
  t.notOk(hasScope(set, 'access:servers', { user: 'bob', server: 'bob/' }));
  for (const s of ['admin-ui', 'list:users', 'admin:users', 'read:hub', 'proxy', 'shutdown', 'read:metrics']) t.notOk(set.has(s), `no ${s}`);
});

t.test('odd usernames are kept raw in filters', async (t) => {
  const { list } = userScopes('a@b.c', false);
  t.ok(list.includes('read:users!user=a@b.c'));
  t.ok(list.includes('access:servers!user=a@b.c'));
});

t.test('an admin holds the admin role (unfiltered) plus self', async (t) => {
  const { list, set } = userScopes('root', true);
  const adminRole = [
    'admin-ui', 'admin:users', 'admin:servers', 'tokens', 'admin:groups', 'list:services', 'read:services', 'read:hub', 'proxy',
    'shutdown', 'access:services', 'access:servers', 'read:roles', 'read:metrics', 'admin:services', 'shares',
  ];
  for (const s of adminRole) t.ok(list.includes(s), `role scope ${s}`);
  // Subscopes through the hierarchy: admin:users -> users -> read:users -> read:users:name ...
  for (const s of ['admin:auth_state', 'users', 'read:users', 'list:users', 'read:users:name', 'read:users:groups', 'read:users:activity', 'delete:users',
    'admin:server_state', 'servers', 'read:servers', 'delete:servers', 'read:tokens', 'groups', 'read:groups', 'list:groups', 'read:groups:name',
    'delete:groups', 'read:roles:users', 'read:roles:groups', 'read:roles:services', 'read:services:name', 'read:shares', 'users:shares', 'read:users:shares',
    'groups:shares', 'read:groups:shares']) {
    t.ok(set.get(s)?.has(''), `unfiltered ${s}`);
  }
  t.ok(list.includes('read:users!user=root'), 'self is kept alongside');
  t.ok(hasScope(set, 'access:servers', { user: 'bob', server: 'bob/' }));
  t.notOk(list.includes('self'), 'the metascope itself is not listed');
});

t.test('server token scopes (5.x default server role)', async (t) => {
  t.strictSame(serverTokenScopes('alice', ''), ['users:activity!user=alice', 'access:servers!server=alice/']);
  t.strictSame(serverTokenScopes('alice', 'gpu'), ['users:activity!user=alice', 'access:servers!server=alice/gpu']);
  t.strictSame(serverTokenScopes('a@b.c', 'my server'), ['users:activity!user=a@b.c', 'access:servers!server=a@b.c/my server']);
});

t.test('identify scopes granted by /hub/api/user', async (t) => {
  t.strictSame(identifyScopes('alice'), ['read:users:name!user=alice', 'read:users:groups!user=alice']);
});
