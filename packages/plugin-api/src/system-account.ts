/**
 * Host accounts through NSS (`getent passwd`, `id -G`, so LDAP/SSSD accounts count), for every kind
 * that runs something as a system user: the local-process and SystemUser spawners, managed services.
 * Commands run with execFile (argv, never a shell) and only after the name passed UNIX_NAME.
 */
import { execFile } from 'node:child_process';

export interface SystemAccount {
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

export function isValidUnixName(name: string): boolean {
  return UNIX_NAME.test(name);
}

/** Parses one `getent passwd` line (`name:x:uid:gid:gecos:home:shell`); null when it is malformed. */
export function parsePasswdLine(line: string): Omit<SystemAccount, 'groups'> | null {
  const [name, , uid, gid, , home, shell] = line.trim().split(':');
  if (!name || !home || !/^\d+$/.test(uid ?? '') || !/^\d+$/.test(gid ?? '')) return null;
  return { name, uid: Number(uid), gid: Number(gid), home, shell: shell ?? '' };
}

interface RunResult { code: number; stdout: string; stderr: string }

/** Resolves for any exit status; rejects only when the command cannot run at all. */
function run(file: string, args: string[], signal?: AbortSignal): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { signal, timeout: 30_000, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err !== null && typeof err.code !== 'number') reject(err);
      else resolve({ code: err === null ? 0 : (err.code as number), stdout, stderr });
    });
  });
}

/** The account of `name`, or null when NSS does not know it. Throws for a name that fails UNIX_NAME. */
export async function lookupSystemAccount(name: string, signal?: AbortSignal): Promise<SystemAccount | null> {
  if (!isValidUnixName(name)) throw new Error(`not a valid account name: ${JSON.stringify(name)}`);
  const passwd = await run('getent', ['passwd', name], signal);
  if (passwd.code === 2) return null; // getent's "key not found"
  if (passwd.code !== 0) throw new Error(`getent passwd ${name} exited with ${passwd.code}: ${passwd.stderr.trim()}`);
  const account = parsePasswdLine(passwd.stdout.split('\n')[0] ?? '');
  if (account === null) throw new Error(`getent passwd ${name} printed an unexpected line`);
  const ids = await run('id', ['-G', name], signal);
  const groups = ids.code === 0 ? ids.stdout.trim().split(/\s+/).filter((g) => /^\d+$/.test(g)).map(Number) : [];
  return { ...account, groups: groups.length > 0 ? groups : [account.gid] };
}
