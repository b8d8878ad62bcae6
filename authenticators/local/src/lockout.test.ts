import t from 'tap';
import { afterFailure, cleared, lockedError } from './lockout.js';

const now = new Date('2026-01-01T12:00:00Z');
const base = { created: '2025-01-01T00:00:00Z', password_hash: '$argon2id$x' };

t.test('afterFailure counts, then locks at the limit and resets the count', async (t) => {
  const policy = { allowedFailures: 2, lockSeconds: 60 };
  const one = afterFailure(base, policy, now);
  t.same(one, { ...base, failed_logins: 1 });
  const two = afterFailure(one, policy, now);
  t.same(two, { ...base, failed_logins: 0, locked: { since: now.toISOString(), until: '2026-01-01T12:01:00.000Z' } });
  t.match(lockedError(two, policy, now), { status: 403, message: /Try again in 60 seconds/, headers: { 'Retry-After': '60' } });
  t.equal(lockedError(two, policy, new Date('2026-01-01T12:01:00Z')), null, 'over at until');
  const later = afterFailure(two, policy, new Date('2026-01-01T13:00:00Z'));
  t.same(later, { ...base, failed_logins: 1 }, 'an expired lock starts a fresh count');
  t.same(cleared(two), base);
});

t.test('lockSeconds 0 locks until unlocked; allowedFailures 0 never locks', async (t) => {
  const forever = afterFailure({ ...base, failed_logins: 4 }, { allowedFailures: 5, lockSeconds: 0 }, now);
  t.same(forever.locked, { since: now.toISOString(), until: null });
  t.match(lockedError(forever, { allowedFailures: 5, lockSeconds: 0 }, new Date('2030-01-01')), { message: /Ask an administrator/ });
  const never = afterFailure({ ...base, failed_logins: 99 }, { allowedFailures: 0, lockSeconds: 0 }, now);
  t.equal(never.locked, undefined);
  t.equal(never.failed_logins, 100);
});
