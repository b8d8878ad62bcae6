import { execFile, spawn } from 'node:child_process';
import { HubError } from '@tshub/plugin-api';
import type { AuthContext, Authenticator, AuthenticatorPlugin, AuthModel, LoginInput, PluginLogger } from '@tshub/plugin-api';

/** Options of `kind: pam`. A type alias so it stays assignable to `Record<string, unknown>`. */
export type PamAuthConfig = {
  service?: string;
  check_account?: boolean;
  admin_groups?: string[];
  allowed_groups?: string[];
  python?: string;
  timeout_seconds?: number;
};

const pamConfigSchema = {
  type: 'object',
  properties: {
    service: {
      type: 'string',
      minLength: 1,
      default: 'login',
      description: 'The PAM service (a file in /etc/pam.d) used to check passwords and accounts.',
    },
    check_account: {
      type: 'boolean',
      default: true,
      description:
        "After the password, also run PAM's account stack (expired or locked accounts, pam_access rules). Turning it off " +
        'can let in people the system itself would refuse.',
    },
    admin_groups: {
      type: 'array',
      items: { type: 'string', minLength: 1 },
      default: [],
      description:
        'System groups whose members are hub administrators. When set it is authoritative: at each login, members become ' +
        'admins and everyone else (except authenticator.admin_users) loses the admin flag. Members may log in.',
    },
    allowed_groups: {
      type: 'array',
      items: { type: 'string', minLength: 1 },
      default: [],
      description:
        'System groups whose members may log in (primary or supplementary group, as `id -Gn` reports it), in addition to ' +
        'authenticator.allowed_users.',
    },
    python: {
      type: 'string',
      default: '',
      description:
        'The Python interpreter that can import pamela. Empty: /usr/bin/python3 (Debian/Ubuntu python3-pamela), ' +
        'then python3 on PATH.',
    },
    timeout_seconds: {
      type: 'number',
      exclusiveMinimum: 0,
      maximum: 300,
      default: 20,
      description: 'How long one PAM check may take (a wrong password alone waits ~3 s with pam_faildelay).',
    },
  },
} as const;

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

/** Injectable parts, for tests. */
export interface PamDeps {
  /** The helper command; default: the configured/found Python with {@link PAM_HELPER}. */
  helper?: PamHelperCommand;
  /** Group names of a system user (primary and supplementary); default: `id -Gn -- name`. */
  groupsOf?: (name: string) => Promise<string[]>;
  /** Whether a system group exists; default: `getent group NAME`. */
  groupExists?: (name: string) => Promise<boolean>;
  /** Helpers running at once (default 4) and logins allowed to wait for one (default 64). */
  concurrency?: number;
  maxQueue?: number;
}

const MAX_PASSWORD = 4096;
const MAX_OUTPUT = 64 * 1024;
const DEFAULT_PYTHONS = ['/usr/bin/python3', 'python3'];

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

interface HelperAnswer {
  result: 'ok' | 'denied' | 'unavailable';
  stage?: string;
  error?: string;
}

/** The environment the helper gets: enough to run Python, none of the hub's secrets. */
function helperEnv(): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8' };
}

/** Runs the helper once with `input` on stdin; resolves with its answer or rejects (with a log-safe message). */
function runHelper(helper: PamHelperCommand, extraArgs: readonly string[], input: string | null, timeoutMs: number): Promise<HelperAnswer> {
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
async function systemGroupsOf(name: string): Promise<string[]> {
  const { code, stdout } = await execText('id', ['-Gn', '--', name], 10_000);
  if (code !== 0) return [];
  return stdout.trim().split(/\s+/).filter((g) => g !== '');
}

async function systemGroupExists(name: string): Promise<boolean> {
  const { code } = await execText('getent', ['group', '--', name], 10_000);
  return code === 0;
}

const unavailableMessage = (detail: string) =>
  `authenticator.kind: pam needs python3-pamela (apt-get install python3-pamela, or pip install pamela and set authenticator.python): ${detail}`;

class PamAuthenticator implements Authenticator {
  readonly loginKind = 'form' as const;
  readonly hasAllowRules: boolean;
  readonly #log: PluginLogger;
  readonly #service: string;
  readonly #checkAccount: boolean;
  readonly #adminGroups: readonly string[];
  readonly #allowedGroups: readonly string[];
  readonly #timeoutMs: number;
  readonly #limiter: Limiter;
  readonly #deps: PamDeps;
  readonly #pythons: readonly string[];
  #helper: Promise<PamHelperCommand> | undefined;

  constructor(ctx: AuthContext<PamAuthConfig>, deps: PamDeps) {
    const c = ctx.config;
    this.#log = ctx.log;
    this.#deps = deps;
    this.#service = c.service || 'login';
    this.#checkAccount = c.check_account ?? true;
    this.#adminGroups = c.admin_groups ?? [];
    this.#allowedGroups = c.allowed_groups ?? [];
    this.#timeoutMs = (c.timeout_seconds ?? 20) * 1000;
    this.#limiter = new Limiter(deps.concurrency ?? 4, deps.maxQueue ?? 64);
    this.#pythons = c.python ? [c.python] : DEFAULT_PYTHONS;
    // Admins are let in, so admin_groups is an allow rule too (as in the hub's pipeline).
    this.hasAllowRules = this.#allowedGroups.length > 0 || this.#adminGroups.length > 0;
  }

  /** The first interpreter that imports pamela; rejects with the message naming python3-pamela. */
  #findHelper(): Promise<PamHelperCommand> {
    if (this.#deps.helper) return Promise.resolve(this.#deps.helper);
    this.#helper ??= (async () => {
      const problems: string[] = [];
      for (const python of this.#pythons) {
        const helper = { command: python, args: ['-I', '-c', PAM_HELPER] };
        try {
          const answer = await runHelper(helper, ['--probe'], null, this.#timeoutMs);
          if (answer.result === 'ok') return helper;
          problems.push(`${python}: ${answer.error ?? 'cannot import pamela'}`);
        } catch (err) {
          problems.push(`${python}: ${(err as Error).message}`);
        }
      }
      throw new Error(unavailableMessage(problems.join('; ')));
    })();
    // A failed probe is not cached: installing the package must not need a hub restart.
    this.#helper.catch(() => {
      this.#helper = undefined;
    });
    return this.#helper;
  }

  async validateConfig(): Promise<void> {
    try {
      await this.#findHelper();
    } catch (err) {
      throw new HubError(500, (err as Error).message);
    }
    const exists = this.#deps.groupExists ?? systemGroupExists;
    for (const [key, groups] of [['admin_groups', this.#adminGroups], ['allowed_groups', this.#allowedGroups]] as const) {
      for (const group of groups) {
        if (!(await exists(group).catch(() => true))) this.#log.warn({ group }, `authenticator.${key}: no such system group (yet): ${group}`);
      }
    }
  }

  async #groupsOf(name: string): Promise<string[]> {
    const lookup = this.#deps.groupsOf ?? systemGroupsOf;
    return this.#limiter.run(() => lookup(name));
  }

  async authenticate(input: LoginInput): Promise<AuthModel | null> {
    const username = input.fields['username'] ?? '';
    const password = input.fields['password'] ?? '';
    // eslint-disable-next-line no-control-regex
    if (username === '' || username.length > 255 || username.startsWith('-') || /[\u0000-\u001f\u007f:/]/.test(username)) return null;
    // An empty password would let accounts without one in (pam_unix nullok): never over the web.
    if (password === '' || password.length > MAX_PASSWORD) return null;

    let helper: PamHelperCommand;
    try {
      helper = await this.#findHelper();
    } catch (err) {
      this.#log.error({ user: username }, (err as Error).message);
      throw new HubError(500, 'The system sign-in service is not available. Ask an administrator to check the hub log.');
    }
    const request = JSON.stringify({ username, password, service: this.#service, check_account: this.#checkAccount });
    let answer: HelperAnswer;
    try {
      answer = await this.#limiter.run(() => runHelper(helper, [], request, this.#timeoutMs));
    } catch (err) {
      if (err instanceof HubError) throw err;
      const e = err as Error & { code?: string };
      if (e.code === 'TIMEOUT') {
        this.#log.error({ user: username, remote: input.remoteAddress }, `pam: the PAM check (service ${this.#service}) timed out: ${e.message}`);
        throw new HubError(503, 'The system sign-in service did not answer in time. Try again.');
      }
      this.#log.error({ user: username }, `pam: the PAM helper failed: ${e.message}`);
      throw new HubError(500, 'The system sign-in service failed. Ask an administrator to check the hub log.');
    }
    if (answer.result === 'unavailable') {
      this.#helper = undefined;
      this.#log.error({ user: username }, unavailableMessage(answer.error ?? 'cannot import pamela'));
      throw new HubError(500, 'The system sign-in service is not available. Ask an administrator to check the hub log.');
    }
    if (answer.result === 'denied') {
      const what = answer.stage === 'account' ? 'PAM account check failed' : 'PAM authentication failed';
      this.#log.warn({ user: username, remote: input.remoteAddress, service: this.#service }, `${what}: ${answer.error ?? ''}`);
      return null;
    }
    const model: AuthModel = { name: username };
    if (this.#adminGroups.length > 0) {
      let groups: string[];
      try {
        groups = await this.#groupsOf(username);
      } catch (err) {
        // As JupyterHub: a failed group lookup is our failure, not theirs, and must not silently drop admin.
        this.#log.error({ user: username }, `pam: admin_groups check failed: ${(err as Error).message}`);
        throw new HubError(500, 'Could not look up your system groups. Ask an administrator to check the hub log.');
      }
      model.admin = groups.some((g) => this.#adminGroups.includes(g));
    }
    return model;
  }

  async checkAllowed(name: string): Promise<boolean> {
    if (this.#allowedGroups.length === 0) return false;
    try {
      const groups = await this.#groupsOf(name);
      return groups.some((g) => this.#allowedGroups.includes(g));
    } catch (err) {
      this.#log.error({ user: name }, `pam: allowed_groups check failed: ${(err as Error).message}`);
      return false;
    }
  }
}

/** The `pam` kind with injectable parts (tests); {@link pamAuthenticator} is the real one. */
export function pamPlugin(deps: PamDeps = {}): AuthenticatorPlugin<PamAuthConfig> {
  return {
    kind: 'pam',
    configSchema: pamConfigSchema,
    create: (ctx) => new PamAuthenticator(ctx, deps),
  };
}

/**
 * `kind: pam` (JupyterHub's PAMAuthenticator): system accounts, checked by PAM through python3-pamela in a
 * short-lived helper process (the hub runs as root). admin_groups and allowed_groups use system groups.
 */
export const pamAuthenticator: AuthenticatorPlugin<PamAuthConfig> = pamPlugin();
