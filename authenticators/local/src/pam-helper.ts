import { execFile, spawn } from 'node:child_process';
import { HubError } from '@tshub/plugin-api';

/**
 * The process side of the pam kind: the Python helper that asks PAM through python3-pamela, running it
 * with bounded concurrency and a timeout, and the system group lookups.
 */

/**
 * The helper run as `python3 -I -c HELPER`. It reads one JSON request ({username, password, service,
 * check_account}) from stdin, so the password is never on the command line or in the environment, and
 * answers one JSON line: {"result": "ok" | "denied" | "unavailable", ...}. `--probe` only imports pamela.
 */
export const PAM_HELPER = String.raw`
import json, sys
def answer(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()
    sys.exit(0)
try:
    import pamela
except Exception as e:
    answer({"result": "unavailable", "error": "%s: %s" % (type(e).__name__, e)})
if sys.argv[1:] == ["--probe"]:
    answer({"result": "ok"})
req = json.loads(sys.stdin.buffer.read().decode("utf-8"))
user, service = req["username"], req["service"]
try:
    pamela.authenticate(user, req["password"], service=service, encoding="utf-8")
except pamela.PAMError as e:
    answer({"result": "denied", "stage": "authenticate", "error": str(e)})
except UnicodeError:
    answer({"result": "denied", "stage": "authenticate", "error": "the username or password is not valid UTF-8"})
if req.get("check_account"):
    try:
        pamela.check_account(user, service=service, encoding="utf-8")
    except pamela.PAMError as e:
        answer({"result": "denied", "stage": "account", "error": str(e)})
answer({"result": "ok"})
`;

/** How to run the helper; tests replace it with a fake. `args` come before nothing else: no secrets. */
export interface PamHelperCommand {
  readonly command: string;
  readonly args: readonly string[];
}

const MAX_OUTPUT = 64 * 1024;

/** A counting semaphore with a bounded waiting line: a login storm waits (or gets a 503), it does not fork. */
export class Limiter {
  #active = 0;
  readonly #waiting: (() => void)[] = [];

  constructor(readonly max: number, readonly maxQueue: number) {}

  get active(): number {
    return this.#active;
  }

  get queued(): number {
    return this.#waiting.length;
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#active >= this.max) {
      if (this.#waiting.length >= this.maxQueue) {
        throw new HubError(503, 'Too many sign-ins at once. Try again in a moment.', {
          headers: { 'Retry-After': '5' },
          logMessage: `pam: ${this.#active} checks running and ${this.#waiting.length} waiting; refusing more`,
        });
      }
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    } else {
      this.#active++;
    }
    try {
      return await fn();
    } finally {
      // Hand the slot straight to the next waiter (the count stays), or free it.
      const next = this.#waiting.shift();
      if (next) next();
      else this.#active--;
    }
  }
}

export interface HelperAnswer {
  result: 'ok' | 'denied' | 'unavailable';
  stage?: string;
  error?: string;
}

/** The environment the helper gets: enough to run Python, none of the hub's secrets. */
function helperEnv(): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8' };
}

/** Runs the helper once with `input` on stdin; resolves with its answer or rejects (with a log-safe message). */
export function runHelper(helper: PamHelperCommand, extraArgs: readonly string[], input: string | null, timeoutMs: number): Promise<HelperAnswer> {
  return new Promise((resolve, reject) => {
    const child = spawn(helper.command, [...helper.args, ...extraArgs], { stdio: ['pipe', 'pipe', 'pipe'], env: helperEnv() });
    let stdout = '';
    let stderr = '';
    let settled = false;
    const finish = (err: Error | null, answer?: HelperAnswer) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) reject(err);
      else resolve(answer!);
    };
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      finish(Object.assign(new Error(`no answer within ${timeoutMs / 1000} s`), { code: 'TIMEOUT' }));
    }, timeoutMs);
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      if (stdout.length < MAX_OUTPUT) stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      if (stderr.length < MAX_OUTPUT) stderr += d;
    });
    child.on('error', (err: NodeJS.ErrnoException) => {
      finish(Object.assign(new Error(`cannot run ${helper.command}: ${err.code ?? err.message}`), { code: err.code === 'ENOENT' ? 'ENOENT' : 'SPAWN' }));
    });
    child.on('close', (code, signal) => {
      const line = stdout.trim().split('\n').at(-1) ?? '';
      try {
        const parsed = JSON.parse(line) as HelperAnswer;
        if (parsed && ['ok', 'denied', 'unavailable'].includes(parsed.result)) return finish(null, parsed);
      } catch {
        // fall through
      }
      const tail = stderr.trim().split('\n').slice(-3).join(' | ').slice(0, 500);
      finish(new Error(`${helper.command} exited with ${signal ?? code} without an answer${tail ? `: ${tail}` : ''}`));
    });
    // EPIPE when the helper exits before reading (pamela missing): the answer says why.
    child.stdin.on('error', () => {});
    child.stdin.end(input ?? '');
  });
}

function execText(cmd: string, args: string[], timeoutMs: number): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: timeoutMs, env: helperEnv(), maxBuffer: MAX_OUTPUT }, (err, stdout) => {
      if (err && typeof err.code !== 'number') reject(err);
      else resolve({ code: err ? Number(err.code) : 0, stdout: String(stdout) });
    });
  });
}

/** `id -Gn -- name`: the user's groups as the system sees them (files, LDAP, sssd). Unknown user: []. */
export async function systemGroupsOf(name: string): Promise<string[]> {
  const { code, stdout } = await execText('id', ['-Gn', '--', name], 10_000);
  if (code !== 0) return [];
  return stdout.trim().split(/\s+/).filter((g) => g !== '');
}

export async function systemGroupExists(name: string): Promise<boolean> {
  const { code } = await execText('getent', ['group', '--', name], 10_000);
  return code === 0;
}
