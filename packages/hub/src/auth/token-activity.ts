import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Database } from '../db/schema.js';
import { touchToken } from '../db/tokens.js';
import { touchUserActivity } from '../db/users.js';
import type { Identity } from './identity.js';

/**
 * Records token use (token.last_activity, and the owner's last_activity unless it is a server's own
 * token) without a database write per request: at most one write per token per `resolutionMs`, done
 * off the request path. A value may be up to `resolutionMs` stale.
 */
export class TokenActivity {
  readonly #lastWrite = new Map<number, number>();

  constructor(
    private readonly db: Kysely<Database>,
    private readonly log: Logger,
    private readonly resolutionMs: number,
    private readonly onUserActivity?: (user: string) => void,
  ) {}

  record(identity: Identity): void {
    const id = identity.tokenId;
    if (id === null) return;
    const now = Date.now();
    const last = this.#lastWrite.get(id);
    if (last !== undefined && now - last < this.resolutionMs) return;
    if (this.#lastWrite.size > 100_000) this.#lastWrite.clear();
    this.#lastWrite.set(id, now);
    const when = new Date(now);
    const counts = identity.kind === 'user' && !identity.tokenNote?.startsWith('Server at ') && identity.tokenNote !== 'culler';
    if (counts) this.onUserActivity?.(identity.name);
    void (async () => {
      await touchToken(this.db, id, when);
      if (counts) await touchUserActivity(this.db, identity.userId, when);
    })().catch((err) => this.log.debug({ err: String(err) }, 'could not record token activity'));
  }
}
