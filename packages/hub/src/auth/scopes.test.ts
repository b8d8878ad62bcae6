// Table tests for scope expansion, filters and checks (contract section 5, JupyterHub scopes.py).
import t from 'tap';
import { ALL_SCOPES, expandScopes, hasAnyScope, hasScope, intersectScopes, splitScope, toScopeSet, type ScopeTarget } from './scopes.js';

const sorted = (s: Iterable<string>) => [...s].sort();

t.test('splitScope', async (t) => {
  const cases: Array<[string, string, string]> = [
    ['read:users', 'read:users', ''],
    ['read:users!user=alice', 'read:users', 'user=alice'],
    ['access:servers!server=alice/', 'access:servers', 'server=alice/'],
    ['access:servers!server=a@b.c/my server', 'access:servers', 'server=a@b.c/my server'],
    ['custom:x!group=g', 'custom:x', 'group=g'],
  ];
  for (const [s, base, filter] of cases) t.strictSame(splitScope(s), { base, filter }, s);
});

t.test('self for a user: the 14 contract scopes, each !user=<me>', async (t) => {
  const want = [
    'read:users', 'read:users:name', 'read:users:groups', 'users:activity', 'read:users:activity', 'servers',
    'delete:servers', 'read:servers', 'tokens', 'read:tokens', 'access:servers', 'users:shares', 'read:users:shares', 'read:shares',
  ].map((s) => `${s}!user=alice`);
  t.strictSame(sorted(expandScopes(['self'], 'alice')), sorted(want));
  t.strictSame(sorted(expandScopes(['self'])), [], 'self without an owner expands to nothing');
  t.notOk(expandScopes(['self'], 'alice').has('self'), 'the metascope itself is not kept');
});

// [scopes in, scopes out] — every subscope of contract section 5, filters kept.
const expansions: Array<[string[], string[]]> = [
  [['read:hub'], ['read:hub']],
  [['admin:users'], [
    'admin:users', 'admin:auth_state', 'users', 'read:roles:users', 'delete:users', 'read:users', 'list:users', 'users:activity',
    'read:users:name', 'read:users:groups', 'read:users:activity',
  ]],
  [['users!group=g'], ['users!group=g', 'read:users!group=g', 'list:users!group=g', 'users:activity!group=g', 'read:users:name!group=g', 'read:users:groups!group=g', 'read:users:activity!group=g']],
  [['admin:servers!user=bob'], ['admin:servers!user=bob', 'admin:server_state!user=bob', 'servers!user=bob', 'read:servers!user=bob', 'delete:servers!user=bob', 'read:users:name!user=bob']],
  [['tokens'], ['tokens', 'read:tokens']],
  [['read:roles'], ['read:roles', 'read:roles:users', 'read:roles:services', 'read:roles:groups']],
  [['admin:groups'], ['admin:groups', 'groups', 'read:roles:groups', 'delete:groups', 'read:groups', 'list:groups', 'read:groups:name']],
  [['admin:services'], ['admin:services', 'list:services', 'read:services', 'read:roles:services', 'read:services:name']],
  [['shares!user=alice'], ['shares!user=alice', 'access:servers!user=alice', 'read:shares!user=alice', 'users:shares!user=alice', 'groups:shares!user=alice', 'read:users:shares!user=alice', 'read:groups:shares!user=alice']],
  // !server= filters are not carried onto read:users* (read:servers -> read:users:name is dropped).
  [['servers!server=alice/gpu'], ['servers!server=alice/gpu', 'read:servers!server=alice/gpu', 'delete:servers!server=alice/gpu']],
  [['users:activity!server=alice/'], ['users:activity!server=alice/']],
  [['access:servers!server=alice/', 'read:servers!server=alice/'], ['access:servers!server=alice/', 'read:servers!server=alice/']],
  [['custom:my-scope'], ['custom:my-scope']],
];
for (const [input, want] of expansions) {
  t.test(`expandScopes ${input.join(' ')}`, async (t) => {
    t.strictSame(sorted(expandScopes(input)), sorted(want));
  });
}

t.test('admin:users reaches read:users:name through users -> read:users', async (t) => {
  const s = expandScopes(['admin:users!user=alice']);
  for (const x of ['users', 'read:users', 'read:users:name', 'list:users']) t.ok(s.has(`${x}!user=alice`), x);
  t.notOk(s.has('read:users:name'), 'no unfiltered subscope from a filtered scope');
});

t.test('every subscope named in expansion is a known scope', async (t) => {
  for (const s of expandScopes(['admin:users', 'admin:servers', 'admin:groups', 'admin:services', 'shares', 'tokens', 'read:roles'])) {
    t.ok(ALL_SCOPES.has(s), s);
  }
  for (const s of ['read:metrics', 'shutdown', 'proxy', 'access:services', 'admin-ui']) t.ok(ALL_SCOPES.has(s), s);
  t.notOk(ALL_SCOPES.has('self'));
});

t.test('toScopeSet groups filters under the base', async (t) => {
  const set = toScopeSet(['read:users!user=a', 'read:users!group=g', 'read:hub']);
  t.strictSame(sorted(set.keys()), ['read:hub', 'read:users']);
  t.strictSame(sorted(set.get('read:users')!), ['group=g', 'user=a']);
  t.strictSame(sorted(set.get('read:hub')!), ['']);
});

const alice: ScopeTarget = { user: 'alice', groups: ['physics'] };
const aliceGpu: ScopeTarget = { user: 'alice', server: 'alice/gpu', groups: ['physics'] };
const aliceDefault: ScopeTarget = { user: 'alice', server: 'alice/', groups: ['physics'] };
const bob: ScopeTarget = { user: 'bob', groups: [] };
const bobServer: ScopeTarget = { user: 'bob', server: 'bob/', groups: [] };
// [held, base, target, granted]
const checks: Array<[string[], string, ScopeTarget, boolean]> = [
  [['read:users'], 'read:users', bob, true],
  [['read:users'], 'read:users', {}, true],
  [['read:users'], 'admin:users', bob, false],
  [['read:users!user=alice'], 'read:users', alice, true],
  [['read:users!user=alice'], 'read:users', bob, false],
  [['read:users!user=alice'], 'read:users', {}, false],
  [['read:users!user=al'], 'read:users', alice, false],
  [['servers!user=alice'], 'servers', aliceGpu, true],
  [['servers!user=alice'], 'servers', bobServer, false],
  [['access:servers!server=alice/'], 'access:servers', aliceDefault, true],
  [['access:servers!server=alice/'], 'access:servers', aliceGpu, false],
  [['access:servers!server=alice/'], 'access:servers', alice, false],
  [['read:users!group=physics'], 'read:users', alice, true],
  [['read:users!group=physics'], 'read:users', bob, false],
  [['servers!group=physics'], 'servers', aliceGpu, true],
  [['read:services!service=cull'], 'read:services', { service: 'cull' }, true],
  [['read:services!service=cull'], 'read:services', { service: 'other' }, false],
  [['read:users!user=bob', 'read:users!user=alice'], 'read:users', alice, true],
];
t.test('hasScope with user, server, group and service filters', async (t) => {
  for (const [held, base, target, want] of checks) {
    t.equal(hasScope(toScopeSet(expandScopes(held)), base, target), want, `${held.join(',')} ${base} on ${JSON.stringify(target)}`);
  }
});

t.test('hasAnyScope tells 403 (no such scope) from 404 (filtered away)', async (t) => {
  const held = toScopeSet(expandScopes(['self'], 'alice'));
  t.ok(hasAnyScope(held, 'read:users'));
  t.notOk(hasScope(held, 'read:users', bob));
  t.notOk(hasAnyScope(held, 'admin:users'));
});

// A normal user's scopes (self) and an admin's (unfiltered).
const aliceOwns = toScopeSet(expandScopes(['self'], 'alice'));
const adminOwns = toScopeSet(expandScopes(['admin:users', 'admin:servers', 'access:servers', 'tokens']));
// [owner, requested, kept]
const intersections: Array<[string, typeof aliceOwns, string[], string[]]> = [
  ['normal user asking admin:users gets nothing', aliceOwns, ['admin:users'], []],
  ['normal user asking expanded admin:users gets nothing', aliceOwns, [...expandScopes(['admin:users'])], []],
  ['same filter is kept', aliceOwns, ['read:users!user=alice'], ['read:users!user=alice']],
  ['server filter under a held user filter is kept', aliceOwns, ['access:servers!server=alice/'], ['access:servers!server=alice/']],
  ['named server under a held user filter is kept', aliceOwns, ['servers!server=alice/gpu'], ['servers!server=alice/gpu']],
  ["another user's server is dropped", aliceOwns, ['access:servers!server=bob/'], []],
  ["another user's scopes are dropped", aliceOwns, ['read:users!user=bob', 'servers!user=bob'], []],
  ['a filter cannot widen to another kind', aliceOwns, ['read:users!group=physics'], []],
  ['admin keeps anything it holds unfiltered', adminOwns, ['admin:users', 'access:servers!server=bob/', 'read:tokens!user=x'], ['admin:users', 'access:servers!server=bob/', 'read:tokens!user=x']],
  ['admin does not get what it does not hold', adminOwns, ['shutdown', 'proxy'], []],
  ['mixed request keeps only the held part', aliceOwns, ['read:users:name!user=alice', 'list:users', 'access:servers!server=alice/x'], ['read:users:name!user=alice', 'access:servers!server=alice/x']],
];
for (const [name, owner, requested, want] of intersections) {
  t.test(`intersectScopes: ${name}`, async (t) => {
    t.strictSame(sorted(intersectScopes(requested, owner)), sorted(want));
  });
}

t.test('intersectScopes: an unfiltered request of a scope held filtered is never granted unfiltered', async (t) => {
  // JupyterHub's _intersect_expanded_scopes would narrow it to read:users!user=alice; tshub drops it.
  const got = intersectScopes(['read:users', 'access:servers'], aliceOwns);
  t.notOk(got.has('read:users'));
  t.notOk(got.has('access:servers'));
});

t.test('intersectScopes never returns a scope the owner lacks (property over a grid)', async (t) => {
  const bases = ['read:users', 'servers', 'access:servers', 'admin:users', 'tokens', 'read:hub'];
  const filters = ['', '!user=alice', '!user=bob', '!server=alice/', '!server=bob/x', '!group=physics'];
  for (const b of bases) {
    for (const f of filters) {
      for (const s of intersectScopes([b + f], aliceOwns)) {
        const target: ScopeTarget = f.startsWith('!server=') ? { user: f.slice(8).split('/')[0], server: f.slice(8) } : { user: f.slice(6) };
        t.ok(hasScope(aliceOwns, splitScope(s).base, target), `${s} is covered by the owner`);
      }
    }
  }
});
