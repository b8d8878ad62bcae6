import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import type { PluginLogger } from '@tshub/plugin-api';
import { defaultChpCommand } from './chp-command.js';
import { forwardLines } from './output-lines.js';
import { removePidFile, terminateStaleProxy, writePidFile } from './pid-file.js';
import { assertPortFree, canConnect, hostForUrl, probeChpApi } from './probes.js';

/** Options of {@link ChpProcess}. */
export interface ChpProcessOptions {
  /** Public IP the proxy listens on ('' = all interfaces). */
  publicIp: string;
  publicPort: number;
  apiIp: string;
  apiPort: number;
  /** CONFIGPROXY_AUTH_TOKEN; handed to the child in its environment, never on the command line. */
  authToken: string;
  /** Where CHP sends proxy errors, e.g. `http://127.0.0.1:8081/hub/error`. */
  errorTarget: string;
  defaultTarget?: string;
  /** Program and leading arguments; default {@link defaultChpCommand} (this node running the installed CHP). */
  command?: string[];
  extraArgs?: string[];
  /** Route by Host as well as path (--host-routing), for subdomain_host. */
  hostRouting?: boolean;
  /** CHP's --log-level (debug, info, warn, error); default info. */
  logLevel?: string;
  /** File that records the child's pid, so a later hub can clean up after a crash. */
  pidFile?: string;
  /** How often the API is probed for a hung proxy, in ms (default 5000). */
  checkIntervalMs?: number;
  /** How long start() waits for the API to answer, in ms (default 15000). */
  startTimeoutMs?: number;
  log: PluginLogger;
}

const RESTART_BACKOFF_MS = [200, 500, 1_000, 2_000, 5_000, 10_000];
// A proxy that stayed up this long crashed "once", not in a loop: its restart is immediate again.
const STABLE_AFTER_MS = 30_000;
// Failed liveness probes in a row before a live but unresponsive proxy is killed and restarted.
const LIVENESS_FAILURES = 2;
const OUTPUT_LINES = 40;
const FATAL_OUTPUT = /Uncaught Exception|EADDRINUSE|EADDRNOTAVAIL|EACCES/;

/**
 * Runs configurable-http-proxy as a child of the hub and keeps it running, as JupyterHub does
 * with `ConfigurableHTTPProxy.should_start`. A proxy that exits is restarted at once (and with
 * growing delays if it keeps dying); a proxy whose API stops answering is killed and restarted.
 * After each restart every {@link ChpProcess.onRestart} callback runs, so the hub can restore its
 * routes into the new, empty proxy.
 */
export class ChpProcess {
  private readonly options: ChpProcessOptions;
  private readonly log: PluginLogger;
  private readonly callbacks: Array<() => Promise<void>> = [];
  private readonly output: string[] = [];
  private child: ChildProcess | undefined;
  private childExit: Promise<void> = Promise.resolve();
  private state: 'idle' | 'running' | 'stopped' = 'idle';
  private launching = false;
  private restartTimer: NodeJS.Timeout | undefined;
  private checkTimer: NodeJS.Timeout | undefined;
  private probing = false;
  private probeFailures = 0;
  private readyAt = 0;
  private crashes = 0;
  private readonly exitHook = (): void => {
    this.child?.kill('SIGTERM');
  };

  constructor(options: ChpProcessOptions) {
    this.options = options;
    this.log = options.log;
  }

  /** Base URL of the proxy's REST API, e.g. `http://127.0.0.1:8001`. */
  get apiUrl(): string {
    return `http://${hostForUrl(this.options.apiIp)}:${this.options.apiPort}`;
  }

  /** Pid of the current child, if one is running. */
  get pid(): number | undefined {
    return this.child && isRunning(this.child) ? this.child.pid : undefined;
  }

  /** The last lines the proxy printed (stdout and stderr, colour codes removed). */
  get recentOutput(): readonly string[] {
    return [...this.output];
  }

  /**
   * Registers a callback awaited after every restart (not after the first start), in registration
   * order; a failing callback is logged and does not stop the others.
   */
  onRestart(callback: () => Promise<void>): void {
    this.callbacks.push(callback);
  }

  /**
   * Terminates a proxy left over from a previous hub (see `pidFile`), starts the proxy and resolves
   * once its API answers and its public port accepts connections. Then supervision begins.
   * @throws Error naming the ports and quoting the proxy's last output lines when it cannot start
   * (port in use, bad command, no answer within `startTimeoutMs`).
   */
  async start(): Promise<void> {
    if (this.state === 'running') throw new Error('configurable-http-proxy is already started');
    this.state = 'running';
    this.crashes = this.probeFailures = 0;
    process.on('exit', this.exitHook);
    try {
      if (this.options.pidFile) await terminateStaleProxy(this.options.pidFile, this.log);
      await this.launch();
    } catch (err) {
      await this.stop();
      throw err;
    }
    this.readyAt = Date.now();
    this.checkTimer = setInterval(() => void this.probe(), this.options.checkIntervalMs ?? 5_000);
    this.checkTimer.unref();
    this.log.info({ pid: this.pid, api: this.apiUrl }, 'configurable-http-proxy started');
  }

  /**
   * Stops supervision but leaves the proxy running (cleanup_proxy false): the next hub finds it by
   * its pid file and replaces it.
   */
  detach(): void {
    this.state = 'stopped';
    clearTimeout(this.restartTimer);
    clearInterval(this.checkTimer);
    this.restartTimer = this.checkTimer = undefined;
    process.off('exit', this.exitHook);
    this.child?.unref();
  }

  /** Stops supervision and the proxy (SIGTERM, SIGKILL after 3 s); resolves once it has exited. */
  async stop(): Promise<void> {
    this.state = 'stopped';
    clearTimeout(this.restartTimer);
    clearInterval(this.checkTimer);
    this.restartTimer = this.checkTimer = undefined;
    process.off('exit', this.exitHook);
    const child = this.child;
    if (child && isRunning(child)) {
      child.kill('SIGTERM');
      if (!(await within(this.childExit, 3_000))) {
        this.log.warn({ pid: child.pid }, 'configurable-http-proxy ignored SIGTERM; sending SIGKILL');
        child.kill('SIGKILL');
        await this.childExit;
      }
    }
    if (this.options.pidFile) await removePidFile(this.options.pidFile);
  }

  private commandLine(): { file: string; args: string[]; env: NodeJS.ProcessEnv } {
    const o = this.options;
    const [file, ...lead] = o.command ?? defaultChpCommand();
    // the token goes in the environment: on the command line `ps` would show it
    const env = { ...process.env, CONFIGPROXY_AUTH_TOKEN: o.authToken };
    if (file === undefined) throw new Error('ChpProcess: `command` must not be empty');
    const args = [...lead, '--ip', o.publicIp, '--port', String(o.publicPort), '--api-ip', o.apiIp];
    args.push('--api-port', String(o.apiPort), '--error-target', o.errorTarget, '--log-level', o.logLevel ?? 'info');
    if (o.defaultTarget) args.push('--default-target', o.defaultTarget);
    if (o.hostRouting) args.push('--host-routing');
    return { file, args: [...args, ...(o.extraArgs ?? [])], env };
  }

  /** Spawns a child and waits until it serves; kills it and throws if it does not. */
  private async launch(): Promise<void> {
    const o = this.options;
    const where = `public ${o.publicIp || '*'}:${o.publicPort}, API ${o.apiIp || '*'}:${o.apiPort}`;
    this.launching = true;
    try {
      await assertPortFree(o.publicIp, o.publicPort, 'public');
      await assertPortFree(o.apiIp, o.apiPort, 'API');
      const { file, args, env } = this.commandLine();
      this.output.length = 0;
      const child = spawn(file, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
      let failure: string | undefined;
      this.child = child;
      this.childExit = new Promise<void>((resolve) => {
        child.once('exit', (code, signal) => {
          failure ??= `exited with ${signal ?? `code ${code}`}`;
          resolve();
          this.onExit(child, code, signal);
        });
        child.on('error', (err) => {
          failure ??= `could not run ${file}: ${err.message}`;
          if (child.pid === undefined) resolve();
        });
      });
      const onLine = (line: string): void => {
        if (FATAL_OUTPUT.test(line) && this.launching) failure ??= line.replace(/^.*?(error|warn): /, '');
        this.record(line, child.pid);
      };
      forwardLines(child.stdout, onLine);
      forwardLines(child.stderr, onLine);
      if (o.pidFile && child.pid !== undefined) await writePidFile(o.pidFile, child.pid);

      const deadline = Date.now() + (o.startTimeoutMs ?? 15_000);
      for (;;) {
        if (failure === undefined) {
          const api = await probeChpApi(this.apiUrl, o.authToken, 1_000);
          if (api === 'unauthorized') failure = `the API at ${this.apiUrl} rejected the auth token (is another proxy there?)`;
          else if (api === 'ok' && (await canConnect(o.publicIp, o.publicPort)) && failure === undefined) break;
        }
        if (failure === undefined && Date.now() > deadline) failure = `no answer from ${this.apiUrl} within ${o.startTimeoutMs ?? 15_000} ms`;
        if (failure !== undefined) {
          if (isRunning(child)) child.kill('SIGKILL');
          await this.childExit;
          const tail = this.output.slice(-10).join('\n  ');
          throw new Error(`configurable-http-proxy failed to start (${where}): ${failure}${tail ? `\n  ${tail}` : ''}`);
        }
        await sleep(50);
      }
    } finally {
      this.launching = false;
    }
  }

  private record(line: string, pid: number | undefined): void {
    this.output.push(line);
    if (this.output.length > OUTPUT_LINES) this.output.shift();
    // "warn: Terminated" and the like while stopping are expected
    if (/\b(error|warn)\b:/i.test(line) && this.state === 'running') this.log.warn({ proxyPid: pid }, line);
    else this.log.debug({ proxyPid: pid }, line);
  }

  private onExit(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    // launch() reports its own child's early death; stop() expects the exit.
    if (child !== this.child || this.launching || this.state !== 'running') return;
    this.log.error({ pid: child.pid, code, signal, lastOutput: this.output.slice(-5) }, 'configurable-http-proxy exited unexpectedly');
    this.scheduleRestart();
  }

  private scheduleRestart(): void {
    if (this.restartTimer || this.launching || this.state !== 'running') return;
    if (this.readyAt && Date.now() - this.readyAt >= STABLE_AFTER_MS) this.crashes = 0;
    const delay = this.crashes === 0 ? 0 : RESTART_BACKOFF_MS[Math.min(this.crashes, RESTART_BACKOFF_MS.length) - 1] ?? 10_000;
    this.crashes++;
    if (delay > 0) this.log.warn({ delayMs: delay, attempt: this.crashes }, 'configurable-http-proxy keeps dying; backing off before restarting it');
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      void this.restart();
    }, delay);
  }

  private async restart(): Promise<void> {
    if (this.state !== 'running') return;
    const old = this.child;
    if (old && isRunning(old)) {
      old.kill('SIGKILL');
      await this.childExit;
    }
    try {
      await this.launch();
    } catch (err) {
      this.readyAt = 0;
      if (this.state !== 'running') return;
      this.log.error({ err: (err as Error).message }, 'restarting configurable-http-proxy failed');
      this.scheduleRestart();
      return;
    }
    if (this.state !== 'running') return;
    this.readyAt = Date.now();
    this.probeFailures = 0;
    this.log.warn({ pid: this.pid }, 'configurable-http-proxy restarted; restoring routes');
    for (const callback of this.callbacks) {
      try {
        await callback();
      } catch (err) {
        this.log.error({ err }, 'proxy restart callback failed');
      }
    }
  }

  /** Periodic liveness probe: a proxy that is running but whose API stays silent gets killed. */
  private async probe(): Promise<void> {
    const child = this.child;
    if (this.probing || this.launching || this.restartTimer || this.state !== 'running' || !child || !isRunning(child)) return;
    this.probing = true;
    try {
      const timeout = Math.min(this.options.checkIntervalMs ?? 5_000, 3_000);
      const answer = await probeChpApi(this.apiUrl, this.options.authToken, timeout);
      if (answer !== 'down' || child !== this.child) {
        this.probeFailures = 0;
        return;
      }
      this.probeFailures++;
      this.log.warn({ pid: child.pid, failures: this.probeFailures }, 'configurable-http-proxy API did not answer');
      if (this.probeFailures >= LIVENESS_FAILURES && isRunning(child)) {
        this.log.error({ pid: child.pid }, 'configurable-http-proxy is hung; killing it to restart it');
        this.probeFailures = 0;
        child.kill('SIGKILL');
      }
    } finally {
      this.probing = false;
    }
  }
}

function isRunning(child: ChildProcess): boolean {
  return child.pid !== undefined && child.exitCode === null && child.signalCode === null;
}

function within(promise: Promise<void>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  return Promise.race([promise.then(() => true), timeout]).finally(() => clearTimeout(timer));
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
