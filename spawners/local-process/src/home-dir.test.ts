import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { ensureSimpleHome, expandPathTemplate, notebookDir, pathTemplateValues } from './home-dir.js';

const values = (user: string, server = '') => pathTemplateValues(user, server);

t.test('expandPathTemplate keeps every expansion under the fixed prefix', async (t) => {
  const base = '/srv/hub';
  t.equal(expandPathTemplate('tshub-homes/{escaped_username}', values('alice'), base), '/srv/hub/tshub-homes/alice');
  t.equal(expandPathTemplate('tshub-homes/{escaped_username}', values('../x'), base), '/srv/hub/tshub-homes/-2e-2e-2fx');
  t.equal(expandPathTemplate('/home/{escaped_username}', values('a@b.c'), base), '/home/a-40b-2ec');
  t.equal(expandPathTemplate('/home/{escaped_username}', values('élodie'), base), '/home/-c3a9lodie');
  t.equal(expandPathTemplate('/data/u-{username}/{servername}', values('bob', 'gpu'), base), '/data/u-bob/gpu');
  t.equal(expandPathTemplate('/home/{username}', values('élodie'), base), '/home/élodie', 'raw names without a slash are fine');
  t.equal(expandPathTemplate('/fixed/path', values('../x'), base), '/fixed/path');
  for (const [template, user] of [
    ['/home/{username}', '../x'],
    ['/home/{username}', '..'],
    ['/home/{username}', 'a/b'],
    ['homes/{username}', '.'],
    ['/home/{escaped_username}/../{username}', 'x/y'],
  ] as const) {
    t.throws(() => expandPathTemplate(template, values(user), base), { name: 'SpawnError', reason: 'unsafe-path' }, `${template} with ${user}`);
  }
  t.throws(() => expandPathTemplate('/home/{escaped_username}', values(''), base), { name: 'SpawnError', reason: 'unsafe-path' }, 'an empty name is the root itself');
});

t.test('ensureSimpleHome creates the directory with mode 0700 under the base', async (t) => {
  const base = await mkdtemp(path.join(os.tmpdir(), 'tshub-home-test-'));
  t.teardown(() => rm(base, { recursive: true, force: true }));
  const home = await ensureSimpleHome('tshub-homes/{escaped_username}', '../x', '', base);
  t.equal(home, path.join(base, 'tshub-homes', '-2e-2e-2fx'));
  t.equal((await stat(home)).mode & 0o777, 0o700);
  t.equal(await ensureSimpleHome('tshub-homes/{escaped_username}', '../x', '', base), home, 'an existing home is fine');
});

t.test('notebookDir: empty means home, ~ and relative paths are inside home', async (t) => {
  t.equal(notebookDir('', '/h/alice', 'alice', ''), '/h/alice');
  t.equal(notebookDir('~', '/h/alice', 'alice', ''), '/h/alice');
  t.equal(notebookDir('~/work', '/h/alice', 'alice', ''), '/h/alice/work');
  t.equal(notebookDir('work', '/h/alice', 'alice', ''), '/h/alice/work');
  t.equal(notebookDir('/srv/nb/{username}', '/h/alice', 'alice', ''), '/srv/nb/alice');
  t.throws(() => notebookDir('/srv/nb/{username}', '/h/x', '../x', ''), { name: 'SpawnError', reason: 'unsafe-path' });
});
