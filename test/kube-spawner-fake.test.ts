import t, { type Test } from 'tap';
import { SpawnError, type JsonObject, type ProgressEvent, type SpawnContext } from '@tshub/plugin-api';
import { kubernetesSpawner, type KubeShared, type KubeSpawnerConfig } from '@tshub/spawner-kubernetes';
import { FakeKubeApi } from './support/fake-kube-api.js';
import { collect, until } from './support/async-wait.js';

/**
 * The kubernetes spawner driven directly (no hub) against the fake API server through the real
 * @kubernetes/client-node: progress from events, early failures with their reason (image pull,
 * unschedulable, quota), stop, re-adoption from state, PVC handling, and the watch surviving a 410.
 * Containers do not run here (the hub suite runs the real single-user server).
 */

const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const common = {
  cmd: ['jupyterhub-singleuser'], args: [], default_url: '', notebook_dir: '', environment: {}, env_keep: [], ip: '127.0.0.1', port: 0,
  start_timeout: 10, http_timeout: 10, poll_interval: 30, mem_limit: 1024 ** 3, mem_guarantee: null, cpu_limit: 0.5, cpu_guarantee: null,
};

async function setup(t: Test, config: Partial<KubeSpawnerConfig> = {}) {
  const fake = await new FakeKubeApi({ runContainers: false, stepMs: 20 }).start();
  const cfg: KubeSpawnerConfig = { api_url: fake.url, api_token: fake.token, namespace: 'jhub', ...config };
  let shared: KubeShared | undefined;
  t.teardown(async () => {
    await shared?.close();
    await fake.close();
  });
  shared = await kubernetesSpawner.openShared!({ config: cfg, common, log: quiet });
  const spawner = (user: string, opts: { state?: JsonObject; userOptions?: JsonObject; groups?: string[] } = {}) => {
    const ctx: SpawnContext<KubeSpawnerConfig, KubeShared> = {
      user: { name: user, admin: false, groups: opts.groups ?? [], authState: null }, serverName: '', state: opts.state ?? {},
      userOptions: opts.userOptions ?? {}, env: { JUPYTERHUB_USER: user, JUPYTERHUB_API_TOKEN: 'tok' }, servicePrefix: `/user/${user}/`,
      common, config: cfg, log: quiet, shared: shared!,
    };
    return kubernetesSpawner.create(ctx);
  };
  return { fake, shared: shared!, spawner };
}

t.test('spawn to Running: progress from pod events, URL from the pod IP and port', async (t) => {
  const { fake, spawner } = await setup(t);
  const s = spawner('alice');
  const progress = collect(s.progress!());
  const { url } = await s.start(AbortSignal.timeout(60_000));
  const pod = fake.objects('pods', 'jhub')[0]!;
  t.equal(pod.metadata.name, 'jupyter-alice', 'pod named by the default template');
  t.equal(url, `http://127.0.0.1:${pod.spec.containers[0].ports[0].containerPort}`, 'URL is the pod IP and the stored container port');
  const messages = (await progress).map((e) => e.message);
  for (const reason of ['Scheduled', 'Pulling', 'Pulled', 'Created', 'Started']) {
    t.ok(messages.some((m) => m.startsWith(`[Normal] ${reason}:`)), `progress shows the ${reason} event`);
  }
  const numbers = (await progress).map((e) => e.progress);
  t.same(numbers, [...numbers].sort((a, b) => a - b), 'progress only grows');
  t.ok(numbers.every((n) => n < 90), 'and stays below 90 while the pod starts');
  t.same(await s.poll(), { running: true }, 'poll says running');
  t.match(s.state(), { pod_name: 'jupyter-alice', namespace: 'jhub' }, 'state names the pod');
  t.equal(fake.count('GET pods/:name'), 0, 'no GET of the pod: everything came from the watch');

  await s.stop({ now: false });
  t.equal(fake.objects('pods', 'jhub').length, 0, 'stop resolves once the pod is gone');
  t.same(await s.poll(), { running: false }, 'poll says stopped');
  t.equal(fake.count('DELETE pods/:name'), 1, 'one DELETE');
});

t.test('failures that will not heal end the spawn early, with the reason', async (t) => {
  const { fake, spawner } = await setup(t);
  const cases: [string, (user: string) => void, string, RegExp][] = [
    ['image pull back-off', (u) => fake.scenarios.set(`jupyter-${u}`, 'image-pull-backoff'), 'image-pull', /could not be pulled \(ErrImagePull: Failed to pull image/],
    ['unschedulable', (u) => fake.scenarios.set(`jupyter-${u}`, 'unschedulable'), 'unschedulable', /cannot be scheduled: 0\/3 nodes are available: 3 Insufficient memory/],
    ['quota', () => (fake.quotaExceeded = true), 'quota-exceeded', /resource quota is used up.*exceeded quota: user-quota/],
  ];
  for (const [label, arrange, reason, message] of cases) {
    const user = label.replace(/[^a-z]/g, '');
    arrange(user);
    const s = spawner(user);
    const t0 = Date.now();
    const err = await s.start(AbortSignal.timeout(60_000)).catch((e: unknown) => e);
    t.type(err, SpawnError, `${label}: start throws a SpawnError`);
    t.equal((err as SpawnError).reason, reason, `${label}: reason ${reason}`);
    t.match((err as SpawnError).message, message, `${label}: the message says why`);
    t.ok(Date.now() - t0 < 15_000, `${label}: within ${Date.now() - t0} ms, not at start_timeout (60 s)`);
    await s.stop({ now: true });
    t.equal(fake.objects('pods', 'jhub').length, 0, `${label}: no pod left after stop`);
    fake.quotaExceeded = false;
  }
});

t.test('a pod that stays Pending: start gives up when the hub aborts it (start_timeout), and stop cleans up', async (t) => {
  const { fake, spawner } = await setup(t);
  fake.scenarios.set('jupyter-gina', 'pending');
  const s = spawner('gina');
  const err = await s.start(AbortSignal.timeout(300)).catch((e: unknown) => e);
  t.match(err, { name: 'TimeoutError' }, 'start rejects with the abort reason');
  t.same(await s.poll(), { running: true }, 'the pending pod still counts as running until stopped');
  await s.stop({ now: true });
  t.equal(fake.objects('pods', 'jhub').length, 0, 'stop deleted it');
});

t.test('re-adoption from state; a pod deleted behind the hub\'s back is noticed from the watch', async (t) => {
  const { fake, spawner } = await setup(t);
  const first = spawner('bob');
  await first.start(AbortSignal.timeout(10_000));
  const again = spawner('bob', { state: first.state() });
  t.same(await again.poll(), { running: true }, 'a spawner rebuilt from state sees the running pod');
  const before = fake.totalRequests;
  await again.stop({ now: true });
  t.equal(fake.totalRequests - before, 1, 'stopping it costs one request (the DELETE)');
  t.same(await first.poll(), { running: false }, 'the original instance sees it gone too');

  const third = spawner('bob');
  await third.start(AbortSignal.timeout(10_000));
  // As `kubectl delete pod`: not through the spawner.
  const res = await fetch(`${fake.url}/api/v1/namespaces/jhub/pods/jupyter-bob?gracePeriodSeconds=0`, { method: 'DELETE', headers: { authorization: `Bearer ${fake.token}` } });
  t.equal(res.status, 200, 'the pod is deleted directly through the API');
  await until(() => fake.objects('pods', 'jhub').length === 0);
  const polls = fake.totalRequests;
  await until(async () => !(await third.poll()).running);
  t.same(await third.poll(), { running: false }, 'poll notices from the watch');
  t.equal(fake.totalRequests, polls, 'without asking the API server');
});

t.test('services_enabled: a Service owned by the pod, and the URL is its DNS name', async (t) => {
  const { fake, spawner } = await setup(t, { services_enabled: true });
  const s = spawner('fay');
  const { url } = await s.start(AbortSignal.timeout(60_000));
  const pod = fake.objects('pods', 'jhub')[0]!;
  t.equal(url, `http://jupyter-fay.jhub.svc.cluster.local:${pod.spec.containers[0].ports[0].containerPort}`, 'URL: the service DNS name');
  const [svc] = fake.objects('services', 'jhub');
  t.match(svc, { metadata: { name: 'jupyter-fay', ownerReferences: [{ kind: 'Pod', uid: pod.metadata.uid }] }, spec: { selector: { component: 'singleuser-server', 'hub.jupyter.org/username': 'fay' } } }, 'Service selecting the pod, owned by it');
  await s.stop({ now: true });
  await until(() => fake.objects('services', 'jhub').length === 0);
  t.pass('the Service went with the pod');
});

t.test('storage: PVC created once, kept on stop, deleted only with delete_pvc', async (t) => {
  for (const deletePvc of [false, true]) {
    const { fake, spawner } = await setup(t, { storage_capacity: '2Gi', storage_class: 'standard', delete_pvc: deletePvc });
    const s = spawner('carol');
    await s.start(AbortSignal.timeout(60_000));
    const [pvc] = fake.objects('persistentvolumeclaims', 'jhub');
    t.match(pvc, { metadata: { name: 'claim-carol' }, spec: { resources: { requests: { storage: '2Gi' } }, storageClassName: 'standard' } }, 'PVC claim-carol');
    t.match(fake.objects('pods', 'jhub')[0]!.spec.volumes, [{ persistentVolumeClaim: { claimName: 'claim-carol' } }], 'the pod mounts it');
    t.match(s.state(), { pvc_name: 'claim-carol' }, 'state remembers the PVC');
    await s.stop({ now: true });
    const s2 = spawner('carol', { state: s.state() });
    await s2.start(AbortSignal.timeout(10_000));
    t.equal(fake.count('POST persistentvolumeclaims'), 2, 'the second start tries to create it again...');
    t.equal(fake.objects('persistentvolumeclaims', 'jhub').length, 1, '...and accepts the 409 for the existing claim');
    await s2.stop({ now: true });
    await s2.deleteForever!();
    t.equal(fake.objects('persistentvolumeclaims', 'jhub').length, deletePvc ? 0 : 1, `delete_pvc ${deletePvc}: PVC ${deletePvc ? 'deleted' : 'kept'} by deleteForever`);
  }
});

t.test('the watch recovers from 410 Gone and dropped connections by re-listing', async (t) => {
  const { fake, spawner } = await setup(t);
  await until(() => fake.openWatches === 2);
  fake.compactHistory();
  fake.dropWatches();
  await until(() => fake.openWatches === 2);
  t.equal(fake.count('WATCH pods'), 3, 'the pod watch came back: resumed (answered 410 Gone), then re-opened after a new list');
  t.equal(fake.count('LIST pods'), 2, 'with one more LIST');
  const s = spawner('dave');
  const { url } = await s.start(AbortSignal.timeout(60_000));
  t.match(url, /^http:\/\/127\.0\.0\.1:\d+$/, 'a spawn after the watches were dropped still completes');
  t.equal(fake.count('GET pods/:name'), 0, 'still no GET of single pods');
  await s.stop({ now: true });
});

t.test('profiles: the override shapes the pod; group-limited profiles are refused to others', async (t) => {
  const { fake, shared, spawner } = await setup(t, {
    profile_list: [
      { display_name: 'Small', default: true },
      { display_name: 'GPU', slug: 'gpu', allowed_groups: ['ml'], kubespawner_override: { image: 'jupyter/gpu:1', extra_resource_limits: { 'nvidia.com/gpu': 1 }, mem_limit: '4G' } },
    ],
  });
  const student = { name: 'erin', admin: false, groups: [], authState: null };
  const ml = { ...student, groups: ['ml'] };
  t.equal(shared.optionsForm!(student), null, 'one visible profile: no form');
  t.match(shared.optionsForm!(ml), /value="gpu"/, 'the ml group sees the GPU choice');
  t.throws(() => shared.checkUserOptions!({ profile: 'gpu' }, student), { status: 403, message: /not available to you/ }, 'a student may not pick it');
  t.throws(() => shared.checkUserOptions!({ profile: 'huge' }, ml), { status: 400, message: /Unknown profile 'huge'/ }, 'unknown profile: 400');
  const options = await shared.checkUserOptions!({ profile: ['gpu'] }, ml);
  t.same(options, { profile: 'gpu' }, 'form values are normalised');
  const s = spawner('erin', { userOptions: options, groups: ['ml'] });
  await s.start(AbortSignal.timeout(60_000));
  const c = fake.objects('pods', 'jhub')[0]!.spec.containers[0];
  t.equal(c.image, 'jupyter/gpu:1', 'profile image');
  t.same(c.resources.limits, { cpu: '0.5', memory: String(4 * 1024 ** 3), 'nvidia.com/gpu': '1' }, 'profile limits');
  await s.stop({ now: true });
});
