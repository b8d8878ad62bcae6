import { readFile, rm, writeFile } from 'node:fs/promises';
import type { PluginLogger } from '@tshub/plugin-api';

/** Writes `pid` to `path` (replacing an older file). */
export async function writePidFile(path: string, pid: number): Promise<void> {
  await writeFile(path, `${pid}\n`, 'utf8');
}

/** Removes the pid file; a missing file is fine. */
export async function removePidFile(path: string): Promise<void> {
  await rm(path, { force: true });
}

/**
 * Handles the pid file a previous hub left behind: when it names a live process whose command line
 * contains `configurable-http-proxy` (a proxy orphaned by a crashed hub, still holding the ports),
 * that process gets SIGTERM, then SIGKILL after `graceMs`. A pid that is dead or belongs to
 * another program is left alone. The file is removed in every case.
 * Needs /proc (Linux) to recognise the process; elsewhere the process is never signalled.
 */
export async function terminateStaleProxy(path: string, log: PluginLogger, graceMs = 3_000): Promise<void> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  const pid = Number.parseInt(text.trim(), 10);
  if (!Number.isSafeInteger(pid) || pid <= 1) {
    log.warn({ pidFile: path, content: text.slice(0, 40) }, 'ignoring proxy pid file without a valid pid');
  } else if (!(await isAlive(pid))) {
    log.info({ pidFile: path, pid }, 'removing stale proxy pid file (process is gone)');
  } else if (!(await commandLine(pid)).includes('configurable-http-proxy')) {
    log.warn({ pidFile: path, pid }, 'proxy pid file names a process that is not configurable-http-proxy; leaving it alone');
  } else {
    log.warn({ pidFile: path, pid }, 'terminating configurable-http-proxy left over from a previous hub');
    signal(pid, 'SIGTERM');
    if (!(await waitForDeath(pid, graceMs))) {
      log.warn({ pid }, 'leftover configurable-http-proxy ignored SIGTERM; sending SIGKILL');
      signal(pid, 'SIGKILL');
      if (!(await waitForDeath(pid, 2_000))) throw new Error(`could not kill leftover configurable-http-proxy (pid ${pid})`);
    }
  }
  await removePidFile(path);
}

async function commandLine(pid: number): Promise<string> {
  try {
    return (await readFile(`/proc/${pid}/cmdline`, 'utf8')).replace(/\0/g, ' ').trim();
  } catch {
    return '';
  }
}

/** True while the process exists and is not a zombie (a zombie's /proc cmdline is empty). */
async function isAlive(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  return (await commandLine(pid)) !== '';
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

async function waitForDeath(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!(await isAlive(pid))) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return !(await isAlive(pid));
}
