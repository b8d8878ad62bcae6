import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { ChpClient, ProxyApiError } from './chp-client.js';
import { ChpProcess } from './chp-process.js';
import { diffRoutes } from './route-diff.js';

type Test = typeof t;
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

async function freePort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function httpServer(t: Test, handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  const server: Server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function targetServer(t: Test, name: string): Promise<string> {
  return httpServer(t, (req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ name, url: req.url }));
  });
}

async function newProxy(t: Test, ports?: { publicPort: number; apiPort: number }) {
  const authToken = randomBytes(16).toString('hex');
  const publicPort = ports?.publicPort ?? (await freePort());
  const apiPort = ports?.apiPort ?? (await freePort());
  const proxy = new ChpProcess({ publicIp: '127.0.0.1', publicPort, apiIp: '127.0.0.1', apiPort, authToken, errorTarget: 'http://127.0.0.1:1/hub/error', log: quiet });
  t.teardown(() => proxy.stop());
  const client = new ChpClient({ apiUrl: `http://127.0.0.1:${apiPort}/`, authToken });
  return { proxy, client, authToken, publicUrl: `http://127.0.0.1:${publicPort}`, apiUrl: `http://127.0.0.1:${apiPort}` };
}

t.test('against a real configurable-http-proxy', async (t) => {
  const { proxy, client, authToken, publicUrl, apiUrl } = await newProxy(t);
  await proxy.start();
  const hub = await targetServer(t, 'hub');
  const at = await targetServer(t, 'a@b.c');
  const eleve = await targetServer(t, 'élève');
  const spaced = await targetServer(t, 'a b/srv');

  t.test('add/get routes with odd user names and data round trip', async (t) => {
    const before = Date.now();
    await Promise.all([
      client.addRoute('/', hub, { hub: true }),
      client.addRoute('/user/a%40b.c/', at, { user: 'a@b.c', server_name: '' }),
      client.addRoute('/user/%C3%A9l%C3%A8ve/', eleve, { user: 'élève', server_name: '', nested: { list: [1, 'x'] } }),
      client.addRoute('/user/a%20b/my%20server/', spaced, { user: 'a b', server_name: 'my server' }),
    ]);
    const routes = await client.getRoutes();
    t.same([...routes.keys()].sort(), ['/', '/user/%C3%A9l%C3%A8ve/', '/user/a%20b/my%20server/', '/user/a@b.c/']);
    const r = routes.get('/user/%C3%A9l%C3%A8ve/');
    t.equal(r?.routespec, '/user/%C3%A9l%C3%A8ve/');
    t.equal(r?.target, eleve);
    t.match(r?.data, { user: 'élève', server_name: '', nested: { list: [1, 'x'] }, last_activity: String });
    t.notOk(r && 'target' in r.data, 'target is not in data');
    t.notOk(r && 'jupyterhub' in r.data, 'jupyterhub is not in data');
    t.ok(r?.lastActivity instanceof Date && r.lastActivity.getTime() >= before - 1_000, 'lastActivity parsed');
    t.same(routes.get('/')?.data.hub, true);

    // what the hub wants and what the proxy has agree, whatever escaping the hub used
    const desired = new Map([
      ['/', { target: hub, data: { hub: true } }],
      ['/user/a%40b.c/', { target: at, data: { user: 'a@b.c', server_name: '' } }],
      ['/user/élève/', { target: eleve, data: { user: 'élève', server_name: '', nested: { list: [1, 'x'] } } }],
      ['/user/a%20b/my%20server/', { target: spaced, data: { user: 'a b', server_name: 'my server' } }],
    ]);
    t.same(diffRoutes(desired, routes), { add: [], remove: [] }, 'no changes needed');
  });

  t.test('traffic flows through the public port', async (t) => {
    const get = async (path: string) => {
      const res = await fetch(`${publicUrl}${path}`);
      return { status: res.status, body: (await res.json()) as { name: string; url: string } };
    };
    t.same(await get('/user/a%40b.c/lab?x=1'), { status: 200, body: { name: 'a@b.c', url: '/user/a%40b.c/lab?x=1' } });
    t.same((await get('/user/a@b.c/tree')).body.name, 'a@b.c', 'unescaped @ reaches the same server');
    t.same((await get('/user/%C3%A9l%C3%A8ve/api')).body, { name: 'élève', url: '/user/%C3%A9l%C3%A8ve/api' });
    t.same((await get('/user/a%20b/my%20server/x')).body.name, 'a b/srv');
    t.same((await get('/user/a%20b/other')).body.name, 'hub', 'unrouted paths fall through to the hub route');
    t.same((await get('/hub/login')).body.name, 'hub');
  });

  t.test('routes without jupyterhub:true are not the hub\'s', async (t) => {
    const res = await fetch(`${apiUrl}/api/routes/foreign`, {
      method: 'POST',
      headers: { Authorization: `token ${authToken}` },
      body: JSON.stringify({ target: 'http://127.0.0.1:9', owner: 'someone else' }),
    });
    t.equal(res.status, 201);
    const routes = await client.getRoutes();
    t.notOk(routes.has('/foreign/'));
    t.equal(routes.size, 4);
    t.same(diffRoutes(new Map(), routes).remove.includes('/foreign/'), false, 'never scheduled for removal');
  });

  t.test('inactiveSince filters on last_activity', async (t) => {
    t.equal((await client.getRoutes(new Date(Date.now() - 3_600_000))).size, 0, 'nothing idle for an hour');
    t.equal((await client.getRoutes(new Date(Date.now() + 60_000))).size, 4, 'everything idle since the future');
  });

  t.test('replace and delete routes; deleting a missing route is fine', async (t) => {
    await client.addRoute('/user/a@b.c/', hub, { user: 'a@b.c', server_name: '' });
    t.equal((await client.getRoutes()).get('/user/a@b.c/')?.target, hub, 'POST replaces');
    await client.deleteRoute('/user/a%40b.c/');
    await client.deleteRoute('/user/%C3%A9l%C3%A8ve/');
    await client.deleteRoute('/user/a%20b/my%20server/');
    await client.deleteRoute('/user/a%40b.c/');
    await client.deleteRoute('/user/nobody/');
    t.same([...(await client.getRoutes()).keys()], ['/']);
  });

  t.test('a wrong token fails at once with the URL and status; setCredentials fixes it', async (t) => {
    const bad = new ChpClient({ apiUrl, authToken: 'wrong' });
    const started = Date.now();
    const err = await bad.addRoute('/user/x/', at, {}).catch((e: unknown) => e);
    t.ok(err instanceof ProxyApiError);
    t.equal((err as ProxyApiError).status, 403);
    t.match((err as Error).message, `POST ${apiUrl}/api/routes/user/x failed with 403`);
    t.ok(Date.now() - started < 10_000, '4xx is not retried (retries would go on for 30 s)');
    await t.rejects(bad.getRoutes(), { status: 403 });
    bad.setCredentials({ authToken });
    t.equal((await bad.getRoutes()).size, 1);
    const closed = await freePort();
    bad.setCredentials({ apiUrl: `http://127.0.0.1:${closed}` });
    await t.rejects(bad.getRoutes(), new RegExp(`127\\.0\\.0\\.1:${closed}/api/routes failed: ECONNREFUSED`));
  });
});

t.test('an unreachable proxy: getRoutes fails fast, add/delete retry until it is back', async (t) => {
  const ports = { publicPort: await freePort(), apiPort: await freePort() };
  const { proxy, client, apiUrl } = await newProxy(t, ports);

  const started = Date.now();
  const err = await client.getRoutes().catch((e: unknown) => e);
  t.ok(err instanceof ProxyApiError && err.status === undefined);
  t.match((err as Error).message, `GET ${apiUrl}/api/routes failed: ECONNREFUSED`);
  t.ok(Date.now() - started < 10_000, `getRoutes gave up after ${Date.now() - started} ms, not after the 30 s retry time`);

  const impatient = new ChpClient({ apiUrl, authToken: 'x', retryTimeoutMs: 300 });
  await t.rejects(impatient.deleteRoute('/user/x/'), /DELETE .*\/api\/routes\/user\/x failed: ECONNREFUSED.*gave up after \d+ attempts/);

  const adding = client.addRoute('/user/late/', 'http://127.0.0.1:9', { user: 'late', server_name: '' });
  await new Promise((resolve) => setTimeout(resolve, 700));
  await proxy.start();
  await adding;
  t.same([...(await client.getRoutes()).keys()], ['/user/late/'], 'the add went through once the proxy was up');
});

t.test('concurrency limit and 5xx retries (scripted API server)', async (t) => {
  let inFlight = 0;
  let maxInFlight = 0;
  let failuresLeft = 2;
  const seen: string[] = [];
  const apiUrl = await httpServer(t, (req, res) => {
    seen.push(`${req.method} ${req.url} ${req.headers.authorization}`);
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    setTimeout(() => {
      inFlight--;
      if (req.url === '/api/routes/flaky' && failuresLeft-- > 0) res.writeHead(503).end('busy');
      else res.writeHead(req.method === 'POST' ? 201 : 204).end();
    }, 20);
  });
  const client = new ChpClient({ apiUrl, authToken: 'tok', concurrency: 3 });
  await Promise.all(Array.from({ length: 20 }, (_, i) => client.addRoute(`/user/u${i}/`, 'http://x', {})));
  t.equal(maxInFlight, 3, 'never more than 3 requests in flight');
  t.ok(seen.every((s) => s.endsWith(' token tok')), 'token auth header');

  await client.addRoute('/flaky/', 'http://x', {});
  t.equal(seen.filter((s) => s.startsWith('POST /api/routes/flaky')).length, 3, 'two 503s retried, then success');
});
