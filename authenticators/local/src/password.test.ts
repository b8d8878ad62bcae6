import t from 'tap';
import { MAX_PASSWORD_LENGTH, checkPasswordRules, hashPassword, verifyPassword } from './password.js';

t.test('checkPasswordRules returns the problem or null', async (t) => {
  t.match(checkPasswordRules('', 8), /empty/);
  t.match(checkPasswordRules('1234567', 8), /at least 8 characters/);
  t.equal(checkPasswordRules('12345678', 8), null);
  t.equal(checkPasswordRules('ééééé', 5), null, 'counts characters, not bytes');
  t.match(checkPasswordRules('🔑🔑🔑', 4), /at least 4/, 'an emoji is one character');
  t.match(checkPasswordRules('x'.repeat(MAX_PASSWORD_LENGTH + 1), 8), /at most/);
  t.equal(checkPasswordRules('x'.repeat(MAX_PASSWORD_LENGTH), 8), null);
});

t.test('hash and verify round trip; malformed hashes do not throw', async (t) => {
  const h = await hashPassword('secret password');
  t.not(h, await hashPassword('secret password'), 'salted');
  t.equal(await verifyPassword(h, 'secret password'), true);
  t.equal(await verifyPassword(h, 'Secret password'), false);
  t.equal(await verifyPassword('', 'x'), false);
  t.equal(await verifyPassword('$argon2id$broken', 'x'), false);
});

t.test('checkPasswordRules refuses the username and common passwords when asked', async (t) => {
  t.match(checkPasswordRules('Alice.Smith', 8, { username: 'alice.smith' }), /same as the username/);
  t.equal(checkPasswordRules('alice.smith!', 8, { username: 'alice.smith' }), null);
  t.equal(checkPasswordRules('password123', 8), null, 'common list only when asked');
  t.match(checkPasswordRules('Password123', 8, { checkCommon: true }), /most commonly used/, 'case-insensitive');
  t.match(checkPasswordRules('jupyterhub', 8, { checkCommon: true }), /most commonly used/);
  t.equal(checkPasswordRules('correct horse battery', 8, { checkCommon: true, username: 'x' }), null);
});
