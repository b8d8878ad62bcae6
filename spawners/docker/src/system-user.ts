/** SystemUserSpawner: the container runs as the host account, with the host home mounted. */
import { formatTemplate, isValidUnixName, lookupSystemAccount, parsePasswdLine, SpawnError, type SystemAccount } from '@tshub/plugin-api';
import type { SystemUserDockerConfig } from './config.js';
import type { Personalize } from './docker-spawner.js';

export type HostAccount = SystemAccount;
export { parsePasswdLine };

/**
 * The host account of `name` (passwd files, LDAP, whatever NSS is configured with), or null; a hub
 * name that cannot be a Unix account name (an e-mail address, say) has none.
 */
export async function lookupHostAccount(name: string): Promise<HostAccount | null> {
  return isValidUnixName(name) ? lookupSystemAccount(name) : null;
}

/**
 * uid:gid of the host account, the host home at the image home, HOME/USER/NB_* for images that read
 * them; the home is the persistent storage, so no per-user volume is added by default.
 */
export const systemUserPersonal: Personalize<SystemUserDockerConfig> = async (ctx, notebookDir) => {
  const name = ctx.user.name;
  const account = await lookupHostAccount(name);
  if (!account) throw new SpawnError('no-such-user', `There is no account named ${JSON.stringify(name)} on the host, so a server cannot run as that user. An administrator must create it.`, { status: 400 });
  const fields = { username: name };
  const hostHome = ctx.config.host_homedir_format_string ? formatTemplate(ctx.config.host_homedir_format_string, fields) : account.home;
  const home = ctx.config.image_homedir_format_string ? formatTemplate(ctx.config.image_homedir_format_string, fields) : hostHome;
  return {
    user: `${account.uid}:${account.gid}`,
    mounts: [{ source: hostHome, target: home, readOnly: false, named: false }],
    env: { HOME: home, USER: name, NB_USER: name, NB_UID: String(account.uid), NB_GID: String(account.gid) },
    notebookDir: ctx.common.notebook_dir ? notebookDir : home,
    workingDir: home,
    defaultVolume: false,
  };
};
