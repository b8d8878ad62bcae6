import t, { type Test } from 'tap';
import { startTestHub, type TestHub } from './support/test-hub.js';

const ADMIN = 'a'.repeat(32);
const USER = 'u'.repeat(32);
const TA = 't'.repeat(32);
const GRADER = 'g'.repeat(32);

interface Res {
  status: number;
  body: any;
  headers: Headers;
}

/** A JSON API client for one token. */
function client(th: TestHub, token: string) {
  return async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Res> => {
    const res = await fetch(`${th.publicUrl}/hub/api${path}`, {
      method,
      headers: { authorization: `token ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers };
  };
}

async function groupsHub(t: Test) {
  return startTestHub(t, {
    config: {
      hub: {
        api_tokens: { [ADMIN]: 'root', [USER]: 'alice', [TA]: 'ta', [GRADER]: 'grader' },
        load_groups: { class: ['s1', 's2'], other: ['s3'], everyone: ['alice', 'bob', 'carol', 'dave'] },
      },
      authenticator: { admin_users: ['root'] },
      load_roles: [
        { name: 'class-ta', scopes: ['read:groups!group=class', 'list:groups!group=class', 'groups!group=class'], users: ['ta'] },
        { name: 'group-lister', scopes: ['list:groups'], groups: ['graders'] },
      ],
    },
  });
}

t.test('admin token walks every endpoint and error case', async (t) => {
  const th = await groupsHub(t);
  const api = client(th, ADMIN);

  const list = await api('GET', '/groups');
  t.equal(list.status, 200);
  t.same(list.body.map((g: any) => g.name), ['class', 'other', 'everyone', 'graders'], 'bare list in id order (load_groups, then load_roles groups)');
  t.same(list.body[0], { kind: 'group', name: 'class', users: ['s1', 's2'], roles: [], properties: {} }, 'full model for an admin');
  t.same(list.body[3], { kind: 'group', name: 'graders', users: [], roles: ['group-lister'], properties: {} }, 'roles held by the group are listed');

  const paged = await api('GET', '/groups?limit=2', undefined, { accept: 'application/jupyterhub-pagination+json' });
  t.equal(paged.status, 200);
  t.same(paged.body.items.map((g: any) => g.name), ['class', 'other']);
  t.match(paged.body._pagination, { offset: 0, limit: 2, total: 4, next: { offset: 2, limit: 2 } });
  t.match(paged.body._pagination.next.url, /\/hub\/api\/groups\?limit=2&offset=2$|\/hub\/api\/groups\?.*offset=2/);
  const last = await api('GET', '/groups?offset=2&limit=2', undefined, { accept: 'application/jupyterhub-pagination+json' });
  t.same(last.body.items.map((g: any) => g.name), ['everyone', 'graders']);
  t.equal(last.body._pagination.next, null, 'no next page at the end');
  t.same((await api('GET', '/groups?offset=1&limit=1')).body.map((g: any) => g.name), ['other'], 'offset/limit without opting in: still a bare list');
  t.equal((await api('GET', '/groups?limit=x')).status, 400, 'non-integer limit');

  // POST /groups
  const bulk = await api('POST', '/groups', { groups: ['g1', 'g2'], users: ['s1'] });
  t.equal(bulk.status, 201);
  t.same(bulk.body, [
    { kind: 'group', name: 'g1', users: ['s1'], roles: [], properties: {} },
    { kind: 'group', name: 'g2', users: ['s1'], roles: [], properties: {} },
  ]);
  t.same((await api('POST', '/groups', {})).body, { status: 400, message: 'Must specify at least one group to create' }, 'no names');
  t.equal((await api('POST', '/groups', { groups: [] })).status, 400, 'empty list');
  t.equal((await api('POST', '/groups')).status, 400, 'no body');
  t.equal((await api('POST', '/groups', { groups: ['a/b'] })).status, 400, "a '/' in a name");
  t.equal((await api('POST', '/groups', { groups: ['tab\there'] })).status, 400, 'a control character in a name');
  t.equal((await api('POST', '/groups', { groups: ['x'.repeat(256)] })).status, 400, 'a name longer than 255');
  t.equal((await api('POST', '/groups', { groups: [''] })).status, 400, 'an empty name');
  t.equal((await api('POST', '/groups', { groups: [7] })).status, 400, 'a non-string name');
  t.equal((await api('POST', '/groups', { groups: ['ok'], colour: 'red' })).status, 400, 'unknown keys');
  t.equal((await api('POST', '/groups', { groups: ['ok'], users: 'alice' })).status, 400, 'users not a list');
  const ghost = await api('POST', '/groups', { groups: ['g3'], users: ['nobody'] });
  t.same(ghost.body, { status: 400, message: 'No such user: nobody' }, 'unknown user');
  t.equal((await api('GET', '/groups/g3')).status, 404, 'and nothing was created');
  const conflict = await api('POST', '/groups', { groups: ['g3', 'g1', 'g4'] });
  t.equal(conflict.status, 409, '409 at the first existing name');
  t.match(conflict.body.message, /g1 already exists/);
  t.equal((await api('GET', '/groups/g3')).status, 200, 'groups before it stay created');
  t.equal((await api('GET', '/groups/g4')).status, 404, 'groups after it are not created');
  t.equal((await api('POST', '/groups', '{nope')).body.message, 'Invalid JSON in body of request');

  // GET /groups/:name
  const one = await api('GET', '/groups/class');
  t.same(one.body, { kind: 'group', name: 'class', users: ['s1', 's2'], roles: [], properties: {} });
  const missing = await api('GET', '/groups/nope');
  t.same(missing.body, { status: 404, message: 'No such group: nope' });
  t.equal((await api('GET', '/groups/' + 'y'.repeat(300))).status, 400, 'the name parameter has a maximum length');

  // POST /groups/:name
  const made = await api('POST', '/groups/solo', { users: ['Alice ', 'bob'] });
  t.equal(made.status, 201);
  t.same(made.body, { kind: 'group', name: 'solo', users: ['alice', 'bob'], roles: [], properties: {} }, 'user names are normalised');
  const bare = await api('POST', '/groups/empty');
  t.equal(bare.status, 201, 'no body is fine');
  t.same(bare.body.users, []);
  const dup = await api('POST', '/groups/class', {});
  t.same(dup.body, { status: 409, message: 'Group class already exists' });
  t.equal((await api('POST', '/groups/newer', { users: ['nobody'] })).status, 400, 'unknown user');
  t.equal((await api('GET', '/groups/newer')).status, 404, 'and not created');
  t.equal((await api('POST', '/groups/bad%2Fname')).status, 400, "an escaped '/' is still refused");
  t.equal((await api('POST', '/groups/x', [1])).status, 400, 'a body that is not a dict');

  // users
  const add = await api('POST', '/groups/empty/users', { users: ['carol', 'alice', 'carol'] });
  t.equal(add.status, 200);
  t.same(add.body.users, ['alice', 'carol'], 'members sorted, duplicates ignored');
  t.equal((await api('POST', '/groups/empty/users', { users: ['alice'] })).status, 200, 'adding a member twice is fine');
  const noUsers = await api('POST', '/groups/empty/users', {});
  t.equal(noUsers.status, 400);
  t.match(noUsers.body.message, /Must specify users/);
  t.equal((await api('POST', '/groups/empty/users')).status, 400, 'no body');
  t.same((await api('POST', '/groups/empty/users', { users: ['alice', 'nobody'] })).body, { status: 400, message: 'No such user: nobody' });
  t.equal((await api('POST', '/groups/nope/users', { users: ['alice'] })).status, 404, 'unknown group');
  const del = await api('DELETE', '/groups/empty/users', { users: ['alice', 'dave'] });
  t.equal(del.status, 200, 'removing, including a non-member');
  t.same(del.body.users, ['carol']);
  t.match((await api('DELETE', '/groups/empty/users', {})).body, { status: 400, message: /Must specify users/ });
  t.equal((await api('DELETE', '/groups/empty/users', { users: ['nobody'] })).status, 400, 'unknown user');
  t.equal((await api('DELETE', '/groups/nope/users', { users: ['carol'] })).status, 404, 'unknown group');

  // properties
  const props = { course: 'course101', limits: { cpu: 2, mem: '2G' }, tags: ['a', 'b'], nothing: null };
  const put = await api('PUT', '/groups/class/properties', props);
  t.equal(put.status, 200);
  t.same(put.body.properties, props, 'properties round trip');
  t.same((await api('GET', '/groups/class')).body.properties, props, 'and are stored');
  const replaced = await api('PUT', '/groups/class/properties', { only: 1 });
  t.same(replaced.body.properties, { only: 1 }, 'a PUT replaces all properties');
  t.same((await api('PUT', '/groups/class/properties', ['x'])).body, { status: 400, message: 'properties must be a dict' });
  t.equal((await api('PUT', '/groups/class/properties', '"str"')).status, 400, 'a string is not a dict');
  t.equal((await api('PUT', '/groups/class/properties')).status, 400, 'no body');
  t.equal((await api('PUT', '/groups/nope/properties', {})).status, 404, 'unknown group');
  t.same((await api('PUT', '/groups/class/properties', {})).body.properties, {}, 'cleared');

  // DELETE /groups/:name
  const gone = await api('DELETE', '/groups/g1');
  t.equal(gone.status, 204);
  t.equal((await api('GET', '/groups/g1')).status, 404, 'deleted');
  t.same((await api('DELETE', '/groups/g1')).body, { status: 404, message: 'No such group: g1' });
  t.notOk((await api('GET', '/users/s1')).body.groups.includes('g1'), 'memberships go with the group');

  // no credentials
  const anon = await fetch(`${th.publicUrl}/hub/api/groups`);
  t.equal(anon.status, 403);
  t.same(await anon.json(), { status: 403, message: 'Missing or invalid credentials.' });
});

t.test('a normal user gets 403 on group actions', async (t) => {
  const th = await groupsHub(t);
  const api = client(th, USER);
  const cases: Array<[string, string, unknown?]> = [
    ['GET', '/groups'],
    ['POST', '/groups', { groups: ['mine'] }],
    ['GET', '/groups/everyone'],
    ['GET', '/groups/nope'],
    ['POST', '/groups/mine'],
    ['DELETE', '/groups/class'],
    ['POST', '/groups/everyone/users', { users: ['alice'] }],
    ['DELETE', '/groups/everyone/users', { users: ['alice'] }],
    ['PUT', '/groups/everyone/properties', {}],
  ];
  for (const [method, path, body] of cases) {
    const res = await api(method, path, body);
    t.equal(res.status, 403, `${method} ${path}`);
    t.match(res.body.message, /^Action is not authorized with current scopes; requires any of \[/);
  }
  t.equal((await client(th, ADMIN)('GET', '/groups/mine')).status, 404, 'nothing was created');
});

t.test('a role filtered to one group sees and edits only that group', async (t) => {
  const th = await groupsHub(t);
  const ta = client(th, TA);
  const list = await ta('GET', '/groups');
  t.equal(list.status, 200);
  t.same(list.body, [{ kind: 'group', name: 'class', users: ['s1', 's2'], properties: {} }], 'only class, without roles (no read:roles:groups)');
  const paged = await ta('GET', '/groups', undefined, { accept: 'application/jupyterhub-pagination+json' });
  t.equal(paged.body._pagination.total, 1, 'the total counts only visible groups');

  t.same((await ta('GET', '/groups/class')).body, { kind: 'group', name: 'class', users: ['s1', 's2'], properties: {} });
  for (const [method, path, body] of [
    ['GET', '/groups/other'],
    ['GET', '/groups/nope'],
    ['POST', '/groups/other/users', { users: ['s1'] }],
    ['DELETE', '/groups/other/users', { users: ['s3'] }],
    ['PUT', '/groups/other/properties', { x: 1 }],
  ] as Array<[string, string, unknown?]>) {
    const res = await ta(method, path, body);
    t.same(res.body, { status: 404, message: 'No access to resources or resources not found' }, `${method} ${path}: 404, not 403`);
  }
  t.equal((await ta('DELETE', '/groups/class')).status, 403, 'no delete:groups at all: 403');
  t.equal((await ta('POST', '/groups/brandnew')).status, 403, 'no admin:groups: 403');
  t.equal((await ta('POST', '/groups', { groups: ['brandnew'] })).status, 403);

  const added = await ta('POST', '/groups/class/users', { users: ['s3'] });
  t.equal(added.status, 200);
  t.same(added.body.users, ['s1', 's2', 's3']);
  t.same((await ta('DELETE', '/groups/class/users', { users: ['s1'] })).body.users, ['s2', 's3']);
  t.same((await ta('PUT', '/groups/class/properties', { ta: 'yes' })).body.properties, { ta: 'yes' });
  const admin = client(th, ADMIN);
  t.same((await admin('GET', '/groups/other')).body.users, ['s3'], 'other is untouched');
  t.same((await admin('GET', '/groups/class')).body.properties, { ta: 'yes' });
});

t.test('nbgrader-style course group', async (t) => {
  const th = await groupsHub(t);
  const api = client(th, ADMIN);
  const created = await api('POST', '/groups/nbgrader-course101');
  t.equal(created.status, 201);
  t.same(created.body, { kind: 'group', name: 'nbgrader-course101', users: [], roles: [], properties: {} });
  t.same((await api('POST', '/groups/nbgrader-course101/users', { users: ['bob', 'alice', 'carol'] })).body.users, ['alice', 'bob', 'carol']);
  t.same((await api('DELETE', '/groups/nbgrader-course101/users', { users: ['bob'] })).body.users, ['alice', 'carol']);
  const back = await api('GET', '/groups/nbgrader-course101');
  t.same(back.body, { kind: 'group', name: 'nbgrader-course101', users: ['alice', 'carol'], roles: [], properties: {} });
  t.same((await api('GET', '/users/alice')).body.groups, ['everyone', 'nbgrader-course101']);
  t.same((await api('GET', '/users/bob')).body.groups, ['everyone']);
});

t.test('membership changes reach user models and cached identities at once', async (t) => {
  const th = await groupsHub(t);
  const admin = client(th, ADMIN);
  const grader = client(th, GRADER);
  // The graders group holds a role with list:groups; grader is not a member yet.
  t.equal((await grader('GET', '/groups')).status, 403, 'not a member: no list:groups');
  t.same((await grader('GET', '/user')).body.groups, []);
  await admin('POST', '/groups/graders/users', { users: ['grader'] });
  const now = await grader('GET', '/groups');
  t.equal(now.status, 200, 'a member: the group role applies on the next request');
  t.same(now.body[0], { kind: 'group', name: 'class' }, 'list:groups alone shows names only');
  t.same((await grader('GET', '/user')).body.groups, ['graders']);
  t.same((await admin('GET', '/users/grader')).body.groups, ['graders'], 'GET /users/:name shows the new group');
  await admin('DELETE', '/groups/graders/users', { users: ['grader'] });
  t.equal((await grader('GET', '/groups')).status, 403, 'removed: the role is gone at once');
  t.same((await admin('GET', '/users/grader')).body.groups, []);
  await admin('POST', '/groups/graders/users', { users: ['grader'] });
  t.equal((await grader('GET', '/groups')).status, 200);
  t.equal((await admin('DELETE', '/groups/graders')).status, 204);
  t.equal((await grader('GET', '/groups')).status, 403, 'deleting the group drops its role at once');
});
