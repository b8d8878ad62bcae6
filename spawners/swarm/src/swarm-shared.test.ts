import t from 'tap';
import Docker from 'dockerode';
import { HubError } from '@tshub/plugin-api';
import type { SwarmConfig } from './config.js';
import { SwarmShared } from './swarm-shared.js';

const log = { debug() {}, info() {}, warn() {}, error() {} };
const user = { name: 'amy', admin: false, groups: [], authState: null };
// Nothing here reaches an engine: the image choice and the policy are decided without one.
const shared = (config: SwarmConfig) => new SwarmShared(new Docker({ socketPath: '/nonexistent.sock' }), config, log);

t.test('pull_policy: ifnotpresent by default, SwarmSpawner\'s skip means the same', async (t) => {
  t.equal(shared({}).pullPolicy, 'ifnotpresent');
  t.equal(shared({ pull_policy: 'skip' }).pullPolicy, 'ifnotpresent');
  t.equal(shared({ pull_policy: 'always' }).pullPolicy, 'always');
  t.equal(shared({ pull_policy: 'never' }).pullPolicy, 'never');
});

t.test('allowed_images: the docker kind\'s form and check, the rolling update on top', async (t) => {
  const s = shared({ image: 'course:1', allowed_images: { 'Course 1': 'course:1', GPU: 'gpu:2' } });
  t.match(s.optionsForm(user), /<select[^>]*name="image"[\s\S]*value="Course 1" selected[\s\S]*value="GPU"/, 'a select with the default chosen');
  t.same(s.checkUserOptions({ image: 'GPU' }, user), { image: 'gpu:2' }, 'a label becomes its image');
  t.throws(() => s.checkUserOptions({ image: 'evil:1' }, user), new HubError(400, 'Image "evil:1" is not allowed; choose one of: Course 1, GPU'));
  t.equal(s.imageFor({ image: 'gpu:2' }), 'gpu:2');
  t.equal(s.imageFor({}), 'course:1', 'no choice: the default image');
  t.same(s.images(), ['course:1', 'gpu:2'], 'a pre-pull fetches every image a server may run');
  s.setImage('course:2');
  t.equal(s.imageFor({}), 'course:2', 'a rolling update changes the default');
  t.same(s.images(), ['course:2', 'course:1', 'gpu:2']);
  t.equal(s.imageOf({ image: 'gpu:2' }), 'gpu:2');
});

t.test('without allowed_images nobody chooses: no form, any other image refused', async (t) => {
  const s = shared({ image: 'course:1' });
  t.equal(s.optionsForm(user), null);
  t.same(s.checkUserOptions({ image: 'course:1' }, user), { image: 'course:1' }, 'naming the default is harmless');
  t.throws(() => s.checkUserOptions({ image: 'other:1' }, user), { status: 400, message: /does not let users choose an image/ });
  t.equal(s.currentImage(), 'course:1');
  t.equal(shared({}).currentImage(), 'quay.io/jupyterhub/singleuser:latest', "SwarmSpawner's default image");
});
