import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import type tap from 'tap';
import { escapeUsername, SpawnError } from '@tshub/plugin-api';
import type { JsonObject, Spawner, SpawnerCommonConfig } from '@tshub/plugin-api';
import type { SimpleSpawnerConfig } from './config.js';
import { findFreePort } from '@tshub/plugin-api';
import { LocalProcessServer } from './local-process-server.js';
import { simpleSpawner } from './simple-spawner.js';
import { makeSpawnContext, recordingLogger } from './spawn-context-fixture.js';

/**
 * A stand-in single-user server: binds the host and port of JUPYTERHUB_SERVICE_URL and answers every
 * request with what it sees. Flags (extra argv): ignore-int, grandchild, stubborn-grandchild.
 */
const SERVER = `
const http = require('http'), cp = require('child_process');
const flags = process.argv.slice(1);
if (flags.includes('ignore-int')) process.on('SIGINT', () => {});
let kid = null;
if (flags.includes('grandchild') || flags.includes('stubborn-grandchild')) {
  const body = flags.includes('stubborn-grandchild')
    ? "process.on('SIGINT', () => {}); process.on('SIGTERM', () => {}); setInterval(() => {}, 1e6)"
    : 'setInterval(() => {}, 1e6)';
  kid = cp.spawn(process.execPath, ['-e', body], { stdio: 'ignore' });
}
const u = new URL(process.env.JUPYTERHUB_SERVICE_URL);
http.createServer((req, res) => {
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ env: process.env, cwd: process.cwd(), pid: process.pid, grandchild: kid && kid.pid, argv: process.argv }));
}).listen(Number(u.port), u.hostname, () => console.log('listening on ' + u.port));
`;

interface ServerView {
  env: Record<string, string>;
  cwd: string;
  pid: number;
  grandchild: number | null;
}

/** Live (not zombie) according to /proc: orphans are not always reaped in containers. */
async function running(pid: number): Promise<boolean> {
  const text = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  const st = text.slice(text.lastIndexOf(')') + 2, text.lastIndexOf(')') + 3);
  return st !== '' && st !== 'Z' && st !== 'X';
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function getJson(url: string): Promise<ServerView> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => (res.statusCode === 200 ? resolve(JSON.parse(body) as ServerView) : reject(new Error(`HTTP ${res.statusCode}`))));
      })
      .on('error', reject);
  });
}

/** A temp root with homes/ and logs/, a spawner factory, and teardown that kills whatever was spawned. */
async function setup(t: Pick<typeof tap, 'teardown'>) {
  const root = await mkdtemp(path.join(os.tmpdir(), 'tshub-simple-test-'));
  const spawners: Spawner[] = [];
  const groups: number[] = [];
  const config: SimpleSpawnerConfig = {
    home_dir_template: path.join(root, 'homes', '{escaped_username}'),
    log_dir: path.join(root, 'logs'),
    interrupt_timeout: 2,
    term_timeout: 2,
    kill_timeout: 2,
  };
  const make = (opts: { user?: string; args?: string[]; common?: Partial<SpawnerCommonConfig>; config?: Partial<SimpleSpawnerConfig>; state?: JsonObject } = {}) => {
    const ctx = makeSpawnContext({
      user: opts.user,
      state: opts.state,
      config: { ...config, ...opts.config },
      common: { cmd: [process.execPath, '-e', SERVER], args: opts.args ?? [], ...opts.common },
    });
    const spawner = simpleSpawner.create(ctx);
    spawners.push(spawner);
    return spawner;
  };
  const start = async (spawner: Spawner) => {
    const result = await spawner.start(new AbortController().signal);
    const pid = spawner.state().pid;
    if (typeof pid === 'number') groups.push(pid);
    return result;
  };
  t.teardown(async () => {
    await Promise.all(spawners.map((s) => s.stop({ now: true }).catch(() => undefined)));
    for (const pgid of groups) {
      try {
        process.kill(-pgid, 'SIGKILL');
      } catch {
        // already gone: the normal case
      }
    }
    await rm(root, { recursive: true, force: true });
  });
  /** Starts, then waits until the server answers. */
  const serve = async (spawner: Spawner) => {
    const { url } = await start(spawner);
    return waitFor('the server to answer', () => getJson(url));
  };
  return { root, config, make, start, serve };
}

t.test('starts a server that is reachable, polls, re-adopts from state and stops its whole process group', async (t) => {
  const { root, make, start } = await setup(t);
  const first = make({ args: ['grandchild'] });
  const { url } = await start(first);
  t.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);
  const view = await waitFor('the server to answer', () => getJson(url));
  t.same(await first.poll(), { running: true });
  t.ok(view.grandchild, 'the server started a grandchild');
  t.ok(await running(view.grandchild as number));

  const port = Number(new URL(url).port);
  t.equal(view.env.JUPYTERHUB_SERVICE_URL, `http://127.0.0.1:${port}/user/alice/`);
  t.equal(view.env.JUPYTERHUB_API_TOKEN, 'test-token', 'the hub environment is passed through');
  const home = path.join(root, 'homes', 'alice');
  t.same([view.env.HOME, view.env.USER, view.env.SHELL, view.cwd], [home, 'alice', '/bin/bash', home]);
  t.equal((await stat(home)).mode & 0o777, 0o700);

  const state = JSON.parse(JSON.stringify(first.state())) as JsonObject;
  t.same(Object.keys(state).sort(), ['ip', 'log_file', 'pid', 'port', 'start_time']);
  t.equal(state.pid, view.pid);
  t.equal(state.port, port);
  t.equal((await stat(state.log_file as string)).mode & 0o777, 0o600);

  // A restarted hub: a new instance built from the persisted state only.
  const second = make({ state });
  t.same(await second.poll(), { running: true });
  const began = Date.now();
  await second.stop({ now: false });
  t.ok(Date.now() - began < 5000, 'SIGINT is enough for a well-behaved server (interrupt_timeout is 10 s)');
  t.same(await second.poll(), { running: false });
  t.same(second.state(), {});
  t.notOk(await running(view.pid), 'the server is gone');
  await waitFor('the grandchild to die', async () => ((await running(view.grandchild as number)) ? undefined : true), 2000);
  t.match(await (second as LocalProcessServer<SimpleSpawnerConfig>).lastOutput(), /listening on \d+/);
  t.match(await first.poll(), { running: false });
});

t.test('escalates to SIGTERM and SIGKILL, also for stragglers after the leader exited', async (t) => {
  const { make, start, serve } = await setup(t);
  const quick = { interrupt_timeout: 0.3, term_timeout: 0.3, kill_timeout: 2 };
  const stubbornLeader = make({ args: ['ignore-int'], config: quick });
  const leaderView = await serve(stubbornLeader);
  const began = Date.now();
  await stubbornLeader.stop({ now: false });
  t.ok(Date.now() - began >= 250, 'waited interrupt_timeout before SIGTERM');
  t.notOk(await running(leaderView.pid));

  const stubbornKid = make({ user: 'bob', args: ['stubborn-grandchild'], config: quick });
  const { url } = await start(stubbornKid);
  const kidView = await waitFor('server', () => getJson(url));
  await stubbornKid.stop({ now: false });
  t.notOk(await running(kidView.pid));
  t.notOk(await running(kidView.grandchild as number), 'a grandchild ignoring SIGINT and SIGTERM got SIGKILL');

  const now = make({ user: 'carol', args: ['ignore-int'] });
  const nowView = await serve(now);
  const t0 = Date.now();
  await now.stop({ now: true });
  t.ok(Date.now() - t0 < 5000, 'stop({now}) does not wait for interrupt_timeout (10 s)');
  t.notOk(await running(nowView.pid));
  await now.stop({ now: true });
  await make({ user: 'dave' }).stop({ now: false });
  t.pass('stop is safe twice and before start');
});

t.test('a command that is missing or not executable fails with command-not-found', async (t) => {
  const { root, make } = await setup(t);
  const notExec = path.join(root, 'not-executable');
  await writeFile(notExec, '#!/bin/sh\n', { mode: 0o644 });
  for (const [cmd, message] of [
    ['tshub-no-such-command', "Spawn failed: command 'tshub-no-such-command' not found"],
    [path.join(root, 'nope'), `Spawn failed: command '${path.join(root, 'nope')}' not found`],
    [notExec, `Spawn failed: command '${notExec}' is not executable (permission denied)`],
  ] as const) {
    const spawner = make({ common: { cmd: [cmd] } });
    await t.rejects(spawner.start(new AbortController().signal), { name: 'SpawnError', reason: 'command-not-found', message });
    t.same(await spawner.poll(), { running: false });
    await spawner.stop({ now: false });
  }
});

t.test('an early exit is reported by poll with its status, and lastOutput shows the last lines', async (t) => {
  const { make, start } = await setup(t);
  const script = "for (let i = 0; i < 40; i++) console.log('line ' + i); console.error('fatal: boom'); process.exit(3)";
  const spawner = make({ common: { cmd: [process.execPath, '-e', script] } }) as LocalProcessServer<SimpleSpawnerConfig>;
  await start(spawner);
  const result = await waitFor('the exit', async () => {
    const r = await spawner.poll();
    return r.running ? undefined : r;
  });
  t.same(result, { running: false, exitCode: 3 });
  const tail = (await spawner.lastOutput()).split('\n');
  t.equal(tail.length, 15);
  t.equal(tail.at(-1), 'fatal: boom');
  t.equal(tail[0], 'line 26');
});

t.test('respects a fixed port, the abort signal, notebook_dir and odd user names', async (t) => {
  const { root, make, start, serve } = await setup(t);
  const port = await findFreePort('127.0.0.1');
  const fixed = make({ common: { port } });
  t.equal((await start(fixed)).url, `http://127.0.0.1:${port}`);
  await waitFor('server', () => getJson(`http://127.0.0.1:${port}`));
  await fixed.stop({ now: true });

  const aborted = new AbortController();
  aborted.abort(new Error('cancelled by the user'));
  await t.rejects(make().start(aborted.signal), { message: 'cancelled by the user' });

  await t.rejects(make({ common: { notebook_dir: '~/missing' } }).start(new AbortController().signal), { name: 'SpawnError', reason: 'cwd-missing' });
  await mkdir(path.join(root, 'homes', 'alice', 'work'), { recursive: true });
  const nb = make({ common: { notebook_dir: '~/work' } });
  t.equal((await serve(nb)).cwd, path.join(root, 'homes', 'alice', 'work'));

  for (const user of ['../x', 'élodie', 'a@b.c']) {
    const s = make({ user });
    const view = await serve(s);
    t.equal(view.cwd, path.join(root, 'homes', escapeUsername(user)), `home of ${user} stays under the root`);
    t.equal(view.env.USER, user);
    await s.stop({ now: true });
  }
  const raw = make({ user: '../x', config: { home_dir_template: path.join(root, 'homes', '{username}') } });
  await t.rejects(raw.start(new AbortController().signal), new SpawnError('unsafe-path', "Spawn failed: the name '../x' cannot be used in a file path ({username} in '" + path.join(root, 'homes', '{username}') + "')."));
});

t.test('an abort after the process was spawned kills it and rejects', async (t) => {
  const { config } = await setup(t);
  const controller = new AbortController();
  const log = recordingLogger();
  // Abort at the last moment: when the spawner logs that the process exists.
  log.info = (obj, msg) => {
    log.records.push({ level: 'info', obj, msg });
    if (msg === 'spawned server process') controller.abort(new Error('start_timeout'));
  };
  const spawner = simpleSpawner.create(makeSpawnContext({ config, log, common: { cmd: [process.execPath, '-e', SERVER] } }));
  t.teardown(() => spawner.stop({ now: true }));
  await t.rejects(spawner.start(controller.signal), { message: 'start_timeout' });
  const spawned = log.records.find((r) => r.msg === 'spawned server process')?.obj as { pid: number };
  t.notOk(await running(spawned.pid), 'the spawned process was killed');
  t.same(spawner.state(), {});
});

t.test('never signals a pid that now belongs to another process', async (t) => {
  const { make } = await setup(t);
  const { spawn } = await import('node:child_process');
  const bystander = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1e6)'], { detached: true, stdio: 'ignore' });
  t.teardown(() => {
    bystander.kill('SIGKILL');
  });
  await new Promise((r) => bystander.once('spawn', r));
  const spawner = make({ state: { pid: bystander.pid as number, ip: '127.0.0.1', port: 1, start_time: 1 } });
  t.same(await spawner.poll(), { running: false }, 'a different start time means the pid was reused');
  await spawner.stop({ now: true });
  t.ok(await running(bystander.pid as number), 'the bystander was left alone');
});
