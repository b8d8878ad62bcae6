// Config validation: defaults, every error with its path in one pass, typo hints, per-kind plugin options.
import t from 'tap';
import { defaultRegistry } from '../registry.js';
import { validateConfig, type ConfigResult } from './validate-config.js';

const registry = defaultRegistry();
const check = (raw: unknown) => validateConfig(raw, registry);
const errorsOf = (r: ConfigResult) => (r.ok ? [] : r.errors);

t.test('an empty config is filled with the defaults', async (t) => {
  for (const raw of [{}, null, undefined]) {
    const r = check(raw);
    if (!r.ok) return t.fail(`rejected: ${r.errors.join('; ')}`);
    const c = r.config;
    t.equal(c.hub.bind_url, 'http://:8000');
    t.equal(c.hub.base_url, '/');
    t.equal(c.hub.hub_ip, '127.0.0.1');
    t.equal(c.hub.hub_port, 8081);
    t.equal(c.hub.concurrent_spawn_limit, 100);
    t.equal(c.hub.allow_named_servers, false);
    t.equal(c.hub.api_page_default_limit, 50);
    t.equal(c.hub.api_page_max_limit, 200);
    t.equal(c.hub.activity_resolution, 30);
    t.strictSame(c.hub.spawn_throttle_retry_range, [30, 60]);
    t.equal(c.authenticator.kind, 'local');
    t.equal(c.authenticator.allow_all, false);
    t.equal(c.authenticator.allow_existing_users, null);
    t.strictSame(c.authenticator.admin_users, []);
    t.equal(c.spawner.kind, 'simple');
    t.strictSame(c.spawner.cmd, ['jupyterhub-singleuser']);
    t.strictSame(c.spawner.args, []);
    t.equal(c.spawner.start_timeout, 60);
    t.equal(c.spawner.http_timeout, 30);
    t.equal(c.spawner.mem_limit, null);
    t.ok(c.spawner.env_keep.includes('PATH') && c.spawner.env_keep.includes('JUPYTERHUB_SINGLEUSER_APP'));
    t.equal(c.spawner.home_dir_template, 'tshub-homes/{escaped_username}', 'the simple kind fills its own defaults');
    t.equal(c.proxy.api_url, 'http://127.0.0.1:8001');
    t.equal(c.proxy.should_start, true);
  }
});

t.test('given values are kept and the input is not modified', async (t) => {
  const raw = { hub: { bind_url: 'http://0.0.0.0:9000/jh/', hub_port: 9081 }, spawner: { cmd: ['jupyter-labhub'], mem_limit: '2G', cpu_limit: 1.5 } };
  const copy = structuredClone(raw);
  const r = check(raw);
  if (!r.ok) return t.fail(r.errors.join('; '));
  t.equal(r.config.hub.bind_url, 'http://0.0.0.0:9000/jh/');
  t.equal(r.config.hub.hub_port, 9081);
  t.strictSame(r.config.spawner.cmd, ['jupyter-labhub']);
  t.equal(r.config.spawner.mem_limit, '2G');
  t.equal(r.config.spawner.cpu_limit, 1.5);
  t.strictSame(raw, copy);
});

t.test('not a mapping at the top level', async (t) => {
  for (const raw of [[], 'hub', 42, true]) {
    const errs = errorsOf(check(raw));
    t.equal(errs.length, 1, JSON.stringify(raw));
    t.match(errs[0], /^\(top level\): the config must be a mapping/);
  }
});

t.test('every problem is reported with its path, in one pass', async (t) => {
  const errs = errorsOf(check({
    hubb: {},
    hub: { bind_ur: 'x', hub_port: 'abc' },
    authenticator: { admin_user: ['a'] },
    spawner: { start_timout: 5, cmd: [] },
    proxy: { api_url: 3 },
  }));
  for (const want of [
    "hubb: unknown option; did you mean 'hub'?",
    "hub.bind_ur: unknown option; did you mean 'bind_url'?",
    'hub.hub_port: must be integer (got "abc")',
    "authenticator.admin_user: unknown option; did you mean 'admin_users'?",
    "spawner.start_timout: unknown option; did you mean 'start_timeout'?",
    'spawner.cmd: must NOT have fewer than 1 items (got [])',
    'proxy.api_url: must be string (got 3)',
  ]) {
    t.ok(errs.includes(want), want);
  }
  t.equal(errs.length, new Set(errs).size, 'no duplicates');
});

// [config, path that must start an error, pattern the error must match]
const typeErrors: Array<[unknown, string, RegExp]> = [
  [{ hub: 'x' }, 'hub', /must be object \(got "x"\)/],
  [{ hub: { allow_named_servers: 'yes' } }, 'hub.allow_named_servers', /must be boolean/],
  [{ hub: { hub_port: -1 } }, 'hub.hub_port', /must be >= 0/],
  [{ hub: { api_page_default_limit: 0 } }, 'hub.api_page_default_limit', /must be >= 1/],
  [{ hub: { spawn_throttle_retry_range: [1] } }, 'hub.spawn_throttle_retry_range', /fewer than 2 items/],
  [{ hub: { log_level: 'verbose' } }, 'hub.log_level', /verbose/],
  [{ hub: { api_tokens: { secret: 7 } } }, 'hub.api_tokens.secret', /must be string/],
  [{ authenticator: { admin_users: 'alice' } }, 'authenticator.admin_users', /must be array/],
  [{ authenticator: { allow_existing_users: 'no' } }, 'authenticator.allow_existing_users', /got "no"/],
  [{ spawner: { environment: { A: 1 } } }, 'spawner.environment.A', /must be string \(got 1\)/],
  [{ spawner: { args: [1] } }, 'spawner.args.0', /must be string/],
  [{ spawner: { start_timeout: 0 } }, 'spawner.start_timeout', /must be >= 1/],
  [{ spawner: { mem_limit: '2X' } }, 'spawner.mem_limit', /got "2X"/],
  [{ spawner: { mem_limit: true } }, 'spawner.mem_limit', /got true/],
  [{ spawner: { cpu_limit: '2' } }, 'spawner.cpu_limit', /got "2"/],
  [{ proxy: { should_start: 1 } }, 'proxy.should_start', /must be boolean/],
  [{ proxy: { check_running_interval: 0 } }, 'proxy.check_running_interval', /must be >= 0.1/],
];
for (const [raw, path, re] of typeErrors) {
  t.test(`wrong value at ${path}`, async (t) => {
    const errs = errorsOf(check(raw));
    const mine = errs.filter((e) => e.startsWith(`${path}: `));
    t.ok(mine.length > 0, `an error names ${path}: ${JSON.stringify(errs)}`);
    t.ok(mine.some((e) => re.test(e)), `${re} in ${JSON.stringify(mine)}`);
  });
}

t.test('typo hints only when a known option is close', async (t) => {
  const cases: Array<[unknown, string]> = [
    [{ proxy: { api_ur: 'x' } }, "proxy.api_ur: unknown option; did you mean 'api_url'?"],
    [{ hub: { Base_Url: '/' } }, "hub.Base_Url: unknown option; did you mean 'base_url'?"],
    [{ spawner: { notebookdir: '/x' } }, "spawner.notebookdir: unknown option; did you mean 'notebook_dir'?"],
    [{ authenticator: { allowed_user: [] } }, "authenticator.allowed_user: unknown option; did you mean 'allowed_users'?"],
    [{ hub: { zzzzzzzzz: 1 } }, 'hub.zzzzzzzzz: unknown option'],
  ];
  for (const [raw, want] of cases) t.strictSame(errorsOf(check(raw)), [want], JSON.stringify(raw));
});

t.test('an unknown top-level section lists the sections', async (t) => {
  const errs = errorsOf(check({ foo: 1 }));
  t.equal(errs.length, 1);
  t.match(errs[0], /^foo: unknown option \(sections are: hub, authenticator, spawner, proxy[,)]/);
});

t.test('unknown kinds are named, with the known ones', async (t) => {
  const spawner = errorsOf(check({ spawner: { kind: 'nomad' } }));
  t.ok(spawner.some((e) => e.startsWith('spawner.kind: unknown spawner kind "nomad"; known kinds: ') && e.includes('simple') && e.includes('local-process')), JSON.stringify(spawner));
  const auth = errorsOf(check({ authenticator: { kind: 'saml' } }));
  t.ok(auth.some((e) => e.startsWith('authenticator.kind: unknown authenticator kind "saml"') && e.includes('local') && e.includes('dummy')), JSON.stringify(auth));
  const both = errorsOf(check({ spawner: { kind: 5 }, authenticator: { kind: null } }));
  t.ok(both.some((e) => e.startsWith('spawner.kind: ')));
  t.ok(both.some((e) => e.startsWith('authenticator.kind: ')));
});

// [spawner/authenticator section, ok, error when rejected]
const pluginOptions: Array<[Record<string, unknown>, true | string]> = [
  [{ spawner: { kind: 'simple', home_dir_template: '/srv/homes/{escaped_username}' } }, true],
  [{ spawner: { kind: 'simple', create_system_users: true } }, 'spawner.create_system_users: unknown option'],
  [{ spawner: { kind: 'simple', add_user_cmd: ['adduser', 'USERNAME'] } }, 'spawner.add_user_cmd: unknown option'],
  [{ spawner: { kind: 'local-process', create_system_users: true, add_user_cmd: ['adduser', 'USERNAME'] } }, true],
  [{ spawner: { kind: 'local-process', home_dir_template: '/x' } }, 'spawner.home_dir_template: unknown option'],
  [{ spawner: { kind: 'local-process', create_system_users: 'yes' } }, 'spawner.create_system_users: must be boolean (got "yes")'],
  [{ spawner: { kind: 'localprocess', create_system_users: true } }, true],
  [{ spawner: { kind: 'simple-local-process', home_dir_template: '/x' } }, true],
  [{ spawner: { kind: 'simple', term_timeout: 3, log_dir: '/var/log/tshub' } }, true],
  [{ spawner: { kind: 'local-process', term_timeout: -1 } }, 'spawner.term_timeout: must be >= 0 (got -1)'],
  [{ authenticator: { kind: 'dummy', password: 'pw' } }, true],
  [{ authenticator: { kind: 'local', password: 'pw' } }, 'authenticator.password: unknown option'],
  [{ authenticator: { kind: 'local', first_use_passwords: true, minimum_password_length: 12 } }, true],
  [{ authenticator: { kind: 'dummy', first_use_passwords: true } }, 'authenticator.first_use_passwords: unknown option'],
];
for (const [raw, want] of pluginOptions) {
  t.test(`plugin options: ${JSON.stringify(raw)}`, async (t) => {
    const r = check(raw);
    if (want === true) t.ok(r.ok, JSON.stringify(errorsOf(r)));
    else t.strictSame(errorsOf(r), [want]);
  });
}

t.test('local-process fills its own defaults, not the simple kind\'s', async (t) => {
  const r = check({ spawner: { kind: 'local-process' } });
  if (!r.ok) return t.fail(r.errors.join('; '));
  t.equal(r.config.spawner.create_system_users, false);
  t.ok(Array.isArray(r.config.spawner.add_user_cmd));
  t.notOk('home_dir_template' in r.config.spawner);
});

t.test('spawner.modify_pod_hook: a function from a .js/.ts config reaches the kubernetes kind; anything else is refused', async (t) => {
  const hook = (pod: unknown) => pod;
  const ok = check({ spawner: { kind: 'kubernetes', namespace: 'jhub', modify_pod_hook: hook } });
  t.ok(ok.ok, 'accepted for the kubernetes kind');
  if (ok.ok) t.equal((ok.config.spawner as Record<string, unknown>).modify_pod_hook, hook, 'the same function, not a copy');
  const yaml = check({ spawner: { kind: 'kubernetes', modify_pod_hook: 'pod.metadata.labels.x = 1' } });
  t.match(yaml, { ok: false, errors: [/spawner\.modify_pod_hook: must be a function \(define it in a \.js or \.ts config file\)/] }, 'a string (YAML) is refused');
  const docker = check({ spawner: { kind: 'docker', modify_pod_hook: hook } });
  t.match(docker, { ok: false, errors: [/spawner\.modify_pod_hook: unknown option for spawner kind "docker"/] }, 'another kind does not take it');
});
