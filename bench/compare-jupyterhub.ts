/**
 * tshub vs JupyterHub 3.0, on this machine, in one run, reported as ratios.
 *
 *   npx tsx bench/compare-jupyterhub.ts [--requests 2000] [--users 1000] [--concurrency 10] ...
 *
 * Starts both hubs (each with its own configurable-http-proxy) on free loopback ports in a temp dir,
 * creates the same users in both through POST /hub/api/users, then hits each hub's own port (not the
 * proxy) with the same request mixes. Every measurement is split into rounds that alternate between
 * the hubs (A B, B A, A B ...) so that noise from other work on the machine hits both. Prints a table
 * and writes bench/results/latest.json. Every process it starts is stopped (by process group id) and
 * the temp dir removed, also on failure, Ctrl-C or SIGTERM. See bench/README.md.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

// ---------------------------------------------------------------------------------------------
// Options

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '..');

const { values: argv } = parseArgs({
  options: {
    users: { type: 'string', default: '1000' },
    requests: { type: 'string', default: '2000' },
    warmup: { type: 'string', default: '200' },
    'global-warmup': { type: 'string', default: '1500' },
    'global-warmup-seconds': { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '10' },
    round: { type: 'string', default: '250' },
    'scenario-seconds': { type: 'string', default: '30' },
    'max-seconds': { type: 'string', default: '175' },
    scenarios: { type: 'string', default: '' },
    jupyterhub: { type: 'string', default: 'jupyterhub' },
    out: { type: 'string', default: path.join(HERE, 'results', 'latest.json') },
    'keep-tmp': { type: 'boolean', default: false },
    'jupyterhub-no-fsync': { type: 'boolean', default: false },
    'tshub-db-url': { type: 'string', default: '' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

if (argv.help) {
  process.stdout.write(`Usage: npx tsx bench/compare-jupyterhub.ts [options]

  --users N             users created in each hub before measuring (default 1000)
  --requests N          measured requests per hub per scenario (default 2000)
  --warmup N            unmeasured requests per hub before each scenario (default 200)
  --global-warmup N     unmeasured requests per hub per scenario before any is measured, so that
                        the first scenario does not pay for the JIT warming up (default 1500)
  --global-warmup-seconds S  at most S seconds of that per hub per scenario (default 3)
  --concurrency N       requests in flight per hub (default 10)
  --round N             requests per round; rounds alternate between the hubs (default 250)
  --scenario-seconds S  stop a scenario after the round pair that passes S seconds (default 30)
  --max-seconds S       hard limit for the whole run; it fails and cleans up past it (default 175)
  --scenarios LIST      comma-separated subset of: ${'token,token-config,users-page,activity,home'}
  --jupyterhub CMD      the jupyterhub executable (default: jupyterhub on PATH)
  --out FILE            results file (default bench/results/latest.json)
  --keep-tmp            keep the temp dir (configs, logs, databases) for inspection
  --jupyterhub-no-fsync JupyterHub's sqlite with PRAGMA synchronous=OFF: tshub's embedded PGlite
                        does not fsync, stock JupyterHub fsyncs every commit; this evens that out
  --tshub-db-url URL    tshub's hub.db_url (default: empty, the embedded PGlite in the temp dir)
`);
  process.exit(0);
}

const int = (name: string, v: string | undefined, min: number): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) {
    process.stderr.write(`--${name} must be an integer >= ${min}\n`);
    process.exit(2);
  }
  return n;
};
const OPTS = {
  users: int('users', argv.users, 0),
  requests: int('requests', argv.requests, 1),
  warmup: int('warmup', argv.warmup, 0),
  globalWarmup: int('global-warmup', argv['global-warmup'], 0),
  globalWarmupSeconds: int('global-warmup-seconds', argv['global-warmup-seconds'], 1),
  concurrency: int('concurrency', argv.concurrency, 1),
  round: int('round', argv.round, 1),
  scenarioSeconds: int('scenario-seconds', argv['scenario-seconds'], 1),
  maxSeconds: int('max-seconds', argv['max-seconds'], 10),
};
const CHP_SCRIPT = path.join(REPO, 'node_modules', 'configurable-http-proxy', 'bin', 'configurable-http-proxy');
const TSHUB_MAIN = path.join(REPO, 'packages', 'hub', 'dist', 'main.js');
const USER_BATCH = 100;
/** Seconds kept free at the end of --max-seconds for stopping the hubs and writing the results. */
const STOP_RESERVE_SECONDS = 15;
const fail = (msg: string): never => {
  throw new Error(msg);
};

const t0 = performance.now();
const elapsed = () => (performance.now() - t0) / 1000;
const log = (msg: string) => process.stderr.write(`[bench ${elapsed().toFixed(1).padStart(5)}s] ${msg}\n`);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------
// Processes: every child is the leader of its own process group and is stopped through it.

interface Proc {
  name: string;
  child: ChildProcess;
  pid: number;
  logPath: string;
  exit: Promise<string>;
  exited: string | null;
}

const procs = new Set<Proc>();
/** configurable-http-proxy pid files (JupyterHub starts its proxy in a new session). */
const chpPidFiles = new Set<string>();
const chpPids = new Set<number>();
let tmpDir = '';

function startProc(name: string, cmd: string, args: string[], opts: { cwd: string; env: NodeJS.ProcessEnv; logPath: string }): Proc {
  const fd = fs.openSync(opts.logPath, 'a');
  let child: ChildProcess;
  try {
    child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env, detached: true, stdio: ['ignore', fd, fd] });
  } finally {
    fs.closeSync(fd);
  }
  const p = { name, child, pid: child.pid ?? -1, logPath: opts.logPath, exited: null } as Proc;
  p.exit = new Promise<string>((resolve) => {
    child.once('error', (err) => {
      p.exited = `could not be started: ${err.message}`;
      resolve(p.exited);
    });
    child.once('exit', (code, signal) => {
      p.exited ??= signal ? `was killed by ${signal}` : `exited with code ${code}`;
      resolve(p.exited);
    });
  });
  if (child.pid) procs.add(p);
  return p;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
const killGroup = (pid: number, signal: NodeJS.Signals) => {
  try {
    process.kill(-pid, signal);
  } catch {
    /* gone */
  }
};
const isChp = (pid: number) => {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('configurable-http-proxy');
  } catch {
    return false;
  }
};
function collectChpPids(): void {
  for (const f of chpPidFiles) {
    try {
      const pid = Number(fs.readFileSync(f, 'utf8').trim());
      if (Number.isInteger(pid) && pid > 1) chpPids.add(pid);
    } catch {
      /* not written (yet) or already removed */
    }
  }
}

async function stopProc(p: Proc, graceMs = 8000): Promise<void> {
  if (p.exited === null) {
    killGroup(p.pid, 'SIGTERM');
    const done = await Promise.race([p.exit.then(() => true), sleep(graceMs).then(() => false)]);
    if (!done) {
      log(`${p.name} did not stop within ${graceMs / 1000}s of SIGTERM; sending SIGKILL to its process group`);
      killGroup(p.pid, 'SIGKILL');
      await Promise.race([p.exit, sleep(2000)]);
    }
  }
  // Whatever the leader left behind in its group.
  killGroup(p.pid, 'SIGKILL');
  procs.delete(p);
}

async function stopChps(): Promise<void> {
  for (const pid of chpPids) {
    if (!alive(pid) || !isChp(pid)) continue;
    log(`configurable-http-proxy ${pid} outlived its hub; stopping it`);
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      /* gone */
    }
    for (let i = 0; i < 30 && alive(pid); i++) await sleep(100);
    if (alive(pid) && isChp(pid)) process.kill(pid, 'SIGKILL');
  }
}

let cleaning: Promise<void> | null = null;
function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    collectChpPids();
    await Promise.all([...procs].map((p) => stopProc(p)));
    collectChpPids();
    await stopChps();
    if (tmpDir) {
      if (argv['keep-tmp']) log(`kept ${tmpDir}`);
      else fs.rmSync(tmpDir, { recursive: true, force: true });
    }
  })();
  return cleaning;
}

// Last resort if the process ends without the async cleanup having finished.
process.on('exit', () => {
  for (const p of procs) killGroup(p.pid, 'SIGKILL');
  for (const pid of chpPids) if (alive(pid) && isChp(pid)) killGroup(pid, 'SIGKILL');
  if (tmpDir && !argv['keep-tmp']) fs.rmSync(tmpDir, { recursive: true, force: true });
});
// process.on, not once: under `npx tsx` a Ctrl-C arrives twice (from the terminal and relayed by
// tsx), and a second signal without a handler would kill us before the cleanup is done.
let stopSignal: NodeJS.Signals | null = null;
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(sig, () => {
    if (stopSignal) return;
    stopSignal = sig;
    log(`${sig}: stopping the hubs`);
    void cleanup().finally(() => process.exit(128 + (os.constants.signals[sig] ?? 1)));
  });
}
process.on('unhandledRejection', (err) => {
  log(`unhandled rejection: ${(err as Error)?.stack ?? err}`);
  void cleanup().finally(() => process.exit(1));
});

// ---------------------------------------------------------------------------------------------
// HTTP client: node:http with one keep-alive agent per hub (little client overhead per request).

interface Target {
  name: 'tshub' | 'jupyterhub';
  hubUrl: string; // http://127.0.0.1:PORT, the hub's own port
  agent: http.Agent;
}
interface Req {
  method?: string;
  path: string;
  headers?: Record<string, string>;
  body?: string;
}
interface Res {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function send(t: Target, r: Req, keepBody = true, timeoutMs = 30_000): Promise<Res> {
  return new Promise((resolve, reject) => {
    const u = new URL(r.path, t.hubUrl);
    const headers: Record<string, string> = { ...r.headers };
    if (r.body !== undefined) headers['content-length'] = String(Buffer.byteLength(r.body));
    const req = http.request(
      { host: u.hostname, port: u.port, path: u.pathname + u.search, method: r.method ?? 'GET', headers, agent: t.agent, timeout: timeoutMs },
      (res) => {
        const chunks: Buffer[] = [];
        if (keepBody) res.on('data', (c: Buffer) => chunks.push(c));
        else res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: keepBody ? Buffer.concat(chunks).toString('utf8') : '' }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`timeout after ${timeoutMs}ms: ${r.method ?? 'GET'} ${r.path}`)));
    req.on('error', reject);
    req.end(r.body);
  });
}

const snippet = (s: string, n = 300) => (s.length > n ? s.slice(0, n) + '...' : s).replace(/\s+/g, ' ');

async function expectStatus(t: Target, r: Req, want: number[], what: string): Promise<Res> {
  const res = await send(t, r);
  if (!want.includes(res.status)) throw new Error(`${t.name}: ${what}: ${r.method ?? 'GET'} ${r.path} answered ${res.status}: ${snippet(res.body)}`);
  return res;
}

/** A tiny cookie jar: name -> value, as the hub sets them. */
class Jar {
  readonly cookies = new Map<string, string>();
  update(res: Res): void {
    const set = res.headers['set-cookie'] ?? [];
    for (const line of set) {
      const [pair = '', ...attrs] = line.split(';');
      const eq = pair.indexOf('=');
      if (eq < 1) continue;
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attrs.some((a) => /^\s*max-age\s*=\s*0\s*$/i.test(a)) ||
        attrs.some((a) => /^\s*expires\s*=/i.test(a) && Date.parse(a.split('=').slice(1).join('=')) < Date.now());
      if (expired || value === '' || value === '""') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }
  header(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
}

// ---------------------------------------------------------------------------------------------
// Hubs

interface Hub extends Target {
  proc: Proc;
  logPath: string;
  version: string;
  /** API tokens issued through POST /hub/api/users/NAME/tokens (the kind servers and scripts use). */
  aliceToken: string;
  adminToken: string;
  /** The pre-shared tokens from the config file. */
  configAliceToken: string;
  configAdminToken: string;
  loginCookie: string;
  notes: string[];
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no free port'))));
    });
  });
}

/** The environment for the hubs: no tsx preloads, no secrets or tokens inherited from ours. */
function childEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const k of Object.keys(env)) {
    if (k === 'NODE_OPTIONS' || k === 'CONFIGPROXY_AUTH_TOKEN' || k === 'JPY_COOKIE_SECRET' || k.startsWith('TSHUB_') || k.startsWith('JUPYTERHUB_')) delete env[k];
  }
  env.PYTHONUNBUFFERED = '1';
  return env;
}

function logTail(p: string, lines = 25): string {
  try {
    const text = fs.readFileSync(p, 'utf8').trimEnd();
    return text ? text.split('\n').slice(-lines).map((l) => '    ' + l.slice(0, 400)).join('\n') : '    (empty)';
  } catch {
    return '    (no log)';
  }
}

async function waitReady(t: Target, proc: Proc, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    if (proc.exited !== null) {
      throw new Error(`${t.name} ${proc.exited} before ${t.hubUrl}/hub/api/ answered. Last lines of ${proc.logPath}:\n${logTail(proc.logPath)}`);
    }
    try {
      const res = await send(t, { path: '/hub/api/' }, true, 2000);
      if (res.status === 200) return (JSON.parse(res.body) as { version?: string }).version ?? '?';
      last = `HTTP ${res.status}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await sleep(100);
  }
  throw new Error(`${t.name} did not answer ${t.hubUrl}/hub/api/ within ${timeoutMs / 1000}s (last: ${last}). Last lines of ${proc.logPath}:\n${logTail(proc.logPath)}`);
}

const py = (v: unknown) => JSON.stringify(v); // strings, lists and dicts of strings are valid Python literals

const NO_FSYNC_PY = `
# --jupyterhub-no-fsync: no fsync per commit, like tshub's embedded PGlite
from sqlalchemy import event
from sqlalchemy.engine import Engine

@event.listens_for(Engine, "connect")
def _bench_no_fsync(dbapi_connection, connection_record):
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA synchronous=OFF")
    cursor.close()
`;

async function startJupyterHub(dir: string, tokens: { admin: string; alice: string }): Promise<Omit<Hub, 'aliceToken' | 'adminToken' | 'loginCookie'>> {
  fs.mkdirSync(dir, { recursive: true });
  const [pub, hubPort, api] = [await freePort(), await freePort(), await freePort()];
  const pidFile = path.join(dir, 'jupyterhub-proxy.pid');
  chpPidFiles.add(pidFile);
  const cfg = `# generated by bench/compare-jupyterhub.ts
c = get_config()  # noqa
c.JupyterHub.bind_url = ${py(`http://127.0.0.1:${pub}`)}
c.JupyterHub.hub_ip = '127.0.0.1'
c.JupyterHub.hub_port = ${hubPort}
c.JupyterHub.db_url = ${py('sqlite:///' + path.join(dir, 'jupyterhub.sqlite'))}
c.JupyterHub.cookie_secret_file = ${py(path.join(dir, 'jupyterhub_cookie_secret'))}
c.JupyterHub.pid_file = ${py(path.join(dir, 'jupyterhub.pid'))}
c.JupyterHub.cleanup_servers = True
c.JupyterHub.cleanup_proxy = True
c.JupyterHub.authenticator_class = 'dummy'
c.Authenticator.admin_users = {'admin'}
c.Authenticator.allowed_users = {'alice'}
c.JupyterHub.api_tokens = ${py({ [tokens.admin]: 'admin', [tokens.alice]: 'alice' })}
c.ConfigurableHTTPProxy.should_start = True
c.ConfigurableHTTPProxy.api_url = ${py(`http://127.0.0.1:${api}`)}
c.ConfigurableHTTPProxy.pid_file = ${py(pidFile)}
c.ConfigurableHTTPProxy.command = ${py(['/usr/bin/env', '-u', 'NODE_OPTIONS', process.execPath, CHP_SCRIPT])}
${argv['jupyterhub-no-fsync'] ? NO_FSYNC_PY : ''}`;
  const cfgPath = path.join(dir, 'jupyterhub_config.py');
  fs.writeFileSync(cfgPath, cfg);
  const logPath = path.join(dir, 'jupyterhub.log');
  const proc = startProc('jupyterhub', argv.jupyterhub!, ['-f', cfgPath], { cwd: dir, env: childEnv(), logPath });
  const t: Target = { name: 'jupyterhub', hubUrl: `http://127.0.0.1:${hubPort}`, agent: new http.Agent({ keepAlive: true, maxSockets: OPTS.concurrency }) };
  const version = await waitReady(t, proc, 60_000);
  collectChpPids();
  return { ...t, proc, logPath, version, configAdminToken: tokens.admin, configAliceToken: tokens.alice, notes: [] };
}

async function startTshub(dir: string, tokens: { admin: string; alice: string }, extraHub: Record<string, unknown> = {}): Promise<Omit<Hub, 'aliceToken' | 'adminToken' | 'loginCookie'>> {
  fs.mkdirSync(dir, { recursive: true });
  if (!fs.existsSync(TSHUB_MAIN)) throw new Error(`${TSHUB_MAIN} is missing: build tshub first (npx tsc -b)`);
  const [pub, hubPort, api] = [await freePort(), await freePort(), await freePort()];
  const pidFile = path.join(dir, 'jupyterhub-proxy.pid');
  chpPidFiles.add(pidFile);
  const config = {
    hub: {
      bind_url: `http://127.0.0.1:${pub}`,
      hub_ip: '127.0.0.1',
      hub_port: hubPort,
      data_dir: path.join(dir, 'data'),
      db_url: argv['tshub-db-url'] ?? '',
      cleanup_servers: true,
      api_tokens: { [tokens.admin]: 'admin', [tokens.alice]: 'alice' },
      ...extraHub,
    },
    authenticator: { kind: 'dummy', allow_all: true, admin_users: ['admin'] },
    spawner: { home_dir_template: path.join(dir, 'homes', '{escaped_username}') },
    proxy: { api_url: `http://127.0.0.1:${api}`, pid_file: pidFile },
  };
  const cfgPath = path.join(dir, 'tshub.config.json');
  fs.writeFileSync(cfgPath, JSON.stringify(config, null, 2));
  const logPath = path.join(dir, 'tshub.log');
  const proc = startProc('tshub', process.execPath, [TSHUB_MAIN, '--config', cfgPath], { cwd: dir, env: childEnv(), logPath });
  const t: Target = { name: 'tshub', hubUrl: `http://127.0.0.1:${hubPort}`, agent: new http.Agent({ keepAlive: true, maxSockets: OPTS.concurrency }) };
  const version = await waitReady(t, proc, 60_000);
  collectChpPids();
  return { ...t, proc, logPath, version, configAdminToken: tokens.admin, configAliceToken: tokens.alice, notes: [] };
}

const auth = (token: string) => ({ Authorization: `token ${token}` });
const JSON_HEADERS = { 'Content-Type': 'application/json', Accept: 'application/json' };

/** POST /hub/api/users in batches; returns seconds taken, or null when the hub has no such endpoint. */
async function createUsers(h: Omit<Hub, 'aliceToken' | 'adminToken' | 'loginCookie'>, names: string[]): Promise<number | null> {
  const start = performance.now();
  for (let i = 0; i < names.length; i += USER_BATCH) {
    const batch = names.slice(i, i + USER_BATCH);
    const res = await send(h, { method: 'POST', path: '/hub/api/users', headers: { ...JSON_HEADERS, ...auth(h.configAdminToken) }, body: JSON.stringify({ usernames: batch }) }, true, 120_000);
    if (i === 0 && (res.status === 404 || res.status === 405)) return null;
    if (res.status !== 201) throw new Error(`${h.name}: POST /hub/api/users (batch ${i / USER_BATCH + 1}) answered ${res.status}: ${snippet(res.body)}`);
    const created = JSON.parse(res.body) as unknown[];
    if (!Array.isArray(created) || created.length !== batch.length) throw new Error(`${h.name}: POST /hub/api/users created ${Array.isArray(created) ? created.length : '?'} of ${batch.length} users`);
  }
  return (performance.now() - start) / 1000;
}

async function issueToken(h: Target, user: string, configToken: string): Promise<string> {
  const res = await expectStatus(h, { method: 'POST', path: `/hub/api/users/${user}/tokens`, headers: { ...JSON_HEADERS, ...auth(configToken) }, body: JSON.stringify({ note: 'bench' }) }, [200, 201], `issuing a token for ${user}`);
  const token = (JSON.parse(res.body) as { token?: string }).token;
  if (!token) throw new Error(`${h.name}: POST /hub/api/users/${user}/tokens returned no token: ${snippet(res.body)}`);
  return token;
}

/** Logs in through the form like a browser; returns the Cookie header and whether an _xsrf field was sent. */
async function login(h: Target, user: string): Promise<{ cookie: string; xsrf: boolean }> {
  const jar = new Jar();
  const page = await expectStatus(h, { path: '/hub/login' }, [200], 'login page');
  jar.update(page);
  const input = page.body.match(/<input[^>]*name=["']_xsrf["'][^>]*>/i)?.[0];
  const xsrf = input?.match(/value=["']([^"']*)["']/i)?.[1];
  const form = new URLSearchParams({ username: user, password: 'bench-password' });
  if (xsrf) form.set('_xsrf', xsrf.replace(/&amp;/g, '&').replace(/&#34;|&quot;/g, '"').replace(/&#39;/g, "'"));
  const posted = await send(h, { method: 'POST', path: '/hub/login', headers: { 'Content-Type': 'application/x-www-form-urlencoded', Cookie: jar.header() }, body: form.toString() });
  if (posted.status !== 302 && posted.status !== 303) throw new Error(`${h.name}: login as ${user} answered ${posted.status} (xsrf field ${xsrf ? 'sent' : 'absent'}): ${snippet(posted.body)}`);
  jar.update(posted);
  const home = await send(h, { path: '/hub/home', headers: { Cookie: jar.header() } });
  if (home.status !== 200) throw new Error(`${h.name}: /hub/home with the login cookie answered ${home.status}: ${snippet(home.body)}`);
  return { cookie: jar.header(), xsrf: Boolean(xsrf) };
}

// ---------------------------------------------------------------------------------------------
// Measurement

interface Scenario {
  id: string;
  title: string;
  expect: number;
  /** When the probe request answers one of these, the scenario is skipped with a note. */
  skipOn?: number[];
  check?: (res: Res) => string | null;
  make: (h: Hub, i: number) => Req;
}

interface Batch {
  latencies: number[];
  ms: number;
  errors: number;
  firstError: string | null;
}

/** n requests (fewer if `untilMs`, a performance.now() deadline, passes first), `concurrency` at a time. */
async function runBatch(h: Hub, sc: Scenario, n: number, offset: number, untilMs = Infinity): Promise<Batch> {
  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | null = null;
  let next = 0;
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= n || performance.now() > untilMs) return;
      const req = sc.make(h, offset + i);
      const start = performance.now();
      try {
        const res = await send(h, req, false);
        if (res.status !== sc.expect) {
          errors++;
          firstError ??= `HTTP ${res.status} for ${req.method ?? 'GET'} ${req.path}`;
        }
      } catch (err) {
        errors++;
        firstError ??= (err as Error).message;
      }
      latencies.push(performance.now() - start);
    }
  };
  const start = performance.now();
  await Promise.all(Array.from({ length: Math.min(OPTS.concurrency, n) }, worker));
  return { latencies, ms: performance.now() - start, errors, firstError };
}

interface HubStats {
  requests: number;
  seconds: number;
  rps: number;
  p50_ms: number;
  p90_ms: number;
  p99_ms: number;
  mean_ms: number;
  errors: number;
  first_error: string | null;
}

function quantile(sorted: number[], q: number): number {
  if (!sorted.length) return NaN;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[idx]!;
}
const round = (x: number, d = 2) => (Number.isFinite(x) ? Math.round(x * 10 ** d) / 10 ** d : null);
function stats(batches: Batch[]): HubStats {
  const lat = batches.flatMap((b) => b.latencies).sort((a, b) => a - b);
  const ms = batches.reduce((s, b) => s + b.ms, 0);
  return {
    requests: lat.length,
    seconds: round(ms / 1000, 3)!,
    rps: round(lat.length / (ms / 1000), 1)!,
    p50_ms: round(quantile(lat, 0.5))!,
    p90_ms: round(quantile(lat, 0.9))!,
    p99_ms: round(quantile(lat, 0.99))!,
    mean_ms: round(lat.reduce((s, x) => s + x, 0) / lat.length)!,
    errors: batches.reduce((s, b) => s + b.errors, 0),
    first_error: batches.find((b) => b.firstError)?.firstError ?? null,
  };
}
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2) : NaN;
};

interface ScenarioResult {
  id: string;
  title: string;
  budget_seconds: number;
  skipped?: string;
  error?: string;
  truncated?: string;
  rounds?: number;
  tshub?: HubStats;
  jupyterhub?: HubStats;
  ratio?: {
    throughput: number | null;
    throughput_per_round_median: number | null;
    throughput_per_round_min: number | null;
    throughput_per_round_max: number | null;
    p50_latency: number | null;
    p99_latency: number | null;
  };
}

async function measure(sc: Scenario, ts: Hub, jh: Hub, budgetSeconds: number): Promise<ScenarioResult> {
  const out: ScenarioResult = { id: sc.id, title: sc.title, budget_seconds: round(budgetSeconds, 1)! };
  // One request to each hub first: is the endpoint there, and does it answer what it should?
  for (const h of [ts, jh]) {
    const req = sc.make(h, 0);
    const res = await send(h, req);
    if (sc.skipOn?.includes(res.status)) {
      out.skipped = `${h.name} answered ${res.status} to ${req.method ?? 'GET'} ${req.path} (not implemented there at run time): ${snippet(res.body, 160)}`;
      return out;
    }
    const problem = res.status !== sc.expect ? `HTTP ${res.status}: ${snippet(res.body, 200)}` : sc.check?.(res) ?? null;
    if (problem) {
      out.error = `${h.name}: ${req.method ?? 'GET'} ${req.path}: ${problem}`;
      return out;
    }
  }
  const begin = performance.now();
  if (OPTS.warmup) {
    await runBatch(ts, sc, OPTS.warmup, 0);
    await runBatch(jh, sc, OPTS.warmup, 0);
  }
  const rounds = Math.max(1, Math.ceil(OPTS.requests / OPTS.round));
  const batches: Record<'tshub' | 'jupyterhub', Batch[]> = { tshub: [], jupyterhub: [] };
  const perRound: number[] = [];
  let done = 0;
  for (let r = 0; r < rounds; r++) {
    const n = Math.min(OPTS.round, OPTS.requests - r * OPTS.round);
    const order = r % 2 === 0 ? [ts, jh] : [jh, ts];
    for (const h of order) batches[h.name].push(await runBatch(h, sc, n, OPTS.warmup + r * OPTS.round));
    const a = batches.tshub.at(-1)!;
    const b = batches.jupyterhub.at(-1)!;
    perRound.push(a.latencies.length / a.ms / (b.latencies.length / b.ms));
    done = r + 1;
    // Stop before the round pair that would overrun the budget (warm-up included), judging by the last one.
    const spent = (performance.now() - begin) / 1000;
    const lastPair = (a.ms + b.ms) / 1000;
    if (done < rounds && spent + lastPair > budgetSeconds) {
      out.truncated = `time budget of ${budgetSeconds.toFixed(1)}s: ${done} of ${rounds} round pairs`;
      log(`  ${sc.id}: ${out.truncated}`);
      break;
    }
  }
  out.rounds = done;
  out.tshub = stats(batches.tshub);
  out.jupyterhub = stats(batches.jupyterhub);
  out.ratio = {
    throughput: round(out.tshub.rps / out.jupyterhub.rps),
    throughput_per_round_median: round(median(perRound)),
    throughput_per_round_min: round(Math.min(...perRound)),
    throughput_per_round_max: round(Math.max(...perRound)),
    p50_latency: round(out.tshub.p50_ms / out.jupyterhub.p50_ms, 3),
    p99_latency: round(out.tshub.p99_ms / out.jupyterhub.p99_ms, 3),
  };
  return out;
}

// ---------------------------------------------------------------------------------------------
// Report

function table(results: ScenarioResult[]): string {
  const lines: string[] = [];
  const row = (cols: string[]) => lines.push(cols[0]!.padEnd(24) + cols[1]!.padEnd(12) + cols.slice(2).map((c) => c.padStart(10)).join(''));
  row(['scenario', 'hub', 'requests', 'req/s', 'p50 ms', 'p99 ms', 'errors']);
  lines.push('-'.repeat(24 + 12 + 50));
  for (const r of results) {
    if (r.skipped || r.error) {
      lines.push(`${r.id.padEnd(24)}${r.skipped ? 'SKIPPED: ' + r.skipped : 'ERROR: ' + r.error}`);
      continue;
    }
    for (const name of ['tshub', 'jupyterhub'] as const) {
      const s = r[name]!;
      row([name === 'tshub' ? r.id : '', name, String(s.requests), s.rps.toFixed(1), s.p50_ms.toFixed(2), s.p99_ms.toFixed(2), String(s.errors)]);
    }
    const q = r.ratio!;
    lines.push(
      ''.padEnd(24) +
        `tshub/JupyterHub: throughput x${q.throughput} (per-round median x${q.throughput_per_round_median}, ` +
        `range ${q.throughput_per_round_min}-${q.throughput_per_round_max}), p50 latency x${q.p50_latency}, p99 latency x${q.p99_latency}`,
    );
    if (r.truncated) lines.push(''.padEnd(24) + `(stopped early: ${r.truncated})`);
  }
  return lines.join('\n');
}

function gitInfo(): { commit: string | null; dirty_files: number | null } {
  const rev = spawnSync('git', ['rev-parse', 'HEAD'], { cwd: REPO, encoding: 'utf8' });
  const st = spawnSync('git', ['status', '--porcelain'], { cwd: REPO, encoding: 'utf8' });
  return {
    commit: rev.status === 0 ? rev.stdout.trim() : null,
    dirty_files: st.status === 0 ? st.stdout.split('\n').filter(Boolean).length : null,
  };
}

function writeResults(data: unknown): void {
  fs.mkdirSync(path.dirname(argv.out!), { recursive: true });
  fs.writeFileSync(argv.out!, JSON.stringify(data, null, 2) + '\n');
  log(`wrote ${path.relative(process.cwd(), argv.out!) || argv.out}`);
}

// ---------------------------------------------------------------------------------------------
// Main

const SCENARIOS = (userCount: number): Scenario[] => [
  {
    id: 'token',
    title: 'GET /hub/api/user, API token issued by the hub (POST /users/alice/tokens)',
    expect: 200,
    check: (res) => ((JSON.parse(res.body) as { name?: string }).name === 'alice' ? null : `not alice: ${snippet(res.body, 120)}`),
    make: (h) => ({ path: '/hub/api/user', headers: auth(h.aliceToken) }),
  },
  {
    id: 'token-config',
    title: 'GET /hub/api/user, pre-shared token from the config (api_tokens)',
    expect: 200,
    check: (res) => ((JSON.parse(res.body) as { name?: string }).name === 'alice' ? null : `not alice: ${snippet(res.body, 120)}`),
    make: (h) => ({ path: '/hub/api/user', headers: auth(h.configAliceToken) }),
  },
  {
    id: 'users-page',
    title: `GET /hub/api/users?limit=50&offset=..., paginated (Accept: application/jupyterhub-pagination+json), ${userCount} users, admin token`,
    expect: 200,
    skipOn: [404, 405],
    check: (res) => {
      const body = JSON.parse(res.body) as { items?: unknown[]; _pagination?: { offset?: number; total?: number } };
      if (!Array.isArray(body.items) || !body._pagination) return `not a paginated answer: ${snippet(res.body, 160)}`;
      const want = Math.min(50, (body._pagination.total ?? 0) - (body._pagination.offset ?? 0));
      return body.items.length === want ? null : `${body.items.length} items instead of ${want}`;
    },
    make: (h, i) => ({
      path: `/hub/api/users?limit=50&offset=${(i * 50) % Math.max(50, userCount - 50)}`,
      headers: { ...auth(h.adminToken), Accept: 'application/jupyterhub-pagination+json' },
    }),
  },
  {
    id: 'activity',
    title: 'POST /hub/api/users/alice/activity {last_activity: now}',
    expect: 200,
    make: (h) => ({
      method: 'POST',
      path: '/hub/api/users/alice/activity',
      headers: { ...JSON_HEADERS, ...auth(h.aliceToken) },
      body: JSON.stringify({ last_activity: new Date().toISOString() }),
    }),
  },
  {
    id: 'home',
    title: 'GET /hub/home with the login cookie (logged in through the form)',
    expect: 200,
    make: (h) => ({ path: '/hub/home', headers: { Cookie: h.loginCookie } }),
  },
];

let timedOut = false;

async function main(): Promise<number> {
  const watchdog = setTimeout(() => {
    timedOut = true;
    log(`the run exceeded --max-seconds ${OPTS.maxSeconds}; stopping`);
    void cleanup()
      .then(() => writeResults({ ...result, error: `the run exceeded --max-seconds ${OPTS.maxSeconds}`, total_seconds: round(elapsed(), 1) }))
      .finally(() => process.exit(3));
  }, OPTS.maxSeconds * 1000);
  const result: Record<string, unknown> = {
    generated_at: new Date().toISOString(),
    settings: { ...OPTS, user_batch: USER_BATCH },
    machine: { cpus: os.cpus().length, cpu_model: os.cpus()[0]?.model ?? null, total_mem_gb: round(os.totalmem() / 2 ** 30, 1), loadavg_start: os.loadavg().map((x) => round(x)), platform: `${os.platform()} ${os.release()}`, node: process.version },
    git: gitInfo(),
  };
  const notes: string[] = [];
  try {
    tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tshub-bench-'));
    const tokens = () => ({ admin: randomBytes(16).toString('hex'), alice: randomBytes(16).toString('hex') });
    log(`temp dir ${tmpDir}; starting JupyterHub and tshub`);
    const [jhStart, tsStart] = await Promise.allSettled([startJupyterHub(path.join(tmpDir, 'jupyterhub'), tokens()), startTshub(path.join(tmpDir, 'tshub'), tokens())]);
    if (jhStart.status === 'rejected' || tsStart.status === 'rejected') {
      const why = [jhStart, tsStart].filter((s): s is PromiseRejectedResult => s.status === 'rejected').map((s) => (s.reason as Error).message);
      throw new Error(`a hub failed to start:\n${why.join('\n')}`);
    }
    const jh = jhStart.value;
    let ts = tsStart.value;
    log(`JupyterHub ${jh.version} at ${jh.hubUrl}, tshub (reports ${ts.version}) at ${ts.hubUrl}`);

    // The same users in both hubs, through the REST API, one hub after the other.
    const names = Array.from({ length: OPTS.users }, (_, i) => `bench-user-${String(i + 1).padStart(5, '0')}`);
    const creation: Record<string, number | null> = {};
    log(`creating ${OPTS.users} users in each hub (batches of ${USER_BATCH})`);
    creation.jupyterhub = await createUsers(jh, names);
    if (creation.jupyterhub === null) throw new Error('JupyterHub has no POST /hub/api/users?');
    creation.tshub = await createUsers(ts, names);
    if (creation.tshub === null) {
      const note = 'tshub had no POST /hub/api/users at run time: its users were created at start-up through hub.load_groups (group bench-users) instead';
      notes.push(note);
      log(note);
      await stopProc(ts.proc);
      ts = await startTshub(path.join(tmpDir, 'tshub'), { admin: ts.configAdminToken, alice: ts.configAliceToken }, { load_groups: { 'bench-users': names } });
    }
    result.user_creation_seconds = { jupyterhub: creation.jupyterhub === null ? null : round(creation.jupyterhub), tshub: creation.tshub === null ? null : round(creation.tshub), note: 'POST /hub/api/users in batches, one hub after the other, not interleaved: indicative only' };

    const hubs: Record<string, Hub> = {};
    for (const base of [ts, jh]) {
      const aliceToken = await issueToken(base, 'alice', base.configAliceToken);
      const adminToken = await issueToken(base, 'admin', base.configAdminToken);
      const { cookie, xsrf } = await login(base, 'alice');
      if (!xsrf) base.notes.push('its login form has no _xsrf field; logged in without one');
      hubs[base.name] = { ...base, aliceToken, adminToken, loginCookie: cookie };
    }
    const tsHub = hubs.tshub!;
    const jhHub = hubs.jupyterhub!;
    result.hubs = {
      tshub: { version_reported: tsHub.version, url: tsHub.hubUrl, database: argv['tshub-db-url'] ? argv['tshub-db-url'].replace(/:[^:@/]*@/, ':***@') : 'embedded PGlite (default; no fsync per commit)', notes: tsHub.notes },
      jupyterhub: { version_reported: jhHub.version, url: jhHub.hubUrl, database: argv['jupyterhub-no-fsync'] ? 'sqlite, PRAGMA synchronous=OFF (--jupyterhub-no-fsync)' : 'sqlite (default; fdatasync per commit)', notes: jhHub.notes },
    };

    const all = SCENARIOS(OPTS.users + 2);
    const wanted = argv.scenarios ? [...new Set(argv.scenarios.split(',').map((s) => s.trim()).filter(Boolean))] : all.map((s) => s.id);
    const chosen = wanted.map((w) => all.find((s) => s.id === w) ?? fail(`unknown scenario '${w}' (known: ${all.map((s) => s.id).join(', ')})`));
    // Warm both hubs up on every chosen scenario first. V8 needs a few thousand requests to optimise
    // tshub's hot paths: with only the per-scenario warm-up, whichever scenario came first measured
    // tshub 20-40% slower than when it came later. CPython has no JIT; the cap in seconds keeps
    // JupyterHub's slow endpoints from eating the time budget.
    if (OPTS.globalWarmup) {
      const warmStart = performance.now();
      const warmed: Record<'tshub' | 'jupyterhub', string[]> = { tshub: [], jupyterhub: [] };
      for (const sc of chosen) {
        const probe = await send(tsHub, sc.make(tsHub, 0));
        if (probe.status !== sc.expect) continue; // measure() reports it
        for (const h of [tsHub, jhHub]) {
          const b = await runBatch(h, sc, OPTS.globalWarmup, 0, performance.now() + OPTS.globalWarmupSeconds * 1000);
          warmed[h.name].push(`${sc.id} ${b.latencies.length}`);
        }
      }
      log(`warm-up (up to ${OPTS.globalWarmup} requests or ${OPTS.globalWarmupSeconds}s per hub per scenario) took ${((performance.now() - warmStart) / 1000).toFixed(1)}s: ` +
        `tshub ${warmed.tshub.join(', ')}; JupyterHub ${warmed.jupyterhub.join(', ')}`);
      result.global_warmup_requests = warmed;
    }
    const results: ScenarioResult[] = [];
    // The time left before the watchdog, less a reserve for stopping the hubs, is shared among the
    // scenarios still to run (time one leaves unused goes to the next), each capped at --scenario-seconds.
    const measureDeadline = OPTS.maxSeconds - STOP_RESERVE_SECONDS;
    for (const [k, sc] of chosen.entries()) {
      const budget = Math.min(OPTS.scenarioSeconds, Math.max(1, (measureDeadline - elapsed()) / (chosen.length - k)));
      log(`measuring ${sc.id} (budget ${budget.toFixed(0)}s): ${sc.title}`);
      const r = await measure(sc, tsHub, jhHub, budget);
      if (r.skipped) log(`  skipped: ${r.skipped}`);
      else if (r.error) log(`  error: ${r.error}`);
      else log(`  tshub ${r.tshub!.rps} req/s, JupyterHub ${r.jupyterhub!.rps} req/s: x${r.ratio!.throughput}`);
      results.push(r);
    }
    for (const h of [tsHub, jhHub]) {
      if (h.proc.exited !== null) throw new Error(`${h.name} ${h.proc.exited} during the run. Last lines of ${h.logPath}:\n${logTail(h.logPath)}`);
    }
    result.scenarios = results;
    result.notes = [
      ...notes,
      'Requests go to each hub\'s own port (not through configurable-http-proxy), from one Node process on the same machine, over keep-alive connections.',
      'Ratios are tshub / JupyterHub: throughput above 1 and latency below 1 mean tshub is faster.',
      'Both hubs run with default logging: JupyterHub writes one access-log line per request, tshub does not log successful requests.',
    ];
    result.machine = { ...(result.machine as object), loadavg_end: os.loadavg().map((x) => round(x)) };
    result.total_seconds = round(elapsed(), 1);
    process.stdout.write('\n' + table(results) + '\n\n');
    for (const n of notes) process.stdout.write(`note: ${n}\n`);
    const failed = results.some((r) => r.error || (r.tshub?.errors ?? 0) > 0 || (r.jupyterhub?.errors ?? 0) > 0);
    await cleanup();
    result.total_seconds = round(elapsed(), 1);
    writeResults(result);
    return failed ? 1 : 0;
  } catch (err) {
    if (stopSignal || timedOut) {
      await cleanup();
      return 1; // the signal handler or the watchdog exits
    }
    const msg = (err as Error).stack ?? String(err);
    log(`FAILED: ${msg}`);
    await cleanup();
    writeResults({ ...result, error: (err as Error).message, notes, total_seconds: round(elapsed(), 1) });
    return 1;
  } finally {
    clearTimeout(watchdog);
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    log(`FAILED: ${(err as Error).stack ?? err}`);
    void cleanup().finally(() => process.exit(1));
  },
);
