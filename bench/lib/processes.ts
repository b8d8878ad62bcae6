/**
 * The processes the benchmark starts and their cleanup. Every child is the leader of its own
 * process group and is stopped through it; a configurable-http-proxy that outlives its hub is
 * found through its pid file. cleanup() also removes the temp dir, and runs on success, failure,
 * Ctrl-C/SIGTERM/SIGHUP (installCleanupHandlers) and, as a last resort, on process exit.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { log, sleep } from './common.js';

export interface Proc {
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
let keepTmp = false;

/** Creates the run's temp dir, which cleanup() removes unless --keep-tmp. */
export function createTmpDir(): string {
  tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tshub-bench-'));
  return tmpDir;
}

/** Remembers a configurable-http-proxy pid file, so that cleanup() can stop a proxy left behind. */
export function watchChpPidFile(file: string): void {
  chpPidFiles.add(file);
}

export function startProc(name: string, cmd: string, args: string[], opts: { cwd: string; env: NodeJS.ProcessEnv; logPath: string }): Proc {
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
export function collectChpPids(): void {
  for (const f of chpPidFiles) {
    try {
      const pid = Number(fs.readFileSync(f, 'utf8').trim());
      if (Number.isInteger(pid) && pid > 1) chpPids.add(pid);
    } catch {
      /* not written (yet) or already removed */
    }
  }
}

export async function stopProc(p: Proc, graceMs = 8000): Promise<void> {
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
export function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    collectChpPids();
    await Promise.all([...procs].map((p) => stopProc(p)));
    collectChpPids();
    await stopChps();
    if (tmpDir) {
      if (keepTmp) log(`kept ${tmpDir}`);
      else fs.rmSync(tmpDir, { recursive: true, force: true });
    }
  })();
  return cleaning;
}

let stopSignal: NodeJS.Signals | null = null;
/** The signal that stopped the run, if one did. */
export const stoppedBy = () => stopSignal;

export function installCleanupHandlers(opts: { keepTmp: boolean }): void {
  keepTmp = opts.keepTmp;
  // Last resort if the process ends without the async cleanup having finished.
  process.on('exit', () => {
    for (const p of procs) killGroup(p.pid, 'SIGKILL');
    for (const pid of chpPids) if (alive(pid) && isChp(pid)) killGroup(pid, 'SIGKILL');
    if (tmpDir && !keepTmp) fs.rmSync(tmpDir, { recursive: true, force: true });
  });
  // process.on, not once: under `npx tsx` a Ctrl-C arrives twice (from the terminal and relayed by
  // tsx), and a second signal without a handler would kill us before the cleanup is done.
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
}

/** The environment for the hubs: no tsx preloads, no secrets or tokens inherited from ours. */
export function childEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const k of Object.keys(env)) {
    if (k === 'NODE_OPTIONS' || k === 'CONFIGPROXY_AUTH_TOKEN' || k === 'JPY_COOKIE_SECRET' || k.startsWith('TSHUB_') || k.startsWith('JUPYTERHUB_')) delete env[k];
  }
  env.PYTHONUNBUFFERED = '1';
  return env;
}

export function logTail(p: string, lines = 25): string {
  try {
    const text = fs.readFileSync(p, 'utf8').trimEnd();
    return text ? text.split('\n').slice(-lines).map((l) => '    ' + l.slice(0, 400)).join('\n') : '    (empty)';
  } catch {
    return '    (no log)';
  }
}
