import t from 'tap';
import { lookupHostAccount, parsePasswdLine } from './system-user.js';

t.test('passwd lines', async (t) => {
  t.same(parsePasswdLine('amy:x:1001:100:Amy,,,:/home/amy:/bin/bash\n'), { name: 'amy', uid: 1001, gid: 100, home: '/home/amy', shell: '/bin/bash' });
  t.equal(parsePasswdLine('broken:x:1'), null);
  t.equal(parsePasswdLine('bad:x:one:100::/home/bad:/bin/sh'), null);
});

t.test('host accounts are looked up through getent', async (t) => {
  t.match(await lookupHostAccount('root'), { name: 'root', uid: 0, gid: 0, home: '/root' });
  t.equal(await lookupHostAccount('no-such-user-tshub'), null);
  t.equal(await lookupHostAccount('amy@example.org'), null, 'a hub name that cannot be an account name has no account (no error)');
});
