import { HubError } from '@tshub/plugin-api';
import { isLocked, type AccountRecord } from './account-book.js';

/** The lockout options: `allowedFailures` 0 turns it off; `lockSeconds` 0 locks until an admin unlocks. */
export interface LockoutPolicy {
  readonly allowedFailures: number;
  readonly lockSeconds: number;
}

/**
 * The record after one more wrong password: counts it, and locks the account when the count reaches
 * the limit. A lock that has run out starts a fresh count, as if the admin had unlocked it.
 */
export function afterFailure(record: AccountRecord, policy: LockoutPolicy, now: Date): AccountRecord {
  const expired = record.locked !== undefined && !isLocked(record, now);
  const { locked: _old, ...rest } = record;
  const failures = (expired ? 0 : (record.failed_logins ?? 0)) + 1;
  const next: AccountRecord = { ...rest, failed_logins: failures };
  if (policy.allowedFailures > 0 && failures >= policy.allowedFailures) {
    const until = policy.lockSeconds > 0 ? new Date(now.getTime() + policy.lockSeconds * 1000).toISOString() : null;
    next.locked = { since: now.toISOString(), until };
    next.failed_logins = 0;
  }
  return next;
}

/** The record with no failures and no lock (a success, an admin unlock or reset). */
export function cleared(record: AccountRecord): AccountRecord {
  const { locked: _locked, failed_logins: _failed, ...rest } = record;
  return rest;
}

/** Whether the record carries failure state worth clearing after a success. */
export function hasFailureState(record: AccountRecord): boolean {
  return record.locked !== undefined || (record.failed_logins ?? 0) > 0;
}

/**
 * The refusal for a locked account, or null when it is not locked. 403 with the reason, so the person
 * knows that even the right password will not work now and what to do. A timed lock adds Retry-After.
 */
export function lockedError(record: AccountRecord, policy: LockoutPolicy, now: Date): HubError | null {
  if (!isLocked(record, now)) return null;
  const what = `This account is locked after ${policy.allowedFailures} failed login${policy.allowedFailures === 1 ? '' : 's'}.`;
  const until = record.locked?.until ?? null;
  if (until === null) return new HubError(403, `${what} Ask an administrator to unlock it.`);
  const seconds = Math.max(1, Math.ceil((Date.parse(until) - now.getTime()) / 1000));
  const wait = seconds < 90 ? `${seconds} seconds` : `${Math.ceil(seconds / 60)} minutes`;
  return new HubError(403, `${what} Try again in ${wait}, or ask an administrator to unlock it.`, { headers: { 'Retry-After': String(seconds) } });
}
