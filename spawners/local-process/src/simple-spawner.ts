/** The `simple` kind: JupyterHub's SimpleLocalProcessSpawner. Every server runs as the hub's own account. */
import type { SpawnContext, SpawnerPlugin } from '@tshub/plugin-api';
import { commandArgv, withAllowRoot } from './command.js';
import { DEFAULT_HOME_DIR_TEMPLATE, simpleConfigSchema, type SimpleSpawnerConfig } from './config.js';
import { ensureSimpleHome, notebookDir } from './home-dir.js';
import { LocalProcessServer, type LaunchPlan } from './local-process-server.js';

/**
 * Home under `home_dir_template` (created 0700), cwd from notebook_dir, and `--allow-root` for
 * jupyterhub-singleuser when the hub runs as root. No isolation between users: for trials and tests.
 */
export async function planSimpleLaunch(ctx: SpawnContext<SimpleSpawnerConfig>): Promise<LaunchPlan> {
  const home = await ensureSimpleHome(ctx.config.home_dir_template ?? DEFAULT_HOME_DIR_TEMPLATE, ctx.user.name, ctx.serverName);
  const argv = withAllowRoot(commandArgv(ctx.common), process.geteuid?.() === 0);
  return {
    argv,
    command: argv[0] ?? '',
    cwd: notebookDir(ctx.common.notebook_dir, home, ctx.user.name, ctx.serverName),
    userEnv: { HOME: home, USER: ctx.user.name, SHELL: '/bin/bash' },
  };
}

/** `kind: simple`: servers as local processes of the hub's own account, one home directory per user. */
export const simpleSpawner: SpawnerPlugin<SimpleSpawnerConfig> = {
  kind: 'simple',
  configSchema: simpleConfigSchema,
  create: (ctx) => new LocalProcessServer(ctx, planSimpleLaunch),
};
