// AES-256-GCM for auth_state with JupyterHub's JUPYTERHUB_CRYPT_KEY format (';'-separated, hex or base64).
import { randomBytes } from 'node:crypto';
import t from 'tap';
import { AuthStateCrypt, parseCryptKeys } from './auth-state-crypt.js';

const k1 = randomBytes(32);
const k2 = randomBytes(32);

t.test('key formats', async (t) => {
  t.same(parseCryptKeys(undefined), []);
  t.same(parseCryptKeys(' ; '), []);
  t.same(parseCryptKeys(k1.toString('hex')), [k1], 'hex');
  t.same(parseCryptKeys(k1.toString('base64')), [k1], 'base64');
  t.same(parseCryptKeys(k1.toString('base64url')), [k1], 'url-safe base64');
  t.same(parseCryptKeys(`${k2.toString('hex')};${k1.toString('base64')}`), [k2, k1], 'several, in order');
  t.throws(() => parseCryptKeys('abcd'), /key 1 is not 32 bytes/);
  t.throws(() => parseCryptKeys(`${k1.toString('hex')};${randomBytes(16).toString('hex')}`), /key 2 is not 32 bytes/);
});

t.test('round trip, no plaintext, tamper detection', async (t) => {
  const c = new AuthStateCrypt([k1]);
  const state = { access_token: 'tok-123', nested: { a: [1, 2] } };
  const stored = c.encrypt(state);
  t.notMatch(stored, /tok-123|access_token/);
  t.not(c.encrypt(state), stored, 'a fresh IV each time');
  t.same(c.decrypt(stored), { state, readable: true, current: true });
  const flipped = stored.slice(0, -4) + (stored.at(-4) === 'A' ? 'B' : 'A') + stored.slice(-3);
  t.same(c.decrypt(flipped), { state: null, readable: false, current: false }, 'tampered: unreadable, not an exception');
  t.same(c.decrypt(null), { state: null, readable: true, current: true });
});

t.test('rotation: encrypt with the first key, decrypt with any', async (t) => {
  const old = new AuthStateCrypt([k1]).encrypt({ v: 1 });
  const rotated = new AuthStateCrypt([k2, k1]);
  t.same(rotated.decrypt(old), { state: { v: 1 }, readable: true, current: false }, 'old rows read, marked for re-encryption');
  const rewritten = rotated.encrypt({ v: 1 });
  t.same(new AuthStateCrypt([k2]).decrypt(rewritten).state, { v: 1 }, 'new rows need only the new key');
  t.same(new AuthStateCrypt([k2]).decrypt(old).readable, false, 'a dropped key makes old rows unreadable');
});

t.test('without a key: plaintext JSON, and legacy plaintext rows read', async (t) => {
  const none = new AuthStateCrypt([]);
  t.equal(none.enabled, false);
  t.equal(none.encrypt({ a: 1 }), '{"a":1}');
  t.same(new AuthStateCrypt([k1]).decrypt('{"a":1}'), { state: { a: 1 }, readable: true, current: false });
  t.same(none.decrypt('[1]').state, null, 'not an object: none');
});
