/** SystemUserSpawner: the container runs as the host account, with the host home mounted. */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { formatTemplate, SpawnError } from '@tshub/plugin-api';
import type { SystemUserDockerConfig } from './config.js';
import type { Personalize } from './docker-spawner.js';

const run = promisify(execFile);

export interface HostAccount {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

/** Parses one `getent passwd` line (`name:x:uid:gid:gecos:home:shell`). */
export function parsePasswdLine(line: string): HostAccount | null {
  const f = line.trim().split(':');
  if (f.length < 7) return null;
  const uid = Number(f[2]);
  const gid = Number(f[3]);
  if (!Number.isInteger(uid) || !Number.isInteger(gid) || !f[0] || !f[5]) return null;
  return { name: f[0], uid, gid, home: f[5] };
}

/** The host account of `name` (passwd files, LDAP, whatever NSS is configured with), or null. */
export async function lookupHostAccount(name: string): Promise<HostAccount | null> {
  try {
    const { stdout } = await run('getent', ['passwd', '--', name], { timeout: 10_000 });
    return parsePasswdLine(stdout.split('\n')[0] ?? '');
  } catch (err) {
    // getent exits 2 for "no such key".
    if ((err as { code?: unknown }).code === 2) return null;
    throw err;
  }
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
