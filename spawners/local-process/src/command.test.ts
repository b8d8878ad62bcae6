import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { commandArgv, resolveExecutable, setprivArgv, withAllowRoot } from './command.js';
import { planSimpleLaunch } from './simple-spawner.js';
import { makeSpawnContext } from './spawn-context-fixture.js';

t.test('commandArgv uses jupyterhub-singleuser when cmd is empty', async (t) => {
  t.same(commandArgv({ cmd: [], args: ['--debug'] }), ['jupyterhub-singleuser', '--debug']);
  t.same(commandArgv({ cmd: ['python3', '-m', 'x'], args: ['a'] }), ['python3', '-m', 'x', 'a']);
});

t.test('withAllowRoot adds --allow-root only for jupyterhub-singleuser running as root', async (t) => {
  const cases: [string[], boolean, string[]][] = [
    [['jupyterhub-singleuser'], true, ['jupyterhub-singleuser', '--allow-root']],
    [['/usr/bin/jupyterhub-singleuser', '--debug'], true, ['/usr/bin/jupyterhub-singleuser', '--debug', '--allow-root']],
    [['jupyterhub-singleuser'], false, ['jupyterhub-singleuser']],
    [['jupyterhub-singleuser', '--allow-root'], true, ['jupyterhub-singleuser', '--allow-root']],
    [['jupyterhub-singleuser', '--ServerApp.allow_root=False'], true, ['jupyterhub-singleuser', '--ServerApp.allow_root=False']],
    [['jupyter-lab'], true, ['jupyter-lab']],
    [['python3', 'jupyterhub-singleuser'], true, ['python3', 'jupyterhub-singleuser']],
  ];
  for (const [argv, root, want] of cases) t.same(withAllowRoot(argv, root), want, `${argv.join(' ')} as ${root ? 'root' : 'user'}`);
});

t.test('the simple kind applies the --allow-root rule for the effective uid', async (t) => {
  const root = await mkdtemp(path.join(os.tmpdir(), 'tshub-cmd-test-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const ctx = makeSpawnContext({ config: { home_dir_template: path.join(root, '{escaped_username}') }, common: { cmd: [] } });
  const plan = await planSimpleLaunch(ctx);
  const asRoot = process.geteuid?.() === 0;
  t.same(plan.argv, asRoot ? ['jupyterhub-singleuser', '--allow-root'] : ['jupyterhub-singleuser']);
  t.same(plan.userEnv, { HOME: path.join(root, 'alice'), USER: 'alice', SHELL: '/bin/bash' });
});

t.test('resolveExecutable searches PATH like execvp and tells missing from not executable', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tshub-cmd-test-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(path.join(dir, 'tool'), '#!/bin/sh\n');
  await chmod(path.join(dir, 'tool'), 0o755);
  await writeFile(path.join(dir, 'plain'), 'data');
  t.same(await resolveExecutable('tool', `/nonexistent:${dir}`, '/'), { found: true, path: path.join(dir, 'tool') });
  t.same(await resolveExecutable('./tool', '', dir), { found: true, path: path.join(dir, 'tool') });
  t.same(await resolveExecutable('plain', dir, '/'), { found: false, reason: 'not-executable' });
  t.same(await resolveExecutable('nope', dir, '/'), { found: false, reason: 'not-found' });
  t.same(await resolveExecutable('tool', '', dir), { found: true, path: path.join(dir, 'tool') }, 'an empty PATH entry is the cwd');
});

t.test('setprivArgv sets uid, gid and every group before the command', async (t) => {
  t.same(setprivArgv('/usr/bin/setpriv', { uid: 1001, gid: 1001, groups: [1001, 27] }, ['/usr/bin/id']), [
    '/usr/bin/setpriv', '--reuid=1001', '--regid=1001', '--groups=1001,27', '--', '/usr/bin/id',
  ]);
  t.same(setprivArgv('/usr/bin/setpriv', { uid: 5, gid: 6, groups: [] }, ['x']).at(3), '--groups=6');
});
