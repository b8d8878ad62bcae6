/**
 * Unix accounts for the local-process kind: validated names, `getent`/`id` look-ups and optional
 * creation. Commands run with execFile (argv, never a shell) and only after the name passed the regex.
 */
import { execFile } from 'node:child_process';
import { isValidUnixName, lookupSystemAccount, parsePasswdLine, SpawnError, UNIX_NAME, type PluginLogger, type SystemAccount } from '@tshub/plugin-api';

/** A system account as the spawner needs it (the shared NSS look-up lives in plugin-api). */
export type SystemUser = SystemAccount;
export { isValidUnixName, parsePasswdLine, UNIX_NAME };

/** Looks an account up through NSS; null if it does not exist. */
export const lookupSystemUser = lookupSystemAccount;

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
