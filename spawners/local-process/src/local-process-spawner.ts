/** The `local-process` kind: JupyterHub's LocalProcessSpawner. Each server runs as the user's Unix account. */
import { SpawnError, type SpawnContext, type SpawnerPlugin } from '@tshub/plugin-api';
import { commandArgv, findSetpriv, resolveExecutable, setprivArgv } from './command.js';
import { DEFAULT_ADD_USER_CMD, localProcessConfigSchema, type LocalProcessSpawnerConfig } from './config.js';
import { notebookDir } from './home-dir.js';
import { LocalProcessServer, type LaunchPlan } from './local-process-server.js';
import { ensureSystemUser } from './system-user.js';

/** execvp's fallback when the environment has no PATH. */
const DEFAULT_PATH = '/usr/local/bin:/usr/bin:/bin';

/**
 * Finds (or creates) the account, then runs the server as it: through setpriv, so supplementary
 * groups (shared course directories) keep working; through Node's uid/gid options if there is no setpriv.
 * A hub that already runs as the account starts the server directly; any other non-root hub cannot.
 */
export async function planSystemUserLaunch(ctx: SpawnContext<LocalProcessSpawnerConfig>, signal: AbortSignal): Promise<LaunchPlan> {
  const account = await ensureSystemUser(ctx.user.name, {
    create: ctx.config.create_system_users ?? false,
    addUserCmd: ctx.config.add_user_cmd ?? DEFAULT_ADD_USER_CMD,
    log: ctx.log,
    signal,
  });
  const argv = commandArgv(ctx.common);
  const command = argv[0] ?? '';
  const cwd = notebookDir(ctx.common.notebook_dir, account.home, ctx.user.name, ctx.serverName);
  const userEnv: Record<string, string> = { HOME: account.home, USER: account.name, LOGNAME: account.name };
  if (account.shell !== '') userEnv.SHELL = account.shell;
  const owner = { uid: account.uid, gid: account.gid };

  const euid = process.geteuid?.();
  if (euid === account.uid) return { argv, command, cwd, userEnv, owner };
  if (euid !== 0) {
    throw new SpawnError(
      'not-permitted',
      `Spawn failed: the hub runs as uid ${euid} and cannot start servers as '${account.name}'. ` +
        "Run the hub as root to use the local-process spawner, or use kind 'simple'.",
    );
  }
  const setpriv = findSetpriv();
  if (setpriv === null) {
    ctx.log.warn({ user: account.name }, 'setpriv not found: the server runs without its supplementary groups');
    return { argv, command, cwd, userEnv, owner, spawnAs: owner };
  }
  const exe = await resolveExecutable(command, ctx.env.PATH ?? DEFAULT_PATH, cwd);
  if (!exe.found) {
    const why = exe.reason === 'not-found' ? 'not found' : 'is not executable (permission denied)';
    throw new SpawnError('command-not-found', `Spawn failed: command '${command}' ${why}`);
  }
  return { argv: setprivArgv(setpriv, { ...owner, groups: account.groups }, [exe.path, ...argv.slice(1)]), command, cwd, userEnv, owner };
}

/** `kind: local-process`: servers as local processes of each user's own Unix account (the hub runs as root). */
export const localProcessSpawner: SpawnerPlugin<LocalProcessSpawnerConfig> = {
  kind: 'local-process',
  configSchema: localProcessConfigSchema,
  create: (ctx) => new LocalProcessServer(ctx, planSystemUserLaunch),
};
