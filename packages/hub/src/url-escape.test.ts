// URL escaping as JupyterHub does it: utils.url_escape_path = quote(value, safe='@~').
import t from 'tap';
import { urlEscapePath, userServerPath } from './url-escape.js';

// Expected values are Python's urllib.parse.quote(name, safe='@~').
const segments: Array<[string, string]> = [
  ['alice', 'alice'],
  ['Alice_B-2.x', 'Alice_B-2.x'],
  ['a@b.c', 'a@b.c'],
  ['a~b', 'a~b'],
  ['first last', 'first%20last'],
  ['ünï', '%C3%BCn%C3%AF'],
  ['日本', '%E6%97%A5%E6%9C%AC'],
  ['😀', '%F0%9F%98%80'],
  ["o'brien", 'o%27brien'],
  ['x+y', 'x%2By'],
  ['a/b', 'a%2Fb'],
  ['a%b', 'a%25b'],
  ['a?b#c', 'a%3Fb%23c'],
  ['a!b*c(d)', 'a%21b%2Ac%28d%29'],
  ['a:b;c=d&e,f$', 'a%3Ab%3Bc%3Dd%26e%2Cf%24'],
  ['..', '..'],
  ['', ''],
];

t.test('urlEscapePath', async (t) => {
  for (const [raw, want] of segments) {
    t.equal(urlEscapePath(raw), want, JSON.stringify(raw));
    t.equal(decodeURIComponent(urlEscapePath(raw)), raw, `${JSON.stringify(raw)} round-trips`);
  }
});

t.test('userServerPath', async (t) => {
  const cases: Array<[string, string, string, string]> = [
    ['/', 'alice', '', '/user/alice/'],
    ['/', 'alice', 'gpu', '/user/alice/gpu/'],
    ['/jh/', 'alice', '', '/jh/user/alice/'],
    ['/jh/', 'alice', 'gpu', '/jh/user/alice/gpu/'],
    ['/', 'a@b.c', '', '/user/a@b.c/'],
    ['/', 'first last', 'my server', '/user/first%20last/my%20server/'],
    ['/', 'ünï', '', '/user/%C3%BCn%C3%AF/'],
    ['/', 'alice', 'a/b', '/user/alice/a%2Fb/'],
  ];
  for (const [base, user, server, want] of cases) t.equal(userServerPath(base, user, server), want, `${base} ${user} ${server}`);
});
