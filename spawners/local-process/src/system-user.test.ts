import t from 'tap';
import { recordingLogger } from './spawn-context-fixture.js';
import { addUserArgv, ensureSystemUser, isValidUnixName, lookupSystemUser, parsePasswdLine } from './system-user.js';

t.test('isValidUnixName accepts conservative names only', async (t) => {
  for (const ok of ['alice', 'bob_2', '_svc', 'a-b', 'x'.repeat(32)]) t.ok(isValidUnixName(ok), ok);
  for (const bad of ['', 'Alice', '-rf', '1000', '../x', 'a b', 'a@b.c', 'élodie', 'x'.repeat(33), 'a\nb', 'a:b']) {
    t.notOk(isValidUnixName(bad), JSON.stringify(bad));
  }
});

t.test('parsePasswdLine and addUserArgv', async (t) => {
  t.same(parsePasswdLine('bob:x:1001:1002:Bob,,,:/home/bob:/bin/bash\n'), { name: 'bob', uid: 1001, gid: 1002, home: '/home/bob', shell: '/bin/bash' });
  t.equal(parsePasswdLine('bob:x:oops:1:::'), null);
  t.same(addUserArgv(['useradd', '--create-home', 'USERNAME'], 'bob'), ['useradd', '--create-home', 'bob']);
  t.same(addUserArgv(['adduser', '--home=/srv/USERNAME', 'USERNAME'], 'bob'), ['adduser', '--home=/srv/bob', 'bob']);
  t.same(addUserArgv(['adduser', '-q'], 'bob'), ['adduser', '-q', 'bob'], 'the name is appended when USERNAME is absent');
});

t.test('lookupSystemUser reads NSS and reports missing accounts as null', async (t) => {
  const root = await lookupSystemUser('root');
  t.match(root, { name: 'root', uid: 0, gid: 0 });
  t.ok(root?.groups.includes(0));
  t.equal(await lookupSystemUser('tshubnosuchuser'), null);
});

t.test('ensureSystemUser explains invalid and missing accounts', async (t) => {
  const opts = { create: false, addUserCmd: ['false'], log: recordingLogger() };
  await t.rejects(ensureSystemUser('-rf', opts), { name: 'SpawnError', reason: 'invalid-username' });
  await t.rejects(ensureSystemUser('tshubnosuchuser', opts), {
    name: 'SpawnError',
    reason: 'no-such-user',
    message: /^Spawn failed: there is no system account named 'tshubnosuchuser' on the hub's machine\. .*create_system_users: true/,
  });
  await t.rejects(ensureSystemUser('tshubnosuchuser', { ...opts, create: true, addUserCmd: ['false'] }), {
    name: 'SpawnError',
    reason: 'user-creation-failed',
    message: "Spawn failed: could not create the system account 'tshubnosuchuser': exit status 1",
  });
});
