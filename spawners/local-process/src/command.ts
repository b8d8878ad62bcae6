/** The argv a server runs with, and finding executables the way execvp would. */
import { existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { SpawnerCommonConfig } from '@tshub/plugin-api';

/** JupyterHub's default `Spawner.cmd`. */
export const DEFAULT_CMD: readonly string[] = ['jupyterhub-singleuser'];

/** `cmd` (or the default when empty) followed by `args`. */
export function commandArgv(common: Pick<SpawnerCommonConfig, 'cmd' | 'args'>): string[] {
  return [...(common.cmd.length > 0 ? common.cmd : DEFAULT_CMD), ...common.args];
}

const ALLOW_ROOT_OPTION = /^--(?:ServerApp|NotebookApp|SingleUserNotebookApp)\.allow_root(?:=|$)/;

/**
 * Adds `--allow-root` when the server will run as root and the command is jupyterhub-singleuser,
 * which otherwise refuses to start as root (the usual case for a simple-spawner hub in a container).
 * Leaves argv alone if the user already allowed (or forbade) it.
 */
export function withAllowRoot(argv: readonly string[], runsAsRoot: boolean): string[] {
  const [cmd] = argv;
  if (!runsAsRoot || cmd === undefined || path.basename(cmd) !== 'jupyterhub-singleuser') return [...argv];
  if (argv.some((arg) => arg === '--allow-root' || arg === '--no-allow-root' || ALLOW_ROOT_OPTION.test(arg))) return [...argv];
  return [...argv, '--allow-root'];
}

/** What {@link resolveExecutable} found. */
export type ResolvedExecutable = { found: true; path: string } | { found: false; reason: 'not-found' | 'not-executable' };

async function executable(file: string): Promise<boolean | null> {
  try {
    const st = await stat(file);
    return st.isFile() ? (st.mode & 0o111) !== 0 : null;
  } catch {
    return null;
  }
}

/**
 * Looks `name` up like execvp: names with a slash are taken relative to `cwd`, others searched in
 * `PATH` (an empty entry means `cwd`). Needed when a wrapper (setpriv) execs the command, so that a
 * missing command still fails the spawn with a clear message instead of an exit status.
 */
export async function resolveExecutable(name: string, searchPath: string, cwd: string): Promise<ResolvedExecutable> {
  const candidates = name.includes('/') ? [path.resolve(cwd, name)] : searchPath.split(':').map((dir) => path.resolve(cwd, dir, name));
  let sawFile = false;
  for (const candidate of candidates) {
    const ok = await executable(candidate);
    if (ok === true) return { found: true, path: candidate };
    if (ok === false) sawFile = true;
  }
  return { found: false, reason: sawFile ? 'not-executable' : 'not-found' };
}

/**
 * util-linux's setpriv (Essential on Debian), which can set supplementary groups before exec.
 * Node's own uid/gid spawn options drop every supplementary group, so they are only the fallback.
 */
export function findSetpriv(): string | null {
  return ['/usr/bin/setpriv', '/bin/setpriv'].find((file) => existsSync(file)) ?? null;
}

/** The argv that runs `argv` as uid/gid with the given groups, through setpriv. `argv[0]` must be absolute. */
export function setprivArgv(setpriv: string, ids: { uid: number; gid: number; groups: readonly number[] }, argv: readonly string[]): string[] {
  const groups = ids.groups.length > 0 ? ids.groups : [ids.gid];
  return [setpriv, `--reuid=${ids.uid}`, `--regid=${ids.gid}`, `--groups=${groups.join(',')}`, '--', ...argv];
}
