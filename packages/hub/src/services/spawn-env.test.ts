// Table tests for the spawned server's environment (contract section 2.1, JupyterHub Spawner.get_env).
import t from 'tap';
import { buildSpawnEnv, parseByteSize, type SpawnEnvInput } from './spawn-env.js';
import { serverClientId } from './server-credentials.js';
import { userServerPath } from '../url-escape.js';

const API = 'http://127.0.0.1:8081/hub/api';

/** The input run-spawn.ts builds: prefix and client id derived from the (raw) names. */
function input(user: string, server: string, over: Partial<SpawnEnvInput> = {}): SpawnEnvInput {
  return {
    user, server, apiToken: 'tok-123', hubApiUrl: API, baseUrl: '/',
    servicePrefix: userServerPath('/', user, server), clientId: serverClientId(user, server),
    hubHost: '', publicUrl: '', publicHubUrl: '', adminAccess: false, defaultUrl: '', notebookDir: '',
    envKeep: [], hubEnv: {}, environment: {}, memLimit: null, memGuarantee: null, cpuLimit: null, cpuGuarantee: null,
    ...over,
  };
}

t.test('default server: exactly the JUPYTERHUB_* variables of contract 2.1, nothing optional', async (t) => {
  const scopes = '["access:servers!server=alice/","access:servers!user=alice"]';
  t.strictSame(buildSpawnEnv(input('alice', '')), {
    JUPYTERHUB_API_TOKEN: 'tok-123',
    JPY_API_TOKEN: 'tok-123',
    JUPYTERHUB_CLIENT_ID: 'jupyterhub-user-alice',
    JUPYTERHUB_API_URL: API,
    JUPYTERHUB_ACTIVITY_URL: `${API}/users/alice/activity`,
    JUPYTERHUB_BASE_URL: '/',
    JUPYTERHUB_SERVICE_PREFIX: '/user/alice/',
    JUPYTERHUB_HOST: '',
    JUPYTERHUB_OAUTH_CALLBACK_URL: '/user/alice/oauth_callback',
    JUPYTERHUB_OAUTH_ACCESS_SCOPES: scopes,
    JUPYTERHUB_OAUTH_SCOPES: scopes,
    JUPYTERHUB_OAUTH_CLIENT_ALLOWED_SCOPES: '[]',
    JUPYTERHUB_USER: 'alice',
    JUPYTERHUB_SERVER_NAME: '',
    JUPYTERHUB_PUBLIC_URL: '',
    JUPYTERHUB_PUBLIC_HUB_URL: '',
    JUPYTERHUB_COOKIE_HOST_PREFIX_ENABLED: '0',
  });
});

t.test('named server: prefix, callback, client id and access scopes name the server', async (t) => {
  const env = buildSpawnEnv(input('alice', 'gpu'));
  t.equal(env.JUPYTERHUB_SERVER_NAME, 'gpu');
  t.equal(env.JUPYTERHUB_USER, 'alice');
  t.equal(env.JUPYTERHUB_SERVICE_PREFIX, '/user/alice/gpu/');
  t.equal(env.JUPYTERHUB_OAUTH_CALLBACK_URL, '/user/alice/gpu/oauth_callback');
  t.equal(env.JUPYTERHUB_CLIENT_ID, 'jupyterhub-user-alice-gpu');
  t.equal(env.JUPYTERHUB_ACTIVITY_URL, `${API}/users/alice/activity`, 'activity is per user, not per server');
  t.strictSame(JSON.parse(env.JUPYTERHUB_OAUTH_ACCESS_SCOPES!), ['access:servers!server=alice/gpu', 'access:servers!user=alice']);
  t.equal(env.JUPYTERHUB_OAUTH_SCOPES, env.JUPYTERHUB_OAUTH_ACCESS_SCOPES, 'legacy name carries the same value');
});

t.test('hub options pass through: base_url, public URLs, hub host, admin_access', async (t) => {
  const env = buildSpawnEnv(input('alice', '', {
    baseUrl: '/jh/', hubApiUrl: 'http://10.0.0.1:8081/jh/hub/api', servicePrefix: userServerPath('/jh/', 'alice', ''),
    hubHost: 'https://hub.example.org', publicUrl: 'https://hub.example.org/jh/', publicHubUrl: 'https://hub.example.org/jh/hub/', adminAccess: true,
  }));
  t.equal(env.JUPYTERHUB_BASE_URL, '/jh/');
  t.equal(env.JUPYTERHUB_SERVICE_PREFIX, '/jh/user/alice/');
  t.equal(env.JUPYTERHUB_OAUTH_CALLBACK_URL, '/jh/user/alice/oauth_callback');
  t.equal(env.JUPYTERHUB_ACTIVITY_URL, 'http://10.0.0.1:8081/jh/hub/api/users/alice/activity');
  t.equal(env.JUPYTERHUB_HOST, 'https://hub.example.org');
  t.equal(env.JUPYTERHUB_PUBLIC_URL, 'https://hub.example.org/jh/');
  t.equal(env.JUPYTERHUB_PUBLIC_HUB_URL, 'https://hub.example.org/jh/hub/');
  t.equal(env.JUPYTERHUB_ADMIN_ACCESS, '1');
  t.notOk('JUPYTERHUB_SERVICE_URL' in env, 'SERVICE_URL needs the port: the spawner adds it');
});

// Python: quote(name, safe='@~') in URLs (user.escaped_name); raw names in USER and in scopes.
const odd: Array<{ user: string; server: string; escUser: string; escServer: string }> = [
  { user: 'a@b.c', server: '', escUser: 'a@b.c', escServer: '' },
  { user: 'ünï', server: '', escUser: '%C3%BCn%C3%AF', escServer: '' },
  { user: 'first last', server: '', escUser: 'first%20last', escServer: '' },
  { user: 'a~b', server: '', escUser: 'a~b', escServer: '' },
  { user: "o'brien+x", server: '', escUser: 'o%27brien%2Bx', escServer: '' },
  { user: '日本', server: 'my server', escUser: '%E6%97%A5%E6%9C%AC', escServer: 'my%20server' },
];
for (const c of odd) {
  t.test(`odd name ${JSON.stringify(c.user)} / ${JSON.stringify(c.server)} is escaped in URLs only`, async (t) => {
    const env = buildSpawnEnv(input(c.user, c.server));
    const prefix = `/user/${c.escUser}/${c.escServer ? c.escServer + '/' : ''}`;
    t.equal(env.JUPYTERHUB_SERVICE_PREFIX, prefix);
    t.equal(env.JUPYTERHUB_OAUTH_CALLBACK_URL, `${prefix}oauth_callback`);
    t.equal(env.JUPYTERHUB_ACTIVITY_URL, `${API}/users/${c.escUser}/activity`);
    t.equal(env.JUPYTERHUB_USER, c.user);
    t.equal(env.JUPYTERHUB_SERVER_NAME, c.server);
    t.strictSame(JSON.parse(env.JUPYTERHUB_OAUTH_ACCESS_SCOPES!), [`access:servers!server=${c.user}/${c.server}`, `access:servers!user=${c.user}`]);
  });
}

t.test('client id is also the singleuser cookie name: JupyterHub uses quote(name) (escapes @)', async (t) => {
  // user.py: "self.escaped_name may contain @ which is legal in URLs but not cookie keys";
  // Python's SimpleCookie raises "Illegal key" for 'jupyterhub-user-a@b.c', so singleuser's oauth_callback fails.
  t.equal(serverClientId('first last', 'my server'), 'jupyterhub-user-first%20last-my%20server');
  t.equal(serverClientId('a@b.c', ''), 'jupyterhub-user-a%40b.c');
});

t.test('env_keep copies only listed variables that exist in the hub environment', async (t) => {
  const env = buildSpawnEnv(input('alice', '', {
    envKeep: ['PATH', 'LANG', 'NOT_SET', 'EMPTY', 'JUPYTERHUB_API_TOKEN'],
    hubEnv: { PATH: '/usr/bin', LANG: 'C.UTF-8', EMPTY: '', SECRET: 's3cret', JUPYTERHUB_API_TOKEN: 'the-hubs-own', NOT_SET: undefined },
  }));
  t.equal(env.PATH, '/usr/bin');
  t.equal(env.LANG, 'C.UTF-8');
  t.equal(env.EMPTY, '', 'set-but-empty is copied (Python: key in os.environ)');
  t.notOk('NOT_SET' in env);
  t.notOk('SECRET' in env, 'unlisted hub variables never leak');
  t.equal(env.JUPYTERHUB_API_TOKEN, 'tok-123', 'env_keep cannot replace the server token');
});

t.test('Spawner.environment is applied last and overrides everything', async (t) => {
  const env = buildSpawnEnv(input('alice', '', {
    envKeep: ['PATH'], hubEnv: { PATH: '/usr/bin' }, memLimit: 1024,
    environment: { PATH: '/opt/conda/bin', JUPYTERHUB_API_URL: 'http://hub:8081/hub/api', MEM_LIMIT: '7', EXTRA: 'yes' },
  }));
  t.equal(env.PATH, '/opt/conda/bin');
  t.equal(env.JUPYTERHUB_API_URL, 'http://hub:8081/hub/api');
  t.equal(env.MEM_LIMIT, '7');
  t.equal(env.EXTRA, 'yes');
});

const templates: Array<{ user: string; server: string; tpl: string; want: string }> = [
  { user: 'alice', server: '', tpl: '/home/{username}/work', want: '/home/alice/work' },
  { user: 'a@b.c', server: '', tpl: '/home/{username}', want: '/home/a@b.c' },
  { user: 'a@b.c', server: '', tpl: '/srv/{escaped_username}', want: '/srv/a-40b-2ec' },
  { user: 'alice', server: 'gpu', tpl: '/data/{username}/{servername}', want: '/data/alice/gpu' },
  { user: 'alice', server: '', tpl: '/x/{unknown}/{username}', want: '/x/{unknown}/alice' },
  { user: 'alice', server: '', tpl: '/lab', want: '/lab' },
];
for (const c of templates) {
  t.test(`notebook_dir / default_url template ${c.tpl} for ${c.user}`, async (t) => {
    const env = buildSpawnEnv(input(c.user, c.server, { notebookDir: c.tpl, defaultUrl: c.tpl }));
    t.equal(env.JUPYTERHUB_ROOT_DIR, c.want);
    t.equal(env.JUPYTERHUB_DEFAULT_URL, c.want);
  });
}

t.test('resource limits appear only when set', async (t) => {
  const none = buildSpawnEnv(input('alice', ''));
  for (const k of ['MEM_LIMIT', 'MEM_GUARANTEE', 'CPU_LIMIT', 'CPU_GUARANTEE', 'JUPYTERHUB_ROOT_DIR', 'JUPYTERHUB_DEFAULT_URL', 'JUPYTERHUB_ADMIN_ACCESS']) {
    t.notOk(k in none, `${k} absent by default`);
  }
  const set = buildSpawnEnv(input('alice', '', { memLimit: 2 * 1024 ** 3, memGuarantee: 512 * 1024 ** 2, cpuLimit: 1.5, cpuGuarantee: 0.5 }));
  t.equal(set.MEM_LIMIT, '2147483648');
  t.equal(set.MEM_GUARANTEE, '536870912');
  t.equal(set.CPU_LIMIT, '1.5');
  t.equal(set.CPU_GUARANTEE, '0.5');
  // Spawner.get_env: `if self.cpu_guarantee:` -> a 0 value is not exported.
  const zero = buildSpawnEnv(input('alice', '', { cpuGuarantee: 0, memGuarantee: 0 }));
  t.notOk('CPU_GUARANTEE' in zero, 'cpu_guarantee 0 is not exported');
  t.notOk('MEM_GUARANTEE' in zero, 'mem_guarantee 0 is not exported');
});

// JupyterHub ByteSpecification: units of 1024, suffixes K M G T, int() of the result.
const sizes: Array<[string | number | null, number | null]> = [
  [null, null],
  [0, 0],
  [1073741824, 1073741824],
  ['1K', 1024],
  ['512M', 512 * 1024 ** 2],
  ['2G', 2 * 1024 ** 3],
  ['1.5T', 1.5 * 1024 ** 4],
  ['0.5K', 512],
  ['1.0000001K', 1024],
  ['1024', 1024],
  ['', null],
  ['2g', null],
  ['2GB', null],
  ['2X', null],
  [' 2G', null],
  ['2G ', null],
  ['-1G', null],
  ['1e3', null],
  ['G', null],
];
t.test('parseByteSize', async (t) => {
  for (const [v, want] of sizes) t.equal(parseByteSize(v), want, JSON.stringify(v));
  // The config schema accepts these (pattern ^[0-9.]+[KMGT]?$), so they reach parseByteSize.
  for (const v of ['.', '1..5', '1.2.3G', '.M']) {
    t.equal(parseByteSize(v), null, `${JSON.stringify(v)} is invalid`);
  }
});

t.test('subdomain_host: the OAuth callback is on the server\'s own host, logins go to the hub\'s', async (t) => {
  const env = buildSpawnEnv(input('alice', '', {
    serverUrl: 'http://alice.hub.localhost:8000/user/alice/', hubHost: 'http://hub.localhost:8000',
    publicUrl: 'http://alice.hub.localhost:8000/user/alice/', publicHubUrl: 'http://hub.localhost:8000/hub/',
  }));
  t.equal(env.JUPYTERHUB_OAUTH_CALLBACK_URL, 'http://alice.hub.localhost:8000/user/alice/oauth_callback');
  t.equal(env.JUPYTERHUB_HOST, 'http://hub.localhost:8000');
  t.equal(env.JUPYTERHUB_SERVICE_PREFIX, '/user/alice/', 'the prefix stays a path: the server serves under it on any host');
});
