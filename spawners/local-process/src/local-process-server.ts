/**
 * The Spawner instance both kinds share: a detached child process in its own process group, with
 * its output in a log file, re-adoptable from persisted state after a hub restart.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { stat } from 'node:fs/promises';
import os from 'node:os';
import { reservePort, SpawnError } from '@tshub/plugin-api';
import type { JsonObject, PollResult, SpawnContext, Spawner } from '@tshub/plugin-api';
import { defaultLogDir, stopTimeouts, type ProcessSpawnerConfig, type StopTimeouts } from './config.js';
import { logFilePath, openLogFile, readLogTail } from './log-file.js';
import { processStartTime, processStatus, stopProcessGroup, type ProcessIdentity, type StopStep } from './process-control.js';
import { bindIp, buildServerEnv, serverUrl, serviceUrl } from './server-env.js';

/** What a kind decides before launch: what runs, as whom, and where. */
export interface LaunchPlan {
  /** The argv to exec (possibly wrapped, e.g. by setpriv). */
  argv: string[];
  /** The user's command (cmd[0]) as configured, for error messages. */
  command: string;
  cwd: string;
  /** HOME, USER, SHELL (and LOGNAME) for the server; they override the hub's environment. */
  userEnv: Record<string, string>;
  /** The account that should own the log file. */
  owner?: { uid: number; gid: number };
  /** Let Node switch uid/gid itself (fallback when no setpriv; drops supplementary groups). */
  spawnAs?: { uid: number; gid: number };
}

/** A kind's launch step, called by `start()` once the port is known. May throw SpawnError. */
export type PlanLaunch<C> = (ctx: SpawnContext<C>, signal: AbortSignal) => Promise<LaunchPlan>;

/** With `stop({now: true})` the server gets this long after SIGTERM before SIGKILL. */
const NOW_TERM_GRACE_MS = 1000;

/** The persisted fields, parsed defensively: state comes back from the database. */
interface Persisted extends ProcessIdentity {
  ip: string;
  port: number;
  logFile: string | null;
}

function parseState(state: JsonObject): Persisted | null {
  const { pid, start_time: startTime, ip, port, log_file: logFile } = state;
  if (typeof pid !== 'number' || !Number.isInteger(pid) || pid <= 1) return null;
  return {
    pid,
    startTime: typeof startTime === 'number' ? startTime : null,
    ip: typeof ip === 'string' ? ip : '',
    port: typeof port === 'number' ? port : 0,
    logFile: typeof logFile === 'string' ? logFile : null,
  };
}

/** 128 + signal number for a signal death, as a shell reports it. */
function exitStatus(code: number | null, signal: NodeJS.Signals | null): number | undefined {
  if (code !== null) return code;
  const num = signal === null ? undefined : os.constants.signals[signal];
  return num === undefined ? undefined : 128 + num;
}

function spawnFailure(command: string, err: NodeJS.ErrnoException): SpawnError {
  if (err.code === 'ENOENT') return new SpawnError('command-not-found', `Spawn failed: command '${command}' not found`, { cause: err });
  if (err.code === 'EACCES') {
    return new SpawnError('command-not-found', `Spawn failed: command '${command}' is not executable (permission denied)`, { cause: err });
  }
  return new SpawnError('spawn-failed', `Spawn failed: could not run '${command}': ${err.message}`, { cause: err });
}

/**
 * One user server run as a local process. Extra to the {@link Spawner} contract it offers
 * {@link LocalProcessServer.lastOutput} (the hub may duck-type it to explain a server that died while starting).
 */
export class LocalProcessServer<C extends ProcessSpawnerConfig> implements Spawner {
  private readonly timeouts: StopTimeouts;
  private persisted: Persisted | null;
  private exited: { exitCode?: number } | null = null;
  /** Resolves when our own child's exit event arrives (we are its parent while this hub lives). */
  private exitSeen: Promise<void> | null = null;
  private starting: Promise<unknown> | null = null;
  private stopping: Promise<void> | null = null;
  /** Survives stop() so lastOutput() still explains what happened. */
  private logFile: string | null;

  constructor(
    private readonly ctx: SpawnContext<C>,
    private readonly planLaunch: PlanLaunch<C>,
  ) {
    this.timeouts = stopTimeouts(ctx.config);
    this.persisted = parseState(ctx.state);
    this.logFile = this.persisted?.logFile ?? null;
  }

  /**
   * Spawns the server and resolves `{url}` as soon as the process exists; the hub checks HTTP readiness.
   * Throws SpawnError `command-not-found`, `cwd-missing`, `spawn-failed` or one from the kind's launch
   * step; throws `signal.reason` when aborted (killing the process if it was already spawned).
   */
  async start(signal: AbortSignal): Promise<{ url: string }> {
    if (this.starting !== null) throw new Error('start() is already running on this spawner instance');
    const starting = this.launch(signal);
    this.starting = starting;
    try {
      return await starting;
    } finally {
      this.starting = null;
    }
  }

  private async launch(signal: AbortSignal): Promise<{ url: string }> {
    signal.throwIfAborted();
    if (this.persisted !== null && (await processStatus(this.persisted)) === 'alive') {
      throw new Error(`the server is already running (pid ${this.persisted.pid})`);
    }
    this.persisted = null;
    this.exited = null;
    this.exitSeen = null;
    const ip = bindIp(this.ctx.common.ip);
    const port = this.ctx.common.port > 0 ? this.ctx.common.port : await reservePort(ip);
    const plan = await this.planLaunch(this.ctx, signal);
    signal.throwIfAborted();
    const cwdStat = await stat(plan.cwd).catch(() => null);
    if (cwdStat === null || !cwdStat.isDirectory()) {
      throw new SpawnError('cwd-missing', `Spawn failed: the working directory '${plan.cwd}' does not exist`);
    }
    const logFile = logFilePath(this.ctx.config.log_dir ?? defaultLogDir(), this.ctx.user.name, this.ctx.serverName);
    const env = buildServerEnv(this.ctx.env, serviceUrl(ip, port, this.ctx.servicePrefix), plan.userEnv);
    const [file, ...args] = plan.argv;
    if (file === undefined) throw new SpawnError('spawn-failed', 'Spawn failed: the command is empty');

    const log = await openLogFile(logFile, plan.owner);
    let child: ChildProcess;
    try {
      signal.throwIfAborted();
      // detached: its own process group, so Ctrl-C in the hub's terminal or a hub restart leaves it running,
      // and stop() can signal kernels and other grandchildren with it.
      child = spawn(file, args, { cwd: plan.cwd, env, detached: true, stdio: ['ignore', log.fd, log.fd], ...plan.spawnAs });
      // We are the parent while this hub lives: the exit event is the only way to learn the status.
      // Listen before any await, or a quick exit would go unrecorded.
      this.exitSeen = new Promise<void>((resolve) => {
        child.once('exit', (code, sig) => {
          this.exited = { exitCode: exitStatus(code, sig) };
          resolve();
        });
      });
      await new Promise<void>((resolve, reject) => {
        child.once('spawn', resolve);
        child.once('error', reject);
      }).catch((err: NodeJS.ErrnoException) => {
        this.exited = null; // nothing ran
        throw spawnFailure(plan.command, err);
      });
    } finally {
      await log.close(); // the child has its own copy of the descriptor
    }
    child.unref();
    child.on('error', (err) => this.ctx.log.warn({ err }, 'server process error'));
    const pid = child.pid as number;
    this.logFile = logFile;
    this.persisted = { pid, startTime: await processStartTime(pid), ip, port, logFile };
    this.ctx.log.info({ pid, argv: plan.argv, cwd: plan.cwd, logFile }, 'spawned server process');
    if (signal.aborted) {
      // Not stop(): it waits for this very start to settle.
      await this.terminate(true);
      signal.throwIfAborted();
    }
    return { url: serverUrl(ip, port) };
  }

  /**
   * Cheap: one kill(pid, 0) and one /proc read. `{running: true}` while `start` is still preparing
   * (nothing has died yet). `exitCode` is 128 + the signal number for a signal death, and unknown
   * (left out) for a process re-adopted after a hub restart.
   */
  async poll(): Promise<PollResult> {
    if (this.exited !== null) {
      return this.exited.exitCode === undefined ? { running: false } : { running: false, exitCode: this.exited.exitCode };
    }
    if (this.persisted === null) return this.starting !== null ? { running: true } : { running: false };
    if ((await processStatus(this.persisted)) === 'alive') return { running: true };
    // Our own child can be seen dead (a zombie) a moment before Node delivers its exit event with the
    // status: wait briefly for it so the exit code is not lost on a busy machine.
    if (this.exitSeen !== null) {
      await Promise.race([this.exitSeen, new Promise((r) => setTimeout(r, 1000).unref())]);
      // Re-read: the exit handler may have set it while we waited (TypeScript's narrowing cannot know).
      const exited = this.exited as { exitCode?: number } | null;
      if (exited?.exitCode !== undefined) return { running: false, exitCode: exited.exitCode };
    }
    return { running: false };
  }

  /**
   * Signals the whole process group: SIGINT, SIGTERM after interrupt_timeout, SIGKILL after
   * term_timeout (`now`: SIGTERM, then SIGKILL after a second), and resolves once no member is left
   * or kill_timeout after SIGKILL passed (logged, as JupyterHub does). Waits for a pending start first.
   * Never signals a pid that now belongs to another process. Safe before start and when called twice.
   */
  stop(opts: { now: boolean }): Promise<void> {
    this.stopping ??= (async () => {
      await this.starting?.catch(() => undefined);
      await this.terminate(opts.now);
    })().finally(() => {
      this.stopping = null;
    });
    return this.stopping;
  }

  private async terminate(now: boolean): Promise<void> {
    const target = this.persisted;
    if (target === null) return;
    const { interruptMs, termMs, killMs } = this.timeouts;
    const steps: StopStep[] = now
      ? [
          { signal: 'SIGTERM', waitMs: Math.min(termMs, NOW_TERM_GRACE_MS) },
          { signal: 'SIGKILL', waitMs: killMs },
        ]
      : [
          { signal: 'SIGINT', waitMs: interruptMs },
          { signal: 'SIGTERM', waitMs: termMs },
          { signal: 'SIGKILL', waitMs: killMs },
        ];
    const outcome = await stopProcessGroup(target, steps, this.ctx.log);
    if (outcome === 'stuck') {
      // Keep the state: a later stop() may still succeed, and the hub should not forget the pid.
      this.ctx.log.warn({ pid: target.pid }, 'server process group never died');
      return;
    }
    if (outcome === 'not-ours') this.ctx.log.info({ pid: target.pid }, 'pid now belongs to another process; nothing to stop');
    this.persisted = null;
  }

  /** pid, ip, port, process start time and log file; {} when nothing runs. */
  state(): JsonObject {
    const p = this.persisted;
    if (p === null) return {};
    const out: JsonObject = { pid: p.pid, ip: p.ip, port: p.port };
    if (p.startTime !== null) out.start_time = p.startTime;
    if (p.logFile !== null) out.log_file = p.logFile;
    return out;
  }

  /**
   * The last lines (about 15) the server wrote to stdout/stderr, '' if there is no log. The hub can show
   * them when poll() reports that a server died while starting.
   */
  lastOutput(): Promise<string> {
    return this.logFile === null ? Promise.resolve('') : readLogTail(this.logFile);
  }
}
