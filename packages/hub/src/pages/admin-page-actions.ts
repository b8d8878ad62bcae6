import { HubError } from '@tshub/plugin-api';
import type { HubContext } from '../hub-context.js';
import type { UserRow } from '../db/schema.js';
import { normalizeUsername, validUsername } from '../auth/login-flow.js';
import { findUser, userGroupNames } from '../db/users.js';
import { findUsersByName, updateUser } from '../db/user-queries.js';
import { addUsers, removeUser } from '../services/user-lifecycle.js';

/** The message shown once on the admin page after an action (post-redirect-get). */
export interface Flash {
  kind: 'info' | 'error';
  text: string;
}

/** Who acts: the logged-in admin. */
export interface Actor {
  userId: number;
  name: string;
}

const info = (text: string): Flash => ({ kind: 'info', text });
const error = (text: string): Flash => ({ kind: 'error', text });
const delay = (ms: number) => new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), ms).unref());

/** Most names one "Add users" form may carry. */
const MAX_NEW_USERS = 1000;
/** How long a page request waits for a start or stop before answering "starting" / "stopping". */
const PAGE_WAIT_SECONDS = 3;

/** A name as the page may print it: control characters made visible, long names cut. */
export function shown(name: string): string {
  // eslint-disable-next-line no-control-regex
  const clean = name.replace(/[\u0000-\u001f\u007f]/g, '\uFFFD');
  return clean.length > 80 ? `${clean.slice(0, 80)}…` : clean;
}

/**
 * What the admin page's forms do, on the same internals as the REST API's users and servers routes
 * (ServerManager.spawn/stop, createUsers, updateUser, deleteUserRow), so both behave alike. Every
 * method returns the flash to show, or throws HubError(4xx) whose message the page shows instead.
 */
export class AdminActions {
  constructor(private readonly hub: HubContext) {}

  /** The user a form names (exactly, as listed); a 404 for names the hub could never hold. */
  async user(name: string): Promise<UserRow> {
    const user = validUsername(name, '') ? await findUser(this.hub.db, name) : undefined;
    if (!user) throw new HubError(404, `There is no user named ${shown(name)}.`);
    return user;
  }

  /** A server name from a form: '' for the default server. */
  serverName(raw: string): string {
    if (raw === '') return '';
    if (!this.hub.config.hub.allow_named_servers) throw new HubError(400, 'Named servers are not enabled.');
    if (!validUsername(raw, '')) throw new HubError(400, `Invalid server name: ${shown(raw)}`);
    return raw;
  }

  #label(user: string, server: string): string {
    return server ? `${user}'s server ${server}` : `${user}'s server`;
  }

  #wait(): number {
    return Math.min(PAGE_WAIT_SECONDS, this.hub.config.hub.slow_spawn_timeout) * 1000;
  }

  async start(name: string, rawServer: string): Promise<Flash> {
    const { hub } = this;
    const user = await this.user(name);
    const server = this.serverName(rawServer);
    const label = this.#label(user.name, server);
    const existing = hub.servers.get(user.id, server);
    if (existing?.phase === 'spawning') return info(`${label} is already starting.`);
    if (server && !existing?.active) {
      const limit = hub.config.hub.named_server_limit_per_user;
      const named = hub.servers.forUser(user.id).filter((r) => r.serverName && r.active).length;
      if (limit > 0 && named >= limit) throw new HubError(400, `${user.name} already has the maximum of ${limit} named servers running.`);
    }
    const rt = await hub.servers.spawn({ id: user.id, name: user.name, admin: user.admin, groups: await userGroupNames(hub.db, user.id) }, server, {});
    await Promise.race([rt.spawnDone, delay(this.#wait())]);
    if (rt.phase === 'failed') return error(`Spawn failed: ${rt.failure?.message ?? 'unknown error'}`);
    return info(rt.ready ? `Started ${label}.` : `${label} is starting; reload this page to see when it is running.`);
  }

  async stop(name: string, rawServer: string): Promise<Flash> {
    const { hub } = this;
    const user = await this.user(name);
    const server = rawServer === '' ? '' : rawServer;
    const label = this.#label(user.name, server);
    const rt = hub.servers.get(user.id, server);
    if (!rt) return info(`${label} is not running.`);
    if (rt.phase === 'stopping') return info(`${label} is already stopping.`);
    const failed = rt.phase === 'failed';
    const done = hub.servers.stop(rt).then(() => 'done' as const);
    if (failed) return (await done, info(`Cleared the failed start of ${label}.`));
    const finished = (await Promise.race([done, delay(Math.min(PAGE_WAIT_SECONDS, hub.config.hub.slow_stop_timeout) * 1000)])) === 'done';
    return info(finished ? `Stopped ${label}.` : `${label} is stopping.`);
  }

  /** Stops every running or starting server of every user (JupyterHub's "Stop All"). */
  async stopAll(by: Actor): Promise<Flash> {
    const { hub } = this;
    const targets = [...hub.servers.all].filter((rt) => rt.phase === 'ready' || rt.phase === 'spawning');
    if (!targets.length) return info('No servers are running.');
    const done = Promise.all(targets.map((rt) => hub.servers.stop(rt))).then(() => 'done' as const);
    hub.log.info({ by: by.name, servers: targets.length }, 'admin stopped all servers');
    const finished = (await Promise.race([done, delay(Math.min(PAGE_WAIT_SECONDS, hub.config.hub.slow_stop_timeout) * 1000)])) === 'done';
    const n = `${targets.length} server${targets.length === 1 ? '' : 's'}`;
    return info(finished ? `Stopped ${n}.` : `Stopping ${n}.`);
  }

  /** One name per line (as JupyterHub's admin page), normalised and checked as POST /users does. */
  async addUsers(by: Actor, text: string, admin: boolean): Promise<Flash> {
    const { hub } = this;
    const typed = text.split(/\r?\n|\r/).map((s) => s.trim()).filter((s) => s !== '');
    if (!typed.length) throw new HubError(400, 'Enter at least one user name, one per line.');
    if (typed.length > MAX_NEW_USERS) throw new HubError(400, `Add at most ${MAX_NEW_USERS} users at a time.`);
    const pattern = hub.config.authenticator.username_pattern;
    const names: string[] = [];
    const invalid: string[] = [];
    for (const raw of typed) {
      const name = normalizeUsername(raw);
      if (!validUsername(name, pattern)) invalid.push(shown(name));
      else if (!names.includes(name)) names.push(name);
    }
    if (invalid.length) {
      const list = invalid.slice(0, 10).join(', ') + (invalid.length > 10 ? ` and ${invalid.length - 10} more` : '');
      throw new HubError(400, `Invalid user name${invalid.length > 1 ? 's' : ''}: ${list}. Names have 1 to 255 characters, without slashes or control characters.`);
    }
    const existing = new Set((await findUsersByName(hub.db, names)).map((u) => u.name));
    const toCreate = names.filter((n) => !existing.has(n));
    if (!toCreate.length) throw new HubError(409, names.length === 1 ? `The user ${names[0]} already exists.` : `All ${names.length} users already exist.`);
    const created = await addUsers(hub, toCreate, admin, by.name);
    const list = (xs: string[]) => (xs.length > 10 ? `${xs.slice(0, 10).join(', ')} and ${xs.length - 10} more` : xs.join(', '));
    const made = created.map((u) => u.name);
    const skipped = names.filter((n) => !made.includes(n));
    return info(`Added ${made.length} ${admin ? 'admin' : 'user'}${made.length === 1 ? '' : 's'}: ${list(made)}.${skipped.length ? ` Already there: ${list(skipped)}.` : ''}`);
  }

  /** Grants or removes admin rights (PATCH /users/:name {admin}); nobody removes their own. */
  async setAdmin(by: Actor, name: string, admin: boolean): Promise<Flash> {
    const { hub } = this;
    const user = await this.user(name);
    if (user.id === by.userId && !admin) throw new HubError(400, 'You cannot remove your own admin rights. Ask another admin.');
    if (user.admin === admin) return info(`${user.name} ${admin ? 'is already' : 'is not'} an admin.`);
    await updateUser(hub.db, user.id, { admin });
    hub.identities.invalidate();
    hub.log.info({ by: by.name, user: user.name, key: 'admin', value: admin }, 'user updated');
    return info(admin ? `${user.name} is now an admin.` : `${user.name} is no longer an admin.`);
  }

  /** Deletes a user as DELETE /users/:name does: servers stopped, stored data removed, then the row. */
  async deleteUser(by: Actor, name: string): Promise<Flash> {
    const { hub } = this;
    const user = await this.user(name);
    if (user.id === by.userId) throw new HubError(400, 'You cannot delete yourself.');
    await removeUser(hub, user, by.name);
    return info(`Deleted ${user.name}.`);
  }
}
