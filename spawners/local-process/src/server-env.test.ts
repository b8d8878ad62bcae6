import t from 'tap';
import { bindIp, buildServerEnv, serverUrl, serviceUrl } from './server-env.js';

t.test('URLs: the hub connects over loopback to wildcard binds, IPv6 gets brackets', async (t) => {
  const cases: [string, string, string][] = [
    ['', 'http://127.0.0.1:8888', 'http://127.0.0.1:8888/user/a/'],
    ['127.0.0.1', 'http://127.0.0.1:8888', 'http://127.0.0.1:8888/user/a/'],
    ['0.0.0.0', 'http://127.0.0.1:8888', 'http://0.0.0.0:8888/user/a/'],
    ['::', 'http://[::1]:8888', 'http://[::]:8888/user/a/'],
    ['10.1.2.3', 'http://10.1.2.3:8888', 'http://10.1.2.3:8888/user/a/'],
  ];
  for (const [ip, url, service] of cases) {
    t.equal(serverUrl(ip, 8888), url, `server url for '${ip}'`);
    t.equal(serviceUrl(ip, 8888, '/user/a/'), service, `service url for '${ip}'`);
  }
  t.equal(bindIp(''), '127.0.0.1');
});

t.test('buildServerEnv: hub env, then the service URL, then the account variables win', async (t) => {
  const env = buildServerEnv(
    { JUPYTERHUB_API_TOKEN: 'x', HOME: '/root', JUPYTERHUB_SERVICE_URL: 'http://wrong' },
    'http://127.0.0.1:1/user/a/',
    { HOME: '/home/a', USER: 'a' },
  );
  t.same(env, { JUPYTERHUB_API_TOKEN: 'x', HOME: '/home/a', JUPYTERHUB_SERVICE_URL: 'http://127.0.0.1:1/user/a/', USER: 'a' });
});
