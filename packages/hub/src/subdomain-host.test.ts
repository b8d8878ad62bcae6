// subdomain_host parsing and the host names users get (JupyterHub's _dns_quote and User.host).
import t from 'tap';
import { dnsLabel, isUserHost, parseSubdomainHost, serverAddress } from './subdomain-host.js';

t.test('parsing', async (t) => {
  t.equal(parseSubdomainHost(''), null, 'empty: off');
  t.match(parseSubdomainHost('http://hub.localhost:8000'), { origin: 'http://hub.localhost:8000', domain: 'hub.localhost', port: '8000', protocol: 'http:' });
  t.match(parseSubdomainHost('hub.example.org'), { origin: 'https://hub.example.org', port: '' }, 'no scheme means https, as JupyterHub');
  t.match(parseSubdomainHost('https://hub.example.org/'), { origin: 'https://hub.example.org' });
  for (const bad of ['http://hub.example.org/jhub/', 'ftp://hub.example.org', 'http://127.0.0.1:8000', 'http://hub.example.org?x', 'http://[::1]:8000']) {
    t.throws(() => parseSubdomainHost(bad), /hub\.subdomain_host/, bad);
  }
});

t.test('user names as DNS labels, as JupyterHub escapes them', async (t) => {
  t.equal(dnsLabel('alice'), 'alice');
  t.equal(dnsLabel('Alice'), 'alice');
  t.equal(dnsLabel('a.b-c'), 'a.b-c');
  t.equal(dnsLabel('a@b'), 'a_40b');
  t.equal(dnsLabel('a_b'), 'a_5fb');
  t.equal(dnsLabel('a~b'), 'a_7eb');
  t.equal(dnsLabel('é'), '_c3_a9');
});

t.test('server addresses', async (t) => {
  const sd = parseSubdomainHost('http://hub.localhost:8000');
  t.same(serverAddress(null, '/', 'alice', ''), { prefix: '/user/alice/', url: '/user/alice/', routespec: '/user/alice/' }, 'off: paths only');
  t.same(serverAddress(sd, '/', 'alice', ''), {
    prefix: '/user/alice/', url: 'http://alice.hub.localhost:8000/user/alice/', routespec: 'alice.hub.localhost/user/alice/',
  });
  t.same(serverAddress(sd, '/jhub/', 'a@b', 'gpu'), {
    prefix: '/jhub/user/a@b/gpu/', url: 'http://a_40b.hub.localhost:8000/jhub/user/a@b/gpu/', routespec: 'a_40b.hub.localhost/jhub/user/a@b/gpu/',
  });
  t.ok(isUserHost(sd!, 'alice.hub.localhost:8000'));
  t.ok(isUserHost(sd!, 'ALICE.hub.localhost'));
  t.notOk(isUserHost(sd!, 'hub.localhost:8000'), "the hub's own host");
  t.notOk(isUserHost(sd!, '127.0.0.1:8081'), 'servers calling the hub API directly');
  t.notOk(isUserHost(sd!, 'evilhub.localhost'));
  t.notOk(isUserHost(sd!, undefined));
});
