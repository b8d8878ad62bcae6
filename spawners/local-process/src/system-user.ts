/**
 * Unix accounts for the local-process kind: validated names, `getent`/`id` look-ups and optional
 * creation. Commands run with execFile (argv, never a shell) and only after the name passed the regex.
 */
import { execFile } from 'node:child_process';
import { SpawnError } from '@tshub/plugin-api';
import type { PluginLogger } from '@tshub/plugin-api';

/** A system account as the spawner needs it. */
export interface SystemUser {
  name: string;
  uid: number;
  gid: number;
  home: string;
  shell: string;
  /** Every group id of the account (primary first), as `id -G` prints them. */
  groups: number[];
}

/**
 * Conservative portable account names (Debian's default NAME_REGEX without the trailing `$`): a
 * leading letter or underscore rules out option injection ('-x') and numeric uids ('1000').
 */
export const UNIX_NAME = /^[a-z_][a-z0-9_-]{0,31}$/;

/** Whether `name` is safe and valid as a Unix account name. */
export function isValidUnixName(name: string): boolean {
  return UNIX_NAME.test(name);
}

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs argv without a shell; resolves for any exit status, rejects only when it cannot run at all. */
function run(argv: readonly string[], signal?: AbortSignal): Promise<RunResult> {
  const [file, ...args] = argv;
  if (file === undefined) return Promise.reject(new Error('empty command'));
  return new Promise((resolve, reject) => {
    execFile(file, args, { signal, timeout: 60_000, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err !== null && typeof err.code !== 'number') reject(err);
      else resolve({ code: err === null ? 0 : (err.code as number), stdout, stderr });
    });
  });
}

/** Parses one `getent passwd` line; null when it is malformed. */
export function parsePasswdLine(line: string): Omit<SystemUser, 'groups'> | null {
  const [name, , uid, gid, , home, shell] = line.trim().split(':');
  if (name === undefined || home === undefined || !/^\d+$/.test(uid ?? '') || !/^\d+$/.test(gid ?? '')) return null;
  return { name, uid: Number(uid), gid: Number(gid), home, shell: shell ?? '' };
}

/** Looks an account up through NSS (`getent passwd`, so LDAP/SSSD accounts count); null if it does not exist. */
export async function lookupSystemUser(name: string, signal?: AbortSignal): Promise<SystemUser | null> {
  if (!isValidUnixName(name)) throw new Error(`not a valid account name: ${JSON.stringify(name)}`);
  const passwd = await run(['getent', 'passwd', name], signal);
  if (passwd.code === 2) return null; // getent's "key not found"
  if (passwd.code !== 0) throw new Error(`getent passwd ${name} exited with ${passwd.code}: ${passwd.stderr.trim()}`);
  const user = parsePasswdLine(passwd.stdout.split('\n')[0] ?? '');
  if (user === null) throw new Error(`getent passwd ${name} printed an unexpected line`);
  const ids = await run(['id', '-G', name], signal);
  const groups = ids.code === 0 ? ids.stdout.trim().split(/\s+/).filter((g) => /^\d+$/.test(g)).map(Number) : [];
  return { ...user, groups: groups.length > 0 ? groups : [user.gid] };
}

/** JupyterHub's rule: replace `USERNAME` in every argument, or append the name if no argument has it. */
export function addUserArgv(template: readonly string[], name: string): string[] {
  const argv = template.map((arg) => arg.replaceAll('USERNAME', name));
  return template.some((arg) => arg.includes('USERNAME')) ? argv : [...argv, name];
}

/** Options for {@link ensureSystemUser}. */
export interface EnsureUserOptions {
  create: boolean;
  addUserCmd: readonly string[];
  log: PluginLogger;
  signal?: AbortSignal;
}

/**
 * Returns the account for a hub user, creating it first when allowed. Throws SpawnError with reason
 * `invalid-username`, `no-such-user` or `user-creation-failed`, worded for the person who clicked Start.
 */
export async function ensureSystemUser(name: string, opts: EnsureUserOptions): Promise<SystemUser> {
  if (!isValidUnixName(name)) {
    throw new SpawnError(
      'invalid-username',
      `Spawn failed: '${name}' cannot be a system account name (use lower-case letters, digits, '_' and '-', starting with a letter, at most 32 characters).`,
    );
  }
  const existing = await lookupSystemUser(name, opts.signal);
  if (existing !== null) return existing;
  if (!opts.create) {
    throw new SpawnError(
      'no-such-user',
      `Spawn failed: there is no system account named '${name}' on the hub's machine. ` +
        `An administrator can create it (for example: useradd --create-home ${name}) or set create_system_users: true in the spawner section.`,
    );
  }
  const argv = addUserArgv(opts.addUserCmd, name);
  opts.log.info({ argv }, 'creating system account');
  const result = await run(argv, opts.signal).catch((err: Error) => ({ code: null, stdout: '', stderr: err.message }));
  // Another server of the same user may have created it concurrently: look again before failing.
  const created = await lookupSystemUser(name, opts.signal);
  if (created !== null) return created;
  const detail = result.stderr.trim().split('\n')[0] || `exit status ${result.code}`;
  throw new SpawnError('user-creation-failed', `Spawn failed: could not create the system account '${name}': ${detail}`, {
    logMessage: `${argv.join(' ')} -> ${result.code}: ${result.stderr}`,
  });
}
