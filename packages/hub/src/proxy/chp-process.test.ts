import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { ChpClient } from './chp-client.js';
import { defaultChpCommand } from './chp-command.js';
import { ChpProcess } from './chp-process.js';
import type { ChpProcessOptions } from './chp-process.js';

type Test = typeof t;
interface LogLine { level: string; obj: unknown; msg: string | undefined }

async function freePort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function testLogger(): { log: ChpProcessOptions['log']; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const at = (level: string) => (obj: object | string, msg?: string): void => {
    lines.push({ level, obj, msg: typeof obj === 'string' ? obj : msg });
  };
  return { log: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }, lines };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // a zombie has an empty cmdline
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8') !== '';
  } catch {
    return false;
  }
}

function tempDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'tshub-chp-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function proxyOptions(overrides: Partial<ChpProcessOptions> = {}): Promise<ChpProcessOptions & { lines: LogLine[] }> {
  const { log, lines } = testLogger();
  return {
    publicIp: '127.0.0.1',
    publicPort: await freePort(),
    apiIp: '127.0.0.1',
    apiPort: await freePort(),
    authToken: randomBytes(16).toString('hex'),
    errorTarget: 'http://127.0.0.1:1/hub/error',
    log,
    lines,
    ...overrides,
  };
}

function startedProxy(t: Test, options: ChpProcessOptions): ChpProcess {
  const proxy = new ChpProcess(options);
  t.teardown(() => proxy.stop());
  return proxy;
}

async function targetServer(t: Test, name: string): Promise<string> {
  const server: Server = createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ name, url: req.url }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function getThroughProxy(url: string): Promise<{ status: number; body: string } | undefined> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(1_000) });
    return { status: res.status, body: await res.text() };
  } catch {
    return undefined;
  }
}

t.test('start, pid file, token only in the environment, stop leaves no process', async (t) => {
  const dir = tempDir(t);
  const pidFile = join(dir, 'proxy.pid');
  const options = await proxyOptions({ pidFile });
  const proxy = startedProxy(t, options);
  await proxy.start();
  const pid = proxy.pid;
  if (pid === undefined) throw new Error('no pid');
  t.ok(alive(pid), 'child runs');
  t.equal(readFileSync(pidFile, 'utf8').trim(), String(pid), 'pid file names the child');
  const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  t.match(cmdline, 'configurable-http-proxy');
  t.notMatch(cmdline, options.authToken, 'token is not on the command line');
  t.match(readFileSync(`/proc/${pid}/environ`, 'utf8'), `CONFIGPROXY_AUTH_TOKEN=${options.authToken}`);
  t.ok(options.lines.some((l) => l.level === 'debug' && /Proxy API at/.test(l.msg ?? '')), 'proxy output forwarded');
  t.ok(proxy.recentOutput.length > 0);

  const client = new ChpClient({ apiUrl: proxy.apiUrl, authToken: options.authToken });
  t.same([...(await client.getRoutes()).keys()], [], 'API answers, no routes');

  await proxy.stop();
  t.notOk(alive(pid), 'process is gone after stop()');
  t.notOk(existsSync(pidFile), 'pid file removed');
  t.equal(proxy.pid, undefined);
  t.notOk(options.lines.some((l) => l.level === 'error'), 'no unexpected-exit error logged on stop');
});

t.test('restart after SIGKILL: onRestart restores routes and traffic flows again', async (t) => {
  const target = await targetServer(t, 'alice');
  const options = await proxyOptions({ checkIntervalMs: 60_000 });
  const proxy = startedProxy(t, options);
  const client = new ChpClient({ apiUrl: proxy.apiUrl, authToken: options.authToken });
  let restarts = 0;
  proxy.onRestart(async () => {
    restarts++;
    await client.addRoute('/user/a%40b.c/', target, { user: 'a@b.c', server_name: '' });
  });
  await proxy.start();
  await client.addRoute('/user/a%40b.c/', target, { user: 'a@b.c', server_name: '' });
  const url = `http://127.0.0.1:${options.publicPort}/user/a@b.c/api/status`;
  t.equal((await getThroughProxy(url))?.status, 200, 'traffic flows before the crash');

  const oldPid = proxy.pid;
  if (oldPid === undefined) throw new Error('no pid');
  const killedAt = performance.now();
  process.kill(oldPid, 'SIGKILL');
  let elapsed = Number.POSITIVE_INFINITY;
  while (performance.now() - killedAt < 10_000) {
    const res = await getThroughProxy(url);
    if (res?.status === 200 && JSON.parse(res.body).name === 'alice') {
      elapsed = performance.now() - killedAt;
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  t.comment(`restart-to-traffic: ${elapsed.toFixed(0)} ms`);
  t.ok(elapsed < 10_000, `traffic flows again ${elapsed.toFixed(0)} ms after SIGKILL`);
  t.equal(restarts, 1, 'onRestart ran once');
  t.not(proxy.pid, oldPid, 'a new child runs');
  t.notOk(alive(oldPid));
  t.ok(options.lines.some((l) => l.level === 'error' && /exited unexpectedly/.test(l.msg ?? '')), 'crash logged');
  t.same([...(await client.getRoutes()).keys()], ['/user/a@b.c/']);

  // a second crash right away is restarted after a backoff delay
  const secondPid = proxy.pid;
  if (secondPid === undefined) throw new Error('no pid');
  process.kill(secondPid, 'SIGKILL');
  const deadline = Date.now() + 10_000;
  while (restarts < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  t.equal(restarts, 2, 'restarted again');
  t.ok(options.lines.some((l) => l.level === 'warn' && /backing off/.test(l.msg ?? '')), 'backoff logged');
});

t.test('a hung proxy (SIGSTOP) is detected by the liveness check and restarted', async (t) => {
  const options = await proxyOptions({ checkIntervalMs: 200 });
  const proxy = startedProxy(t, options);
  let restarted = false;
  proxy.onRestart(async () => {
    restarted = true;
  });
  await proxy.start();
  const pid = proxy.pid;
  if (pid === undefined) throw new Error('no pid');
  process.kill(pid, 'SIGSTOP');
  t.teardown(() => {
    if (alive(pid)) process.kill(pid, 'SIGKILL');
  });
  const deadline = Date.now() + 10_000;
  while (!restarted && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  t.ok(restarted, 'restarted');
  t.not(proxy.pid, pid);
  t.notOk(alive(pid), 'hung child was killed');
  t.ok(options.lines.some((l) => /hung/.test(l.msg ?? '')), 'hang logged');
});

t.test('a proxy left over from a crashed hub (pid file) is terminated first', async (t) => {
  const dir = tempDir(t);
  const pidFile = join(dir, 'proxy.pid');
  const options = await proxyOptions({ pidFile });
  // the "previous hub's" proxy, on the same ports, as an orphan we only know by its pid
  const [file, ...lead] = defaultChpCommand();
  if (file === undefined) throw new Error('no command');
  const stale = spawn(file, [...lead, '--ip', '127.0.0.1', '--port', String(options.publicPort), '--api-ip', '127.0.0.1', '--api-port', String(options.apiPort)], {
    env: { ...process.env, CONFIGPROXY_AUTH_TOKEN: 'old-token' },
    stdio: 'ignore',
  });
  const stalePid = stale.pid;
  if (stalePid === undefined) throw new Error('no pid');
  t.teardown(() => {
    if (alive(stalePid)) process.kill(stalePid, 'SIGKILL');
  });
  const probe = new ChpClient({ apiUrl: `http://127.0.0.1:${options.apiPort}`, authToken: 'old-token', getRetryTimeoutMs: 10_000 });
  await probe.getRoutes();
  writeFileSync(pidFile, `${stalePid}\n`);

  const proxy = startedProxy(t, options);
  await proxy.start();
  t.notOk(alive(stalePid), 'leftover proxy terminated');
  t.not(proxy.pid, stalePid);
  t.equal(readFileSync(pidFile, 'utf8').trim(), String(proxy.pid));
  const client = new ChpClient({ apiUrl: proxy.apiUrl, authToken: options.authToken });
  t.same([...(await client.getRoutes()).keys()], [], 'the new proxy (new token) answers');
  t.ok(options.lines.some((l) => /left over/.test(l.msg ?? '')));
});

t.test('a pid file naming another program or a dead pid is removed, the process left alone', async (t) => {
  const dir = tempDir(t);
  const pidFile = join(dir, 'proxy.pid');
  const other = spawn('sleep', ['30'], { stdio: 'ignore' });
  const otherPid = other.pid;
  if (otherPid === undefined) throw new Error('no pid');
  t.teardown(() => {
    if (alive(otherPid)) process.kill(otherPid, 'SIGKILL');
  });
  writeFileSync(pidFile, String(otherPid));
  const options = await proxyOptions({ pidFile });
  const proxy = startedProxy(t, options);
  await proxy.start();
  t.ok(alive(otherPid), 'unrelated process untouched');
  t.equal(readFileSync(pidFile, 'utf8').trim(), String(proxy.pid));
  await proxy.stop();

  writeFileSync(pidFile, '999999999');
  await proxy.start();
  t.equal(readFileSync(pidFile, 'utf8').trim(), String(proxy.pid), 'restartable after stop()');
});

t.test('start() fails clearly when a port is already in use', async (t) => {
  const blocker = createNetServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => blocker.close(() => resolve())));
  const busy = (blocker.address() as AddressInfo).port;

  const pub = await proxyOptions({ publicPort: busy });
  await t.rejects(startedProxy(t, pub).start(), new RegExp(`public port 127\\.0\\.0\\.1:${busy} is already in use`));
  const api = await proxyOptions({ apiPort: busy });
  await t.rejects(startedProxy(t, api).start(), new RegExp(`API port 127\\.0\\.0\\.1:${busy} is already in use`));
});

t.test('start() fails with the proxy output when the child cannot serve', async (t) => {
  const options = await proxyOptions({ extraArgs: ['--no-such-option'], startTimeoutMs: 5_000 });
  const proxy = startedProxy(t, options);
  const err = await proxy.start().then(
    () => undefined,
    (e: unknown) => e as Error,
  );
  t.ok(err, 'rejected');
  t.match(err?.message, `public 127.0.0.1:${options.publicPort}`);
  t.match(err?.message, /exited with code 1/);
  t.match(err?.message, /no-such-option/, 'quotes the proxy output');
  t.equal(proxy.pid, undefined, 'nothing left running');

  const bad = await proxyOptions({ command: ['/nonexistent/chp'] });
  await t.rejects(startedProxy(t, bad).start(), /could not run \/nonexistent\/chp/);
});
