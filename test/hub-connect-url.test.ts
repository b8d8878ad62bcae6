import { randomBytes } from 'node:crypto';
import t from 'tap';
import { pino } from 'pino';
import { buildHub, defaultRegistry, validateConfig } from '@tshub/hub';
import { freePort, portInUse } from './support/free-port.js';
import { recordingSpawner } from './support/recording-spawner.js';
import { runCli, tempDir } from './support/run-cli.js';

/**
 * hub.hub_connect_url: how a proxy (and user servers) in another container or pod reach the hub. The
 * proxy's hub route must point at that URL's origin, not at hub_ip:hub_port. Here the URL says
 * `localhost` where the hub binds 127.0.0.1, so the route target shows which one was used; CHP is
 * asked through its own REST API, as an operator would.
 */

type ChpRoutes = Record<string, { target: string; hub?: boolean }>;

t.test('the proxy reaches the hub at hub_connect_url; servers get it as JUPYTERHUB_API_URL', async (t) => {
  const [publicPort, apiPort, hubPort] = [await freePort(), await freePort(), await freePort()];
  const proxyToken = randomBytes(16).toString('hex');
  const apiToken = randomBytes(16).toString('hex');
  const dataDir = tempDir(t);
  const spawner = recordingSpawner();
  const registry = defaultRegistry({ spawners: [spawner.plugin] });
  const result = validateConfig(
    {
      hub: {
        bind_url: `http://127.0.0.1:${publicPort}`,
        hub_ip: '127.0.0.1',
        hub_port: hubPort,
        // With a trailing slash, as people write it: servers get it trimmed, the proxy route takes only the origin.
        hub_connect_url: `http://localhost:${hubPort}/`,
        data_dir: dataDir,
        db_url: 'pglite:memory:',
        last_activity_interval: 0,
        api_tokens: { [apiToken]: 'ops' },
      },
      authenticator: { kind: 'dummy', allow_all: true, admin_users: ['ops'] },
      spawner: { kind: 'recording' },
      proxy: { api_url: `http://127.0.0.1:${apiPort}`, auth_token: proxyToken, log_level: 'warn' },
    },
    registry,
  );
  if (!result.ok) throw new Error(result.errors.join('; '));
  const hub = await buildHub({ config: result.config, registry, logger: pino({ level: process.env.TSHUB_TEST_LOG ?? 'silent' }), env: {} });
  t.teardown(async () => {
    await Promise.all([...hub.ctx.servers.all].map((rt) => hub.ctx.servers.stop(rt, { now: true })));
    await hub.close();
  });
  // Not hubPort: 0 as other suites do: the connect URL names this port, so the hub must listen on it.
  const started = await hub.start({});
  t.equal(started.hubUrl, `http://127.0.0.1:${hubPort}`, 'the hub itself listens on hub_ip:hub_port');

  const routesRes = await fetch(`http://127.0.0.1:${apiPort}/api/routes`, { headers: { authorization: `token ${proxyToken}` } });
  t.equal(routesRes.status, 200, 'CHP answers its REST API with the proxy auth token');
  const routes = (await routesRes.json()) as ChpRoutes;
  const hubRoutes = Object.entries(routes).filter(([, r]) => r.hub === true);
  t.same(hubRoutes.map(([spec]) => spec), ['/'], 'one hub route, the default route');
  t.equal(hubRoutes[0]?.[1].target, `http://localhost:${hubPort}`, 'its target is the origin of hub_connect_url, not hub_ip');

  const viaProxy = await fetch(`http://127.0.0.1:${publicPort}/hub/api`);
  t.equal(viaProxy.status, 200, 'GET /hub/api through the proxy reaches the hub');
  t.match(await viaProxy.json(), { version: String }, 'and it answers with its version');
  const me = await fetch(`http://127.0.0.1:${publicPort}/hub/api/user`, { headers: { authorization: `token ${apiToken}` } });
  t.match({ status: me.status, body: await me.json() }, { status: 200, body: { name: 'ops', admin: true } }, 'and an authenticated API call too');

  const spawn = await fetch(`http://127.0.0.1:${publicPort}/hub/api/users/ops/server`, { method: 'POST', headers: { authorization: `token ${apiToken}` } });
  t.ok([201, 202].includes(spawn.status), `a server starts (${spawn.status})`);
  t.equal(spawner.contexts.at(-1)?.env.JUPYTERHUB_API_URL, `http://localhost:${hubPort}/hub/api`, 'the server is told to reach the hub API there too');
  const after = (await (await fetch(`http://127.0.0.1:${apiPort}/api/routes`, { headers: { authorization: `token ${proxyToken}` } })).json()) as ChpRoutes;
  t.equal(after['/']?.target, `http://localhost:${hubPort}`, 'adding a user route leaves the hub route as it was');
});

t.test('a hub_connect_url that is not an http(s) URL is refused at start-up, naming the key', async (t) => {
  // The usual mistake (no scheme) and a URL of another scheme.
  for (const bad of ['hub:8081', 'ftp://hub:8081']) {
    const ports = { public: await freePort(), api: await freePort(), hub: await freePort() };
    const dir = tempDir(t, {
      'tshub.config.json': JSON.stringify({
        hub: { bind_url: `http://127.0.0.1:${ports.public}`, hub_port: ports.hub, hub_connect_url: bad, data_dir: 'data' },
        authenticator: { kind: 'dummy' },
        proxy: { api_url: `http://127.0.0.1:${ports.api}` },
      }),
    });
    const run = await runCli(dir, [], { timeoutMs: 15_000 });
    t.notOk(run.timedOut, `${bad}: start exits on its own`);
    t.not(run.code, 0, `${bad}: start exits non-zero (got ${run.code})`);
    t.match(run.stderr, /hub\.hub_connect_url/, `${bad}: stderr names hub.hub_connect_url`);
    t.match(run.stderr, JSON.stringify(bad), `${bad}: and shows the value`);
    t.match(run.stderr, /not an http\(s\) URL/, `${bad}: and says what is expected`);
    t.notMatch(run.stderr, /\n\s+at /, `${bad}: no stack trace`);
    for (const port of Object.values(ports)) t.notOk(await portInUse(port), `${bad}: nothing listens on ${port}`);
  }
});
