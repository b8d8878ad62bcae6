// `next` after login / spawn must stay on this site (open-redirect defences).
import t from 'tap';
import { safeNext } from './safe-next.js';
import { parseSubdomainHost } from '../subdomain-host.js';

t.test('local paths are kept as they are', async (t) => {
  for (const next of [
    '/',
    '/hub/home',
    '/hub/spawn/alice/gpu',
    '/user/alice/lab?reset#section',
    '/user/a@b.c/tree/My%20Notebook.ipynb',
    '/user/alice/lab/tree/a//b',
    '/user/alice/?next=//evil.example',
    '/user/%2F%2Fevil.example/',
    '/x:y',
    '/' + 'a'.repeat(4095),
  ]) {
    t.equal(safeNext(next), next, JSON.stringify(next).slice(0, 60));
  }
});

t.test('anything that could leave the site is refused', async (t) => {
  for (const next of [
    '//evil.example',
    '//evil.example/user/alice/',
    '///evil.example',
    '/\\evil.example',
    '/\\/evil.example',
    '/user/alice/\\..\\..\\evil',
    '\\\\evil.example',
    'http://evil.example/',
    'https://evil.example/hub/',
    'HTTP://evil.example',
    'javascript:alert(1)',
    'JavaScript:alert(1)',
    'data:text/html,<script>alert(1)</script>',
    'evil.example',
    ' /hub/home',
    '\t//evil.example',
    '/\t/evil.example',
    '/\n/evil.example',
    '/\r\nSet-Cookie: x=1',
    '/hub/\u0000',
    '/hub/\u001f',
    '',
    '/' + 'a'.repeat(4096),
  ]) {
    t.equal(safeNext(next), undefined, JSON.stringify(next).slice(0, 60));
  }
});

t.test('non-strings are refused', async (t) => {
  for (const v of [undefined, null, 0, 1, true, {}, ['/hub/home'], { toString: () => '/hub/home' }]) t.equal(safeNext(v), undefined, String(v));
});

t.test('non-ASCII next ends up in a Location header', async (t) => {
  // Node refuses characters above U+00FF in a header (reply.redirect -> 500 ERR_INVALID_CHAR) and sends
  // U+0080-U+00FF as raw latin-1 bytes, so a kept non-ASCII path must be percent-encoded.
  t.equal(safeNext('/user/日本/lab'), '/user/%E6%97%A5%E6%9C%AC/lab');
  t.equal(safeNext('/user/ü/'), '/user/%C3%BC/');
});

t.test('with subdomain_host: the hub host and user hosts under it, nothing else', async (t) => {
  const sd = parseSubdomainHost('http://hub.example:8000')!;
  t.equal(safeNext('http://alice.hub.example:8000/user/alice/tree?x=1#y', sd), 'http://alice.hub.example:8000/user/alice/tree?x=1#y');
  t.equal(safeNext('http://hub.example:8000/hub/home', sd), 'http://hub.example:8000/hub/home');
  t.equal(safeNext('/hub/home', sd), '/hub/home', 'paths still work');
  for (const next of [
    'http://evil.example/',
    'http://hub.example.evil.example:8000/',
    'http://alicehub.example:8000/',
    'http://.hub.example:8000/',
    'https://alice.hub.example:8000/',
    'http://alice.hub.example/',
    'http://alice.hub.example:8001/',
    'http://user:pw@alice.hub.example:8000/',
    '//alice.hub.example:8000/',
    'javascript://alice.hub.example:8000/%0aalert(1)',
  ]) {
    t.equal(safeNext(next, sd), undefined, next);
  }
  t.equal(safeNext('http://alice.hub.example:8000/user/alice/'), undefined, 'without subdomain_host absolute URLs stay refused');
});
