import type { Kysely } from 'kysely';
import { hashSecret } from './secrets.js';
import { expandScopes, intersectScopes, toScopeSet, type ScopeSet } from './scopes.js';
import { identifyScopes } from './roles.js';
import { serviceRoleScopes, userRoleScopes } from './role-scopes.js';
import type { Database } from '../db/schema.js';
import { userGroupNames } from '../db/users.js';

/** Who a request acts as, and with which scopes. */
export interface Identity {
  /** A user, or a service (a service's `userId` is 0 and `name` is the service's name). */
  readonly kind: 'user' | 'service';
  readonly userId: number;
  readonly name: string;
  readonly admin: boolean;
  readonly groups: readonly string[];
  /** Expanded scopes of this credential (a token's own scopes within its owner's). */
  readonly scopes: readonly string[];
  readonly scopeSet: ScopeSet;
  /** Row id of the token used, or null for cookie auth. */
  readonly tokenId: number | null;
  /** The login session the credential belongs to (cookie session, or an OAuth token's). */
  readonly sessionId: string | null;
  /** The token's note; server tokens ("Server at ...") do not count as user activity. */
  readonly tokenNote: string | null;
  readonly expiresAt: Date | null;
}

interface Cached {
  identity: Identity | null;
  until: number;
}

/**
 * Resolves API tokens and login sessions to identities, with an in-process cache so the hot path is
 * a hash and a map lookup. Every mutation that could change an answer (logout, token or user
 * deletion, admin or group change) calls {@link invalidate}; entries also expire after `ttlMs`, which
 * bounds staleness should anything else change the database.
 */
export class IdentityResolver {
  readonly #db: Kysely<Database>;
  readonly #cache = new Map<string, Cached>();
  readonly #ttlMs: number;

  constructor(db: Kysely<Database>, opts: { ttlMs?: number } = {}) {
    this.#db = db;
    this.#ttlMs = opts.ttlMs ?? 30_000;
  }

  /** Drops every cached answer. Mutations are rare next to lookups, so coarse is fine. */
  invalidate(): void {
    this.#cache.clear();
  }

  async fromToken(secret: string): Promise<Identity | null> {
    return this.#cached('t:' + hashSecret(secret), (hashed) => this.#loadToken(hashed.slice(2)));
  }

  /** `sessionHash` is the sessions.id (sha256 of the cookie's session secret). */
  async fromSession(sessionHash: string): Promise<Identity | null> {
    return this.#cached('s:' + sessionHash, () => this.#loadSession(sessionHash));
  }

  async #cached(key: string, load: (key: string) => Promise<Identity | null>): Promise<Identity | null> {
    const now = Date.now();
    const hit = this.#cache.get(key);
    if (hit && hit.until > now) {
      if (hit.identity?.expiresAt && hit.identity.expiresAt.getTime() <= now) return null;
      return hit.identity;
    }
    const identity = await load(key);
    if (this.#cache.size > 50_000) this.#cache.clear();
    this.#cache.set(key, { identity, until: now + this.#ttlMs });
    return identity;
  }

  async #loadToken(hashed: string): Promise<Identity | null> {
    const svc = await this.#db
      .selectFrom('api_tokens')
      .innerJoin('services', 'services.name', 'api_tokens.service_name')
      .select(['api_tokens.id', 'api_tokens.scopes', 'api_tokens.expires_at', 'api_tokens.note', 'services.id as service_id', 'services.name', 'services.admin'])
      .where('api_tokens.hashed', '=', hashed)
      .where('api_tokens.user_id', 'is', null)
      .executeTakeFirst();
    if (svc) {
      if (svc.expires_at && svc.expires_at.getTime() <= Date.now()) return null;
      const owner = await serviceRoleScopes(this.#db, { id: svc.service_id, name: svc.name, admin: svc.admin });
      const requested = expandScopes(svc.scopes.includes('inherit') ? owner.list : svc.scopes);
      const scopes = [...new Set([...intersectScopes(requested, owner.set), `read:services:name!service=${svc.name}`])].sort();
      return {
        kind: 'service', userId: 0, name: svc.name, admin: svc.admin, groups: [], scopes, scopeSet: toScopeSet(scopes),
        tokenId: svc.id, sessionId: null, tokenNote: svc.note, expiresAt: svc.expires_at,
      };
    }
    const row = await this.#db
      .selectFrom('api_tokens')
      .innerJoin('users', 'users.id', 'api_tokens.user_id')
      .select(['api_tokens.id', 'api_tokens.scopes', 'api_tokens.expires_at', 'api_tokens.session_id', 'api_tokens.note', 'users.id as user_id', 'users.name', 'users.admin'])
      .where('api_tokens.hashed', '=', hashed)
      .executeTakeFirst();
    if (!row) return null;
    if (row.expires_at && row.expires_at.getTime() <= Date.now()) return null;
    const groups = await userGroupNames(this.#db, row.user_id);
    const owner = await userRoleScopes(this.#db, { id: row.user_id, name: row.name, admin: row.admin });
    const requested = expandScopes(row.scopes.includes('inherit') ? owner.list : row.scopes, row.name);
    const scopes = [...new Set([...intersectScopes(requested, owner.set), ...identifyScopes(row.name)])].sort();
    return {
      kind: 'user', userId: row.user_id, name: row.name, admin: row.admin, groups, scopes, scopeSet: toScopeSet(scopes),
      tokenId: row.id, sessionId: row.session_id, tokenNote: row.note, expiresAt: row.expires_at,
    };
  }

  async #loadSession(sessionHash: string): Promise<Identity | null> {
    const row = await this.#db
      .selectFrom('sessions')
      .innerJoin('users', 'users.id', 'sessions.user_id')
      .select(['sessions.expires_at', 'users.id as user_id', 'users.name', 'users.admin'])
      .where('sessions.id', '=', sessionHash)
      .executeTakeFirst();
    if (!row || row.expires_at.getTime() <= Date.now()) return null;
    const groups = await userGroupNames(this.#db, row.user_id);
    const owner = await userRoleScopes(this.#db, { id: row.user_id, name: row.name, admin: row.admin });
    return {
      kind: 'user', userId: row.user_id, name: row.name, admin: row.admin, groups, scopes: owner.list, scopeSet: owner.set,
      tokenId: null, sessionId: sessionHash, tokenNote: null, expiresAt: row.expires_at,
    };
  }
}
