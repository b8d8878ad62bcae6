// Username normalisation and validation (JupyterHub Authenticator.normalize_username / validate_username).
import t from 'tap';
import { normalizeUsername, validUsername } from './login-flow.js';

t.test('normalizeUsername: lower-cased (the login form also strips the name)', async (t) => {
  const cases: Array<[string, string]> = [
    ['alice', 'alice'],
    ['Alice', 'alice'],
    ['  Bob  ', 'bob'],
    ['\tcarol\n', 'carol'],
    ['A@B.C', 'a@b.c'],
    ['ÜNÏ', 'ünï'],
    ['ΣΊΣΥΦΟΣ', 'σίσυφος'],
    ['first Last', 'first last'],
    ['', ''],
  ];
  for (const [raw, want] of cases) t.equal(normalizeUsername(raw), want, JSON.stringify(raw));
});

t.test('validUsername without username_pattern', async (t) => {
  const ok = ['alice', 'a', 'a@b.c', 'ünï', '日本', 'first last', 'o\'brien', 'a.b-c_d~e', 'x'.repeat(255)];
  const bad = [
    '', 'a/b', '/', '../etc', 'a\\b', 'a\u0000b', 'a\nb', 'a\rb', 'a\tb', 'a\u001fb', 'a\u007fb', 'x'.repeat(256), 'x'.repeat(10_000),
  ];
  for (const n of ok) t.equal(validUsername(n, ''), true, JSON.stringify(n).slice(0, 40));
  for (const n of bad) t.equal(validUsername(n, ''), false, JSON.stringify(n).slice(0, 40));
});

t.test('validUsername with username_pattern: the whole name must match', async (t) => {
  const cases: Array<[string, string, boolean]> = [
    ['^[a-z0-9]+$', 'alice1', true],
    ['^[a-z0-9]+$', 'Alice', false],
    ['^[a-z0-9]+$', 'a@b.c', false],
    ['[a-z]+', 'alice', true],
    // JupyterHub uses re.match (anchored at the start only); tshub requires a full match.
    ['[a-z]+', 'alice!', false],
    ['a', 'abc', false],
    ['[a-z]+|admin', 'admin', true],
    ['[a-z]+|admin', 'x-admin', false],
    ['[a-z]+@example\\.org', 'bob@example.org', true],
    ['[a-z]+@example\\.org', 'bob@example.org.evil', false],
    ['.*', 'a/b', false],
    ['.*', 'x'.repeat(256), false],
  ];
  for (const [pattern, name, want] of cases) t.equal(validUsername(name, pattern), want, `${pattern} ${name.slice(0, 40)}`);
});
