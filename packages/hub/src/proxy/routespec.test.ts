import t from 'tap';
import { canonicalRoutespec, chpPathFromRoutespec, routespecFromChpPath } from './routespec.js';

t.test('canonicalRoutespec decodes once and re-escapes like JupyterHub', async (t) => {
  const cases: Array<[string, string]> = [
    ['/', '/'],
    ['', '/'],
    ['/user/alice', '/user/alice/'],
    ['/user/a%40b.c/', '/user/a@b.c/'],
    ['/user/a@b.c/', '/user/a@b.c/'],
    ['/user/a%20b/', '/user/a%20b/'],
    ['/user/a b/', '/user/a%20b/'],
    ['/user/%C3%A9l%C3%A8ve/', '/user/%C3%A9l%C3%A8ve/'],
    ['/user/élève/', '/user/%C3%A9l%C3%A8ve/'],
    ['/user/a%2Fb/', '/user/a%2Fb/'],
    ['/user/it\'s(1)!*/', '/user/it%27s%281%29%21%2A/'],
    ['/user/100%/', '/user/100%25/'],
    ['/user/~x_y-z./', '/user/~x_y-z./'],
    ['/services/my%20svc/', '/services/my%20svc/'],
    ['example.com/user/x/', 'example.com/user/x/'],
  ];
  for (const [input, expected] of cases) {
    t.equal(canonicalRoutespec(input), expected, input);
    t.equal(canonicalRoutespec(expected), expected, `${expected} is a fixed point`);
  }
});

t.test('chpPathFromRoutespec drops the trailing slash except for the root', async (t) => {
  t.equal(chpPathFromRoutespec('/'), '/');
  t.equal(chpPathFromRoutespec('/user/a%40b.c/'), '/user/a@b.c');
  t.equal(chpPathFromRoutespec('/user/a@b.c/srv/'), '/user/a@b.c/srv');
  t.equal(chpPathFromRoutespec('/user/élève/'), '/user/%C3%A9l%C3%A8ve');
  t.equal(chpPathFromRoutespec('example.com/user/x/'), '/example.com/user/x');
});

t.test('routespecFromChpPath re-escapes the decoded keys CHP reports', async (t) => {
  t.equal(routespecFromChpPath('/'), '/');
  t.equal(routespecFromChpPath('/user/a@b.c'), '/user/a@b.c/');
  t.equal(routespecFromChpPath('/user/élève'), '/user/%C3%A9l%C3%A8ve/');
  t.equal(routespecFromChpPath('/user/a b/my server'), '/user/a%20b/my%20server/');
  t.equal(routespecFromChpPath('/example.com/user/x', true), 'example.com/user/x/');
  // what the hub adds is what it reads back
  for (const spec of ['/user/a@b.c/', '/user/%C3%A9l%C3%A8ve/', '/user/a%20b/s%2A/']) {
    const chpKey = decodeURIComponent(chpPathFromRoutespec(spec));
    t.equal(routespecFromChpPath(chpKey), spec, spec);
  }
});
