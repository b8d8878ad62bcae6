import { HubError } from '@tshub/plugin-api';
import { Limiter, PAM_HELPER, runHelper, systemGroupExists, systemGroupsOf, type HelperAnswer, type PamHelperCommand } from './pam-helper.js';
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
const DEFAULT_PYTHONS = ['/usr/bin/python3', 'python3'];

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

export { Limiter, PAM_HELPER, type PamHelperCommand } from './pam-helper.js';
