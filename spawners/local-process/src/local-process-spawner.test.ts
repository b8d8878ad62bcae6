import { execFile } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import type { Spawner } from '@tshub/plugin-api';
import type { LocalProcessSpawnerConfig } from './config.js';
import type { LocalProcessServer } from './local-process-server.js';
import { localProcessSpawner } from './local-process-spawner.js';
import { makeSpawnContext } from './spawn-context-fixture.js';
import { lookupSystemUser } from './system-user.js';

const run = promisify(execFile);
const isRoot = process.geteuid?.() === 0;
const mustRun = process.env.TSHUB_TEST_REQUIRE_ALL === '1';

/** Prints who it runs as, then stays up until signalled. */
const REPORT = 'echo "uid=$(id -u) groups=$(id -G) cwd=$(pwd)"; echo "env=$HOME $USER $LOGNAME $SHELL $JUPYTERHUB_SERVICE_URL"; exec sleep 60';

async function waitForOutput(spawner: LocalProcessServer<LocalProcessSpawnerConfig>, pattern: RegExp): Promise<string> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const out = await spawner.lastOutput();
    if (pattern.test(out)) return out;
    if (Date.now() > deadline) throw new Error(`no ${pattern} in output: ${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

t.test('local-process creates a system account and runs the server as it', { skip: !isRoot && !mustRun && 'needs root' }, async (t) => {
  if (!isRoot) return t.fail('TSHUB_TEST_REQUIRE_ALL=1 but the tests do not run as root');
  const name = `tshubt${Math.random().toString(16).slice(2, 10)}`;
  const group = `tshubg${Math.random().toString(16).slice(2, 10)}`;
  const logs = await mkdtemp(path.join(os.tmpdir(), 'tshub-lp-test-'));
  const spawners: Spawner[] = [];
  t.teardown(async () => {
    await Promise.all(spawners.map((s) => s.stop({ now: true }).catch(() => undefined)));
    await run('userdel', ['-r', name]).catch(() => undefined);
    await run('groupdel', [group]).catch(() => undefined);
    await rm(logs, { recursive: true, force: true });
  });
  const make = (serverName = '') => {
    const spawner = localProcessSpawner.create(
      makeSpawnContext<LocalProcessSpawnerConfig>({
        user: name,
        serverName,
        config: { create_system_users: true, log_dir: logs, interrupt_timeout: 2, term_timeout: 2, kill_timeout: 2 },
        common: { cmd: ['sh', '-c', REPORT], port: 0 },
      }),
    ) as LocalProcessServer<LocalProcessSpawnerConfig>;
    spawners.push(spawner);
    return spawner;
  };

  const first = make();
  const { url } = await first.start(new AbortController().signal);
  const account = await lookupSystemUser(name);
  if (account === null) return t.fail('the account was not created');
  t.equal(account.home, `/home/${name}`);
  const out = await waitForOutput(first, /env=/);
  const port = new URL(url).port;
  t.match(out, `uid=${account.uid} `);
  t.match(out, `cwd=${account.home}\n`);
  t.match(out, `env=${account.home} ${name} ${name} /bin/bash http://127.0.0.1:${port}/user/${name}/`);
  t.same(await first.poll(), { running: true });
  const logFile = first.state().log_file as string;
  t.match(await stat(logFile), { uid: account.uid, gid: account.gid, mode: 0o100600 });

  // Supplementary groups survive the switch (Node's own uid/gid options would drop them).
  await run('groupadd', [group]);
  await run('usermod', ['-aG', group, name]);
  const gid = (await run('getent', ['group', group])).stdout.split(':')[2] as string;
  const second = make('extra');
  await second.start(new AbortController().signal);
  t.match(await waitForOutput(second, /env=/), new RegExp(`groups=[0-9 ]*\\b${gid}\\b`));

  const pid = first.state().pid as number;
  await first.stop({ now: false });
  await second.stop({ now: false });
  t.same(await first.poll(), { running: false, exitCode: 130 }, 'the shell exec\'d sleep, which SIGINT ended');
  await t.rejects(run('kill', ['-0', String(pid)]), 'the server process is gone');
});

t.test('local-process refuses names that cannot be accounts before running anything', async (t) => {
  const spawner = localProcessSpawner.create(
    makeSpawnContext<LocalProcessSpawnerConfig>({ user: 'a@b.c', config: { create_system_users: true, add_user_cmd: ['false'] } }),
  );
  await t.rejects(spawner.start(new AbortController().signal), { name: 'SpawnError', reason: 'invalid-username' });
  t.same(await spawner.poll(), { running: false });
});
