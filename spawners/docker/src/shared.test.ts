import t from 'tap';
import Docker from 'dockerode';
import { HubError, type SpawnerCommonConfig } from '@tshub/plugin-api';
import { resolveSettings } from './config.js';
import { configProblems, DockerShared } from './shared.js';

const common: SpawnerCommonConfig = {
  cmd: ['jupyterhub-singleuser'], args: [], default_url: '', notebook_dir: '', environment: {}, env_keep: [],
  ip: '127.0.0.1', port: 0, start_timeout: 60, http_timeout: 30, poll_interval: 30,
  mem_limit: null, mem_guarantee: null, cpu_limit: null, cpu_guarantee: null,
};
const log = { debug() {}, info() {}, warn() {}, error() {} };
const user = { name: 'amy', admin: false, groups: [], authState: null };
// No call reaches the engine in these tests: the client is never used.
const shared = (config = {}) => new DockerShared(new Docker({ socketPath: '/nonexistent.sock' }), resolveSettings(config), log);

t.test('config problems name their key', async (t) => {
  t.same(configProblems(resolveSettings({}), common), [], 'the defaults are fine');
  const problems = configProblems(
    resolveSettings({ name_template: 'jupyter {username}', volumes: { data: 'relative/path' }, user: 'jovyan', uid: 1000 }),
    { ...common, mem_limit: 1024, mem_guarantee: 4096, cpu_limit: 0 },
  );
  t.match(problems, [
    /^spawner\.mem_guarantee: 4096 bytes is more than spawner\.mem_limit/,
    /^spawner\.cpu_limit: must be greater than 0/,
    /^spawner\.name_template: gives "jupyter student"/,
    /^spawner\.volumes\["data"\]: the container path "relative\/path" must be absolute/,
    /^spawner\.uid: set either user or uid/,
  ]);
});

t.test('allowed_images: a form with the choices, labels resolved, anything else a 400', async (t) => {
  t.equal(shared({ allowed_images: ['one'] }).optionsForm(user), null, 'one image: no choice to offer');
  const s = shared({ image: 'base:1', allowed_images: { Base: 'base:1', 'R <4>': 'r:4' } });
  const form = s.optionsForm(user)!;
  t.match(form, /<select[^>]*name="image"/);
  t.match(form, /<option value="Base" selected>Base \(base:1\)<\/option>/, 'the default image is preselected');
  t.match(form, /R &#60;4&#62;/, 'labels are escaped');
  t.same(s.checkUserOptions({ image: ['R <4>'] }, user), { image: 'r:4' }, 'a label from the form resolves to its image');
  t.same(s.checkUserOptions({ image: 'base:1', other: 'x' }, user), { image: 'base:1', other: 'x' }, 'an allowed image passes as is');
  t.same(s.checkUserOptions({}, user), {}, 'no image: the default is used');
  t.throws(() => s.checkUserOptions({ image: 'evil:1' }, user), new HubError(400, 'Image "evil:1" is not allowed; choose one of: Base, R <4>'));
  const none = shared({ image: 'base:1' });
  t.throws(() => none.checkUserOptions({ image: 'evil:1' }, user), { status: 400, message: /does not let users choose an image/ }, 'without allowed_images nobody chooses');
  t.same(none.checkUserOptions({ image: 'base:1' }, user), { image: 'base:1' }, 'asking for the default is harmless');
});

t.test('setImage overrides the default for new servers; imageOf reads state', async (t) => {
  const s = shared({ image: 'base:1' });
  t.equal(s.imageFor({}), 'base:1');
  s.setImage('base:2');
  t.equal(s.imageFor({}), 'base:2');
  t.equal(s.imageFor({ image: 'r:4' }), 'r:4', "a user's choice still wins");
  s.setImage(null);
  t.equal(s.defaultImage, 'base:1');
  t.equal(s.imageOf({ object_id: 'x', image: 'base:2' }), 'base:2');
  t.equal(s.imageOf({}), null);
});

t.test('reserved ports are never handed out twice', async (t) => {
  const s = shared();
  const ports = await Promise.all(Array.from({ length: 20 }, () => s.reservePort()));
  t.equal(new Set(ports).size, 20);
  s.releasePort(ports[0]!);
});

t.test('a hub on loopback is reported once for containers on a bridge network', async (t) => {
  const warnings: unknown[] = [];
  const warn = { ...log, warn: (o: unknown) => void warnings.push(o) };
  const bridge = new DockerShared(new Docker({ socketPath: '/nonexistent.sock' }), resolveSettings({}), warn);
  bridge.checkHubReachable('http://127.0.0.1:8081/hub/api');
  bridge.checkHubReachable('http://127.0.0.1:8081/hub/api');
  t.equal(warnings.length, 1, 'warned once');
  const host = new DockerShared(new Docker({ socketPath: '/nonexistent.sock' }), resolveSettings({ network_name: 'host' }), warn);
  host.checkHubReachable('http://127.0.0.1:8081/hub/api');
  const reachable = new DockerShared(new Docker({ socketPath: '/nonexistent.sock' }), resolveSettings({}), warn);
  reachable.checkHubReachable('http://172.17.0.1:8081/hub/api');
  t.equal(warnings.length, 1, 'not for host networking or a reachable address');
});
