import { spawn, type ChildProcess } from 'node:child_process';
import { constants, statSync } from 'node:fs';
import { mkdir, open, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { lookupSystemAccount, type SystemAccount } from '@tshub/plugin-api';
import { readLogTail } from '@tshub/spawner-local-process';
import type { HubUrls } from '../hub-context.js';
import { urlEscapePath } from '../url-escape.js';
import type { ServiceProcesses, ServiceRecord, ServiceRegistry } from './service-registry.js';
import { buildServiceEnv } from './service-env.js';

const FIRST_DELAY_MS = 500;
const MAX_DELAY_MS = 30_000;
/** A service that ran this long before exiting is restarted after the first delay again. */
const STABLE_UPTIME_MS = 60_000;
const TERM_GRACE_MS = 5_000;

export interface ManagedServicesDeps {
  registry: ServiceRegistry;
  urls: HubUrls;
  /** hub.hub_ip: when the hub listens on all interfaces, services reach it on loopback. */
  hubIp: string;
  log: Logger;
  dataDir: string;
  hubEnv: Readonly<Record<string, string | undefined>>;
}

interface Supervised {
  readonly name: string;
  readonly logFile: string;
  readonly pidFile: string;
  child: ChildProcess | null;
  pid: number;
  startedAt: number;
  delayMs: number;
  timer: NodeJS.Timeout | null;
  stopping: boolean;
  /** Settles when the current process has exited. */
  exited: Promise<void>;
}

/**
 * Runs the managed services (those with a `command`) as child processes of the hub, each in its own
 * process group with its output in `<data_dir>/service-logs/<name>.log`, restarts them with back-off
 * when they exit, and stops them (whole group, SIGTERM then SIGKILL) when the hub shuts down.
 */
export class ManagedServices implements ServiceProcesses {
  readonly #deps: ManagedServicesDeps;
  readonly #procs = new Map<string, Supervised>();
  readonly #logDir: string;

  constructor(deps: ManagedServicesDeps) {
    this.#deps = deps;
    this.#logDir = path.join(deps.dataDir, 'service-logs');
    deps.registry.processes = this;
  }

  pidOf(name: string): number {
    return this.#procs.get(name)?.pid ?? 0;
  }

  /** The log file of a managed service. */
  logFileOf(name: string): string {
    return path.join(this.#logDir, `${urlEscapePath(name)}.log`);
  }

  /** Starts every managed service; the hub must listen already (services get its API URL). */
  async startAll(): Promise<void> {
    const services = this.#deps.registry.managed();
    if (!services.length) return;
    await mkdir(this.#logDir, { recursive: true, mode: 0o700 });
    await Promise.all(
      services.map(async (svc) => {
        const s: Supervised = {
          name: svc.name, logFile: this.logFileOf(svc.name), pidFile: path.join(this.#logDir, `${urlEscapePath(svc.name)}.pid`),
          child: null, pid: 0, startedAt: 0, delayMs: 0, timer: null, stopping: false, exited: Promise.resolve(),
        };
        this.#procs.set(svc.name, s);
        await this.#killLeftover(s);
        await this.#launch(s);
      }),
    );
  }

  /** Stops every managed service: SIGTERM to its process group, SIGKILL after 5 s. */
  async stopAll(): Promise<void> {
    await Promise.all([...this.#procs.values()].map((s) => this.#stop(s)));
    this.#procs.clear();
  }

  async #stop(s: Supervised): Promise<void> {
    s.stopping = true;
    if (s.timer) clearTimeout(s.timer);
    s.timer = null;
    if (!s.child || !s.pid) return;
    const pid = s.pid;
    signalGroup(pid, 'SIGTERM');
    const exited = await Promise.race([s.exited.then(() => true), sleep(TERM_GRACE_MS).then(() => false)]);
    if (!exited) {
      this.#deps.log.warn({ service: s.name, pid }, 'service did not stop within 5 s of SIGTERM; sending SIGKILL');
      signalGroup(pid, 'SIGKILL');
      await Promise.race([s.exited, sleep(2_000)]);
    }
    await unlink(s.pidFile).catch(() => undefined);
    this.#deps.log.info({ service: s.name }, 'service stopped');
  }

  #hubApiUrl(): string {
    const { urls, hubIp } = this.#deps;
    // As JupyterHub: a hub on all interfaces is reached over loopback by its (local) services.
    if (hubIp === '' || hubIp === '0.0.0.0' || hubIp === '::') return `${urls.hubUrl}${urls.hubPrefix}api`;
    return urls.hubApiUrl;
  }

  async #launch(s: Supervised): Promise<void> {
    if (s.stopping) return;
    const { registry, log, urls } = this.#deps;
    const svc = registry.get(s.name);
    if (!svc || !svc.command.length) return;
    if (!svc.apiToken) {
      log.error({ service: s.name }, 'managed service has no API token; not starting it');
      return;
    }
    let account: SystemAccount | null = null;
    if (svc.user) {
      if (process.getuid?.() !== 0) {
        log.error({ service: s.name, user: svc.user }, `service ${s.name} should run as '${svc.user}', which needs the hub to run as root; not starting it`);
        return;
      }
      account = await lookupAccount(svc.user).catch((err: Error) => {
        log.error({ service: s.name, user: svc.user, err: err.message }, 'cannot look up the system user of a service');
        return null;
      });
      if (!account) return this.#scheduleRestart(s, 0);
    }
    const env = buildServiceEnv({
      service: svc, apiToken: svc.apiToken, hubApiUrl: this.#hubApiUrl(), baseUrl: urls.baseUrl, publicOrigin: urls.publicOrigin,
      hubPrefix: urls.hubPrefix, hubEnv: this.#deps.hubEnv, account,
    });
    const cwd = svc.cwd ? path.resolve(svc.cwd) : process.cwd();
    const exe = await resolveExecutable(svc.command[0]!, env.PATH ?? '', cwd);
    if (!exe) {
      log.error({ service: s.name, command: svc.command }, `service ${s.name}: command '${svc.command[0]}' not found or not executable`);
      return this.#scheduleRestart(s, 0);
    }
    let argv = [exe, ...svc.command.slice(1)];
    if (account) {
      const setpriv = ['/usr/bin/setpriv', '/bin/setpriv'].find((f) => existsExecutable(f));
      if (!setpriv) {
        log.error({ service: s.name }, 'setpriv (util-linux) is needed to run a service as another user; not starting it');
        return;
      }
      const groups = account.groups.length ? account.groups : [account.gid];
      argv = [setpriv, `--reuid=${account.uid}`, `--regid=${account.gid}`, `--groups=${groups.join(',')}`, '--', ...argv];
    }

    let child: ChildProcess;
    try {
      const handle = await openLogFile(s.logFile);
      try {
        // The hub may have begun shutting down while this start was looking things up.
        if (s.stopping) return;
        child = spawn(argv[0]!, argv.slice(1), { detached: true, stdio: ['ignore', handle.fd, handle.fd], env, cwd });
      } finally {
        await handle.close();
      }
    } catch (err) {
      log.error({ service: s.name, err: String(err) }, 'could not start service');
      return this.#scheduleRestart(s, 0);
    }
    s.child = child;
    s.pid = child.pid ?? 0;
    s.startedAt = Date.now();
    let settle!: () => void;
    s.exited = new Promise<void>((resolve) => (settle = resolve));
    let done = false;
    const onEnd = (code: number | null, signal: NodeJS.Signals | null, error?: Error) => {
      if (done) return;
      done = true;
      const pid = s.pid;
      const uptime = Date.now() - s.startedAt;
      if (s.child === child) {
        s.child = null;
        s.pid = 0;
      }
      settle();
      if (s.stopping) return;
      void readLogTail(s.logFile, 10).then((tail) => {
        log.error(
          { service: s.name, pid, code, signal, uptimeSeconds: Math.round(uptime / 1000), err: error ? String(error) : undefined, log: tail || undefined, logFile: s.logFile },
          `service ${s.name} exited with ${signal ? `signal ${signal}` : `status ${code}`}; restarting it`,
        );
      });
      // Leftovers of the dead service (children that kept its port) would make the restart fail.
      if (pid) signalGroup(pid, 'SIGTERM');
      this.#scheduleRestart(s, uptime);
    };
    child.once('error', (err) => onEnd(null, null, err));
    child.once('exit', (code, signal) => onEnd(code, signal));
    if (s.pid) {
      await writeFile(s.pidFile, `${s.pid} ${(await procStartTime(s.pid)) ?? ''}\n`, { mode: 0o600 }).catch(() => undefined);
      log.info({ service: s.name, pid: s.pid, command: svc.command, logFile: s.logFile }, 'service started');
    }
  }

  #scheduleRestart(s: Supervised, uptimeMs: number): void {
    if (s.stopping) return;
    s.delayMs = s.delayMs === 0 || uptimeMs >= STABLE_UPTIME_MS ? FIRST_DELAY_MS : Math.min(s.delayMs * 2, MAX_DELAY_MS);
    s.timer = setTimeout(() => {
      s.timer = null;
      this.#launch(s).catch((err) => this.#deps.log.error({ service: s.name, err: String(err) }, 'service restart failed'));
    }, s.delayMs);
    s.timer.unref();
  }

  /** A process group left over from a hub that died without stopping its services. */
  async #killLeftover(s: Supervised): Promise<void> {
    const text = await readFile(s.pidFile, 'utf8').catch(() => '');
    const [pidText, startText] = text.trim().split(' ');
    const pid = Number(pidText);
    if (!Number.isInteger(pid) || pid <= 1) return;
    const start = await procStartTime(pid);
    if (start === null || String(start) !== startText) return; // gone, or the pid belongs to someone else now
    this.#deps.log.warn({ service: s.name, pid }, 'stopping a service process left over from a previous hub');
    signalGroup(pid, 'SIGTERM');
    for (let i = 0; i < 50 && (await procStartTime(pid)) !== null; i++) await sleep(100);
    signalGroup(pid, 'SIGKILL');
  }
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // The group is gone already.
  }
}

/** The start time of a live (non-zombie) process from /proc, or null. */
async function procStartTime(pid: number): Promise<number | null> {
  try {
    const text = await readFile(`/proc/${pid}/stat`, 'utf8');
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    if (fields[0] === 'Z' || fields[0] === 'X') return null;
    const start = Number(fields[19]);
    return Number.isInteger(start) ? start : null;
  } catch {
    return null;
  }
}

/** Opens a fresh log for one run (the previous run's is kept as `.1`), mode 0600, never through a symlink. */
async function openLogFile(file: string) {
  await rename(file, `${file}.1`).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err;
  });
  return open(file, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW | constants.O_APPEND, 0o600);
}

function existsExecutable(file: string): boolean {
  try {
    const st = statSync(file);
    return st.isFile() && (st.mode & 0o111) !== 0;
  } catch {
    return false;
  }
}

/** execvp's look-up: names with a slash relative to `cwd`, others along PATH. */
async function resolveExecutable(name: string, searchPath: string, cwd: string): Promise<string | null> {
  const candidates = name.includes('/') ? [path.resolve(cwd, name)] : searchPath.split(':').map((dir) => path.resolve(cwd, dir, name));
  for (const file of candidates) {
    try {
      const st = await stat(file);
      if (st.isFile() && (st.mode & 0o111) !== 0) return file;
    } catch {
      // next candidate
    }
  }
  return null;
}

/** A system account through NSS; a missing one is an error here (the service cannot start). */
async function lookupAccount(name: string): Promise<SystemAccount> {
  const account = await lookupSystemAccount(name);
  if (!account) throw new Error(`no such system user: ${name}`);
  return account;
}
