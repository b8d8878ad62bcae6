/**
 * Everything about pids and signals lives here: identity checks that survive pid reuse, liveness that
 * ignores zombies, and the SIGINT -> SIGTERM -> SIGKILL escalation on a whole process group.
 */
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { PluginLogger } from '@tshub/plugin-api';

/** The fields of /proc/<pid>/stat that we use. */
export interface ProcStat {
  /** One letter: R, S, D, Z (zombie), X (dead), T... */
  state: string;
  /** Process group id. */
  pgrp: number;
  /** Start time in clock ticks since boot: with the pid, identifies a process across pid reuse. */
  startTime: number;
}

/** A process as persisted in spawner state. `startTime` is null where there is no /proc (macOS). */
export interface ProcessIdentity {
  pid: number;
  startTime: number | null;
}

/** What {@link processStatus} found at a pid. */
export type ProcessStatus = 'alive' | 'gone' | 'reused';

/** One step of a stop escalation: send `signal` to the group, then wait up to `waitMs` for it to empty. */
export interface StopStep {
  signal: NodeJS.Signals;
  waitMs: number;
}

/** How often the stop loop looks; stops must feel instant, and a look costs microseconds. */
const STOP_POLL_MS = 50;

let procMounted: boolean | undefined;
function hasProc(): boolean {
  procMounted ??= existsSync('/proc/self/stat');
  return procMounted;
}

/** Parses /proc/<pid>/stat. The command name (field 2) may hold spaces and parentheses, so split after the last ')'. */
export function parseProcStat(text: string): ProcStat | null {
  const close = text.lastIndexOf(')');
  if (close < 0) return null;
  // fields[0] is field 3 (state) in proc(5), so field N is fields[N - 3].
  const fields = text.slice(close + 2).split(' ');
  const state = fields[0];
  const pgrp = Number(fields[2]);
  const startTime = Number(fields[19]);
  if (state === undefined || !Number.isInteger(pgrp) || !Number.isInteger(startTime)) return null;
  return { state, pgrp, startTime };
}

/** Reads /proc/<pid>/stat; null when the process does not exist or there is no /proc. */
export async function readProcStat(pid: number): Promise<ProcStat | null> {
  try {
    return parseProcStat(await readFile(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return null;
  }
}

/** The start time to persist with a freshly spawned pid (null without /proc). */
export async function processStartTime(pid: number): Promise<number | null> {
  return (await readProcStat(pid))?.startTime ?? null;
}

/** kill(target, 0): true if it exists. EPERM means it exists but belongs to someone else. */
function exists(target: number): boolean {
  try {
    process.kill(target, 0);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EPERM') return true;
    return false;
  }
}

const isDead = (stat: ProcStat): boolean => stat.state === 'Z' || stat.state === 'X';

/**
 * Whether the identified process still runs. Cheap: one kill(pid, 0) and one small /proc read.
 * A zombie counts as gone (after a hub restart our old children belong to PID 1, and not every
 * PID 1 reaps); a live process with another start time means the pid was reused: 'reused'.
 */
export async function processStatus(id: ProcessIdentity): Promise<ProcessStatus> {
  if (!Number.isInteger(id.pid) || id.pid <= 1 || !exists(id.pid)) return 'gone';
  const stat = await readProcStat(id.pid);
  if (stat === null) {
    // No /proc (or hidepid): kill(pid, 0) is all we know. With /proc it may just have exited: ask again.
    return exists(id.pid) ? 'alive' : 'gone';
  }
  if (isDead(stat)) return 'gone';
  if (id.startTime !== null && stat.startTime !== id.startTime) return 'reused';
  return 'alive';
}

/**
 * Whether any non-zombie process is left in process group `pgid`. kill(-pgid, 0) alone is not
 * enough: it also succeeds while only unreaped zombies remain, so confirm with a /proc scan.
 * The kernel does not hand out a pid while it is still some group's id, so stragglers in group
 * `pgid` are ours even after the leader is gone.
 */
export async function groupHasLiveMembers(pgid: number): Promise<boolean> {
  if (!Number.isInteger(pgid) || pgid <= 1 || !exists(-pgid)) return false;
  if (!hasProc()) return true;
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = await readProcStat(Number(name));
    if (stat !== null && stat.pgrp === pgid && !isDead(stat)) return true;
  }
  return false;
}

/** Sends `signal` to every process in group `pgid`; false if the group no longer exists. */
export function signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw new Error(`cannot send ${signal} to process group ${pgid}: ${(err as Error).message}`, { cause: err });
  }
}

/** Polls `done` every {@link STOP_POLL_MS} until it is true (-> true) or `ms` passes (-> false). */
async function waitUntil(done: () => Promise<boolean>, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await done()) return true;
    const left = deadline - Date.now();
    if (left <= 0) return false;
    await sleep(Math.min(STOP_POLL_MS, left));
  }
}

/** The outcome of {@link stopProcessGroup}. */
export type StopOutcome = 'stopped' | 'not-ours' | 'stuck';

/**
 * Runs the escalation against the group led by `id.pid` until no live member is left.
 * Returns 'not-ours' without signalling anything when the pid now belongs to another process,
 * and 'stuck' when something survived the last step (JupyterHub logs and carries on too).
 */
export async function stopProcessGroup(id: ProcessIdentity, steps: readonly StopStep[], log: PluginLogger): Promise<StopOutcome> {
  if ((await processStatus(id)) === 'reused') return 'not-ours';
  const alive = async (): Promise<boolean> => (await processStatus(id)) === 'alive' || (await groupHasLiveMembers(id.pid));
  for (const step of steps) {
    if (!(await alive())) return 'stopped';
    log.debug({ pid: id.pid, signal: step.signal }, 'signalling server process group');
    if (!signalGroup(id.pid, step.signal)) return 'stopped';
    if (await waitUntil(async () => !(await alive()), step.waitMs)) return 'stopped';
  }
  return (await alive()) ? 'stuck' : 'stopped';
}
