import t, { type Test } from 'tap';
import { SpawnError, type JsonObject, type ProgressEvent, type SpawnContext } from '@tshub/plugin-api';
import { kubernetesSpawner, type KubeShared, type KubeSpawnerConfig, type ModifyPodContext } from '@tshub/spawner-kubernetes';
import { FakeKubeApi } from './support/fake-kube-api.js';
import { collect, until } from './support/async-wait.js';

/**
 * Per-user namespaces (KubeSpawner's enable_user_namespaces) and modify_pod_hook, with the kubernetes
 * spawner driven directly against the fake API server through the real @kubernetes/client-node. The
 * fake knows only the namespace `jhub` at start and refuses objects in a namespace that does not
 * exist, as a cluster does: a spawn that did not create the user's namespace first would fail.
 */

const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const common = {
  cmd: ['jupyterhub-singleuser'], args: [], default_url: '', notebook_dir: '', environment: {}, env_keep: [], ip: '127.0.0.1', port: 0,
  start_timeout: 10, http_timeout: 10, poll_interval: 30, mem_limit: 1024 ** 3, mem_guarantee: null, cpu_limit: 0.5, cpu_guarantee: null,
};
const USER_NS: Partial<KubeSpawnerConfig> = {
  enable_user_namespaces: true, user_namespace_labels: { course: 'ml', owner: '{username}' }, user_namespace_annotations: { contact: '{unescaped_username}' },
};

async function setup(t: Test, config: Partial<KubeSpawnerConfig> = {}) {
  const fake = await new FakeKubeApi({ runContainers: false, stepMs: 20, namespaces: ['jhub'] }).start();
  const cfg: KubeSpawnerConfig = { api_url: fake.url, api_token: fake.token, namespace: 'jhub', ...USER_NS, ...config };
  const opened: KubeShared[] = [];
  t.teardown(async () => {
    for (const s of opened) await s.close();
    await fake.close();
  });
  /** A hub-lifetime half, as a (re)starting hub opens it. */
  const open = async (c: KubeSpawnerConfig = cfg) => {
    const shared = await kubernetesSpawner.openShared!({ config: c, common, log: quiet });
    opened.push(shared);
    return shared;
  };
  let shared = await open();
  const spawner = (user: string, opts: { state?: JsonObject; userOptions?: JsonObject; server?: string; shared?: KubeShared; config?: KubeSpawnerConfig } = {}) => {
    const ctx: SpawnContext<KubeSpawnerConfig, KubeShared> = {
      user: { name: user, admin: false, groups: [], authState: null }, serverName: opts.server ?? '', state: opts.state ?? {},
      userOptions: opts.userOptions ?? {}, env: { JUPYTERHUB_USER: user, JUPYTERHUB_API_TOKEN: 'tok' }, servicePrefix: `/user/${user}/`,
      common, config: opts.config ?? cfg, log: quiet, shared: opts.shared ?? shared,
    };
    return kubernetesSpawner.create(ctx);
  };
  const api = (method: string, path: string, body?: unknown) => fetch(`${fake.url}${path}`, {
    method, headers: { authorization: `Bearer ${fake.token}`, 'content-type': 'application/json' }, ...(body ? { body: JSON.stringify(body) } : {}),
  });
  return { fake, cfg, spawner, api, open, reopen: async (c?: KubeSpawnerConfig) => (shared = await open(c)) };
}

t.test('a spawn creates the user\'s namespace, labelled for this hub, then the PVC and pod in it', async (t) => {
  const { fake, spawner, api } = await setup(t, { storage_capacity: '1Gi' });
  t.same([fake.count('LIST pods (all namespaces)'), fake.count('LIST events (all namespaces)')], [1, 1], 'pods and events listed once, across all namespaces');
  await until(() => fake.openWatches === 2);
  const watches = fake.requestLog.filter((l) => l.includes('watch=true'));
  t.equal(watches.length, 2, 'one watch per kind');
  t.match(watches.find((l) => l.includes('/pods')), /^GET \/api\/v1\/pods\?.*labelSelector=component%3Dsingleuser-server/, 'pods watched cluster-wide by label');
  t.match(watches.find((l) => l.includes('/events')), /^GET \/api\/v1\/events\?.*fieldSelector=involvedObject\.kind%3DPod/, 'events watched cluster-wide by field');

  const s = spawner('Ada@uni.edu');
  const progress = collect(s.progress!());
  const { url } = await s.start(AbortSignal.timeout(20_000));
  const nsName = 'jhub-ada-uni-edu---' + /---([0-9a-f]{8})/.exec(String(s.state().namespace))![1];
  t.equal(s.state().namespace, nsName, 'the state records the namespace {hubnamespace}-{username}, with the safe slug of the name');
  t.match(fake.namespace(nsName)?.metadata, {
    labels: { app: 'jupyterhub', 'hub.jupyter.org/hub-namespace': 'jhub', 'hub.jupyter.org/username': nsName.slice(5), course: 'ml', owner: nsName.slice(5) },
    annotations: { contact: 'Ada@uni.edu', 'hub.jupyter.org/username': 'Ada@uni.edu' },
  }, 'the namespace carries the hub\'s labels and the templated user_namespace_labels/annotations');
  const [pod] = fake.objects('pods', nsName);
  t.equal(fake.objects('pods', 'jhub').length, 0, 'no pod in the hub\'s namespace');
  t.ok(pod, 'the pod is in the user\'s namespace');
  t.equal(fake.objects('persistentvolumeclaims', nsName).length, 1, 'and so is the PVC');
  t.equal(url, `http://127.0.0.1:${pod!.spec.containers[0].ports[0].containerPort}`, 'URL from the pod IP and port');
  const posts = fake.requestLog.filter((l) => l.startsWith('POST')).map((l) => l.split('/').at(-1));
  t.same(posts, ['namespaces', 'persistentvolumeclaims', 'pods'], 'the namespace is created before the PVC and the pod');
  t.ok((await progress).some((e) => e.message.startsWith('[Normal] Started:')), 'progress from the pod\'s events, seen through the cluster-wide watch');
  t.equal(fake.count('GET pods/:name'), 0, 'no GET of the pod');

  // A pod of the same name in another namespace must not be taken for this one.
  const twin = { metadata: { name: pod!.metadata.name, labels: { component: 'singleuser-server' } }, spec: { containers: [{ name: 'notebook', image: 'x' }] } };
  t.equal((await api('POST', '/api/v1/namespaces/jhub/pods', twin)).status, 201, 'a same-named pod in jhub');
  t.equal((await api('DELETE', `/api/v1/namespaces/jhub/pods/${pod!.metadata.name}?gracePeriodSeconds=0`)).status, 200, 'deleted again');
  await until(() => fake.objects('pods', 'jhub').length === 0);
  t.same(await s.poll(), { running: true }, 'the user\'s server is still running');

  await s.stop({ now: true });
  t.equal(fake.objects('pods', nsName).length, 0, 'stop deletes the pod');
  t.ok(fake.namespace(nsName), 'the namespace stays (with the PVC)');
  t.same(await s.poll(), { running: false }, 'poll says stopped');
});

t.test('an existing namespace is used (409 is fine); re-adoption after a restart finds the pod by its recorded namespace', async (t) => {
  const { fake, cfg, spawner, api, reopen } = await setup(t);
  t.equal((await api('POST', '/api/v1/namespaces', { metadata: { name: 'jhub-bob' } })).status, 201, 'jhub-bob made by someone else');
  const first = spawner('bob');
  await first.start(AbortSignal.timeout(20_000));
  t.equal(fake.count('POST namespaces'), 2, 'the spawner asked to create it...');
  t.equal(fake.objects('pods', 'jhub-bob').length, 1, '...took the 409 and started the pod in it');

  // The hub restarts with a different template: the recorded namespace still wins.
  const restarted = await reopen({ ...cfg, user_namespace_template: 'course-{username}' });
  const before = fake.totalRequests;
  const again = spawner('bob', { state: first.state(), shared: restarted, config: { ...cfg, user_namespace_template: 'course-{username}' } });
  t.same(await again.poll(), { running: true }, 'a spawner rebuilt from state after the restart sees the running pod');
  t.equal(fake.totalRequests - before, 0, 'from the cache, without a request');
  await again.stop({ now: true });
  t.equal(fake.objects('pods', 'jhub-bob').length, 0, 'and stops it in its namespace');
  t.equal(fake.count('GET pods/:name'), 0, 'never a GET of a single pod');
});

t.test('deleteForever deletes the user\'s namespace only when asked, and only one this hub made', async (t) => {
  const { fake, cfg, spawner, api } = await setup(t, { storage_capacity: '1Gi' });
  const run = async (user: string, c: KubeSpawnerConfig, server = '') => {
    const s = spawner(user, { config: c, server });
    await s.start(AbortSignal.timeout(20_000));
    await s.stop({ now: true });
    return s;
  };
  await (await run('carol', cfg)).deleteForever!();
  t.ok(fake.namespace('jhub-carol'), 'kept by default (delete_user_namespace is false)');

  const deleting = { ...cfg, delete_user_namespace: true };
  await (await run('carol', deleting, 'project')).deleteForever!();
  t.ok(fake.namespace('jhub-carol'), 'not when one named server is deleted: the namespace is the user\'s');
  await spawner('carol', { config: deleting }).deleteForever!();
  t.equal(fake.count('DELETE namespaces/:name'), 1, 'deleted with the default server, which goes only with the user');
  await until(() => !fake.namespace('jhub-carol'));
  t.equal(fake.objects('persistentvolumeclaims', 'jhub-carol').length, 0, 'and gone, with the PVCs in it');

  t.equal((await api('POST', '/api/v1/namespaces', { metadata: { name: 'jhub-dan' } })).status, 201, 'jhub-dan made by someone else');
  await (await run('dan', deleting)).deleteForever!();
  t.ok(fake.namespace('jhub-dan') && !fake.namespace('jhub-dan')!.metadata.deletionTimestamp, 'a namespace without this hub\'s label is never deleted');
  t.equal(fake.count('DELETE namespaces/:name'), 1, 'one namespace DELETE in all');
});

t.test('20 concurrent spawns in user namespaces: one watch per kind, 3 requests per server', async (t) => {
  const N = 20;
  const { fake, spawner } = await setup(t);
  await until(() => fake.openWatches === 2);
  const before = new Map(fake.requests);
  const delta = (key: string) => fake.count(key) - (before.get(key) ?? 0);
  const spawners = Array.from({ length: N }, (_, i) => spawner(`load${String(i).padStart(2, '0')}`));
  const t0 = Date.now();
  const urls = await Promise.all(spawners.map((s) => s.start(AbortSignal.timeout(30_000))));
  const seconds = (Date.now() - t0) / 1000;
  t.equal(new Set(urls.map((u) => u.url)).size, N, `${N} servers running, each at its own address, in ${seconds.toFixed(1)} s`);
  t.equal(fake.objects('namespaces', '').length, N + 1, `${N} user namespaces besides jhub`);
  await Promise.all(spawners.map((s) => s.stop({ now: true })));
  t.equal([delta('POST namespaces'), delta('POST pods'), delta('DELETE pods/:name')].join(), `${N},${N},${N}`, `${N} namespace creations, pod creations and pod deletions`);
  t.equal(delta('GET pods/:name'), 0, 'not one GET of a single pod');
  const relists = ['LIST', 'WATCH'].flatMap((v) => ['pods', 'events'].map((k) => delta(`${v} ${k} (all namespaces)`)));
  t.same(relists, [0, 0, 0, 0], 'the two cluster-wide watches stayed open: no re-list, no watch per namespace');
  const total = [...fake.requests.keys()].reduce((sum, k) => sum + delta(k), 0);
  t.equal(total, 3 * N, `${total} API requests for ${N} spawns and stops`);
  t.equal(fake.openWatches, 2, 'still two watches');
});

t.test('modify_pod_hook: what it returns is what is created; a hook that throws fails the spawn and creates nothing', async (t) => {
  const seen: ModifyPodContext[] = [];
  const { fake, cfg, spawner } = await setup(t, {
    modify_pod_hook: async (pod, ctx) => {
      seen.push(ctx);
      await new Promise((r) => setTimeout(r, 5));
      pod.metadata!.labels!['course.example.edu/track'] = String(ctx.userOptions.track ?? 'none');
      pod.spec!.containers[0]!.env!.push({ name: 'TRACK', value: String(ctx.userOptions.track) });
      return pod;
    },
  });
  const s = spawner('erin', { userOptions: { track: 'gpu' }, server: 'lab' });
  await s.start(AbortSignal.timeout(20_000));
  t.same(seen, [{ userName: 'erin', serverName: 'lab', userOptions: { track: 'gpu' }, namespace: 'jhub-erin' }], 'the hook got the user, server, user_options and namespace');
  const [pod] = fake.objects('pods', 'jhub-erin');
  t.equal(pod?.metadata.labels['course.example.edu/track'], 'gpu', 'the created pod has the label the hook added');
  t.ok(pod?.spec.containers[0].env.some((e: { name: string; value: string }) => e.name === 'TRACK' && e.value === 'gpu'), 'and its variable');
  await s.stop({ now: true });

  const posts = () => [...fake.requests.keys()].filter((k) => k.startsWith('POST')).reduce((n, k) => n + fake.count(k), 0);
  const cases: [string, KubeSpawnerConfig['modify_pod_hook'], RegExp][] = [
    ['throws', () => { throw new Error('no GPU quota left for this course'); }, /^spawner\.modify_pod_hook failed for frank's server: no GPU quota left for this course$/],
    ['returns a string', () => 'pod' as never, /^spawner\.modify_pod_hook must return a pod manifest/],
    ['renames the pod', (pod) => ({ ...pod, metadata: { ...pod.metadata, name: 'elsewhere' } }), /^spawner\.modify_pod_hook may not rename or move the pod \(expected jhub-frank\/jupyter-frank, got jhub-frank\/elsewhere\)/],
  ];
  for (const [label, hook, message] of cases) {
    const before = posts();
    const err = await spawner('frank', { config: { ...cfg, modify_pod_hook: hook } }).start(AbortSignal.timeout(20_000)).catch((e: unknown) => e);
    t.type(err, SpawnError, `a hook that ${label}: the spawn fails`);
    t.match(err, { reason: 'modify-pod-hook', message }, `with a message naming spawner.modify_pod_hook (${(err as Error).message})`);
    t.equal(posts(), before, 'before anything was created');
  }
  t.notOk(fake.namespace('jhub-frank'), 'no namespace for the failed spawns');
  // A YAML config can only hold a string here: the hub refuses to start instead of failing every spawn.
  await t.rejects(kubernetesSpawner.openShared!({ config: { ...cfg, modify_pod_hook: 'hooks.js' as never }, common, log: quiet }), {
    message: 'spawner.modify_pod_hook: must be a function (define it in a .js or .ts config file)',
  }, 'a modify_pod_hook that is not a function stops the hub at start-up');
});
