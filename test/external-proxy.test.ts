import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import t from 'tap';
import { BrowserClient } from './support/browser-client.js';
import { freePort, portInUse } from './support/free-port.js';
import { hasSingleuser, need } from './support/requirements.js';
import { startTestHub } from './support/test-hub.js';

const chpBin = path.join(path.dirname(createRequire(import.meta.url).resolve('configurable-http-proxy/package.json')), 'bin', 'configurable-http-proxy');

t.test('the hub drives a proxy it did not start (proxy.should_start: false)', async (t) => {
  if (!need(t, hasSingleuser(), 'jupyterhub-singleuser')) return;
  const [publicPort, apiPort] = [await freePort(), await freePort()];
  const token = 'c'.repeat(32);
  const env = { ...process.env, CONFIGPROXY_AUTH_TOKEN: token };
  delete env.NODE_OPTIONS; // tap's loaders must not leak into the proxy
  // Through env(1): tap instruments node children it spawns directly, which breaks the proxy's start-up.
  const chp = spawn('/usr/bin/env', ['-u', 'NODE_OPTIONS', process.execPath, chpBin, '--ip', '127.0.0.1', '--port', String(publicPort), '--api-ip', '127.0.0.1', '--api-port', String(apiPort), '--log-level', 'warn'], { env, stdio: 'ignore' });
  t.teardown(() => {
    chp.kill('SIGTERM');
  });
  for (let i = 0; i < 100 && !(await portInUse(apiPort)); i++) await new Promise((r) => setTimeout(r, 50));

  const th = await startTestHub(t, {
    config: {
      hub: { bind_url: `http://127.0.0.1:${publicPort}` },
      proxy: { should_start: false, api_url: `http://127.0.0.1:${apiPort}`, auth_token: token },
    },
  });
  t.equal(th.started.proxy, null, 'the hub started no proxy of its own');
  const alice = new BrowserClient(`http://127.0.0.1:${publicPort}`);
  const page = await alice.login('alice');
  t.match(new URL(page.url).pathname, /^\/user\/alice\//, 'the student flow works through the external proxy');
  t.equal((await alice.request('/user/alice/api/status')).status, 200);
  const routes = (await (await fetch(`http://127.0.0.1:${apiPort}/api/routes`, { headers: { authorization: `token ${token}` } })).json()) as Record<string, { jupyterhub?: boolean; user?: string }>;
  t.match(routes['/user/alice'], { jupyterhub: true, user: 'alice' }, 'the user route carries JupyterHub\'s route data');
  t.match(routes['/'], { jupyterhub: true, hub: true }, 'and so does the hub route');
});
