import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { parse, parseAllDocuments } from 'yaml';
import { defaultRegistry, validateConfig } from '@tshub/hub';
import type { SpawnerCommonConfig } from '@tshub/plugin-api';
import { buildPod, buildPvc, objectName, parseByteSize, resolvePodOptions, templateNames, wantsPvc, type KubeSpawnerConfig } from '@tshub/spawner-kubernetes';
import { runCli, tempDir } from './support/run-cli.js';
import { knownKubernetesKinds, validateKubernetesManifest } from './support/kube-schema.js';

// The validator the Kubernetes spawner's builders and the deploy/kubernetes manifests are checked
// with: it has to accept what a cluster accepts and reject what a cluster (kubectl, strict field
// validation) rejects, or those tests prove nothing.

const pod = () => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'jupyter-ada', labels: { app: 'jupyterhub', component: 'singleuser-server' } },
  spec: {
    containers: [
      {
        name: 'notebook',
        image: 'quay.io/jupyter/base-notebook:2025-01-01',
        imagePullPolicy: 'IfNotPresent',
        ports: [{ name: 'notebook-port', containerPort: 8888 }],
        resources: { limits: { memory: '128M', cpu: 0.5 }, requests: { memory: '64M', cpu: '100m' } },
        env: [{ name: 'JUPYTERHUB_USER', value: 'ada' }],
        volumeMounts: [{ name: 'home', mountPath: '/home/jovyan' }],
        lifecycle: { postStart: { exec: { command: ['sh', '-c', 'git clone x || true'] } } },
      },
    ],
    securityContext: { runAsUser: 1000, fsGroup: 100 },
    volumes: [{ name: 'home', persistentVolumeClaim: { claimName: 'claim-ada' } }],
    restartPolicy: 'OnFailure',
    nodeSelector: { 'hub.jupyter.org/node-purpose': 'user' },
    tolerations: [{ key: 'hub.jupyter.org/dedicated', operator: 'Equal', value: 'user', effect: 'NoSchedule' }],
  },
});

t.test('covers the kinds deploy/kubernetes and the spawner use', async (t) => {
  const kinds = knownKubernetesKinds();
  for (const k of ['v1/Pod', 'v1/PersistentVolumeClaim', 'v1/Service', 'apps/v1/Deployment', 'apps/v1/DaemonSet', 'rbac.authorization.k8s.io/v1/Role', 'scheduling.k8s.io/v1/PriorityClass']) {
    t.ok(kinds.includes(k), k);
  }
});

t.test('accepts a typical user pod, PVC and service', async (t) => {
  t.same(validateKubernetesManifest(pod()), []);
  t.same(
    validateKubernetesManifest({
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: { name: 'claim-ada' },
      spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } }, storageClassName: 'standard' },
    }),
    [],
  );
  t.same(
    validateKubernetesManifest({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'jupyter-ada' },
      spec: { selector: { app: 'jupyterhub' }, ports: [{ port: 8888, targetPort: 'notebook-port' }], type: 'ClusterIP' },
    }),
    [],
  );
});

t.test('rejects an unknown field with its path', async (t) => {
  const bad = pod() as { spec: { containers: Record<string, unknown>[] } };
  bad.spec.containers[0]!.memLimit = '128M';
  const errors = validateKubernetesManifest(bad);
  t.equal(errors.length, 1);
  t.match(errors[0], /^Pod\/jupyter-ada: \/spec\/containers\/0: unknown field "memLimit"/);
});

t.test('rejects wrong types, bad enums and missing required fields', async (t) => {
  const p = pod() as unknown as { spec: { containers: Record<string, unknown>[]; restartPolicy: string; securityContext: Record<string, unknown> } };
  p.spec.restartPolicy = 'Sometimes';
  p.spec.securityContext.runAsUser = '1000';
  delete p.spec.containers[0]!.name;
  const errors = validateKubernetesManifest(p);
  t.match(errors.join('\n'), /\/spec\/restartPolicy: must be one of "Always", "Never", "OnFailure"/);
  t.match(errors.join('\n'), /\/spec\/securityContext\/runAsUser: must be integer/);
  t.match(errors.join('\n'), /\/spec\/containers\/0: missing required field "name"/);
  t.equal(errors.length, 3, errors.join('\n'));
});

t.test('rejects a fractional replica count, bad names and unknown kinds', async (t) => {
  const deployment = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'hub' },
    spec: { replicas: 1.5, selector: { matchLabels: { a: 'b' } }, template: { metadata: { labels: { a: 'b' } }, spec: { containers: [{ name: 'hub', image: 'tshub' }] } } },
  };
  t.match(validateKubernetesManifest(deployment).join(), /\/spec\/replicas: must be integer/);
  t.match(validateKubernetesManifest({ ...pod(), metadata: { name: 'Jupyter_Ada' } }).join(), /not a valid DNS subdomain/);
  t.match(validateKubernetesManifest({ ...pod(), metadata: {} }).join(), /missing required field "name"/);
  t.match(validateKubernetesManifest({ apiVersion: 'v1', kind: 'Pdo', metadata: { name: 'x' } }).join(), /no schema for v1 Pdo/);
  t.match(validateKubernetesManifest({ ...pod(), apiVersion: 'apps/v1' }).join(), /no schema for apps\/v1 Pod/);
});

// ---- deploy/kubernetes: what `kubectl apply -k deploy/kubernetes` would send to a cluster ----

const DIR = path.resolve('deploy/kubernetes');

interface Doc {
  file: string;
  // Parsed YAML, checked against the Kubernetes schema by the first test below; walked as plain JSON.
  obj: any;
}

function readDocs(): Doc[] {
  const docs: Doc[] = [];
  for (const file of readdirSync(DIR).filter((f) => /\.ya?ml$/.test(f) && f !== 'kustomization.yaml')) {
    for (const d of parseAllDocuments(readFileSync(path.join(DIR, file), 'utf8'))) {
      if (d.errors.length) throw new Error(`${file}: ${d.errors[0]!.message}`);
      const obj = d.toJS() as Doc['obj'];
      if (obj) docs.push({ file, obj });
    }
  }
  return docs;
}

const docs = readDocs();
const find = (kind: string, name: string) => docs.find((d) => d.obj.kind === kind && d.obj.metadata.name === name)?.obj;

t.test('every manifest in deploy/kubernetes is valid against the Kubernetes v1.36 schema', async (t) => {
  t.ok(docs.length >= 14, `${docs.length} objects`);
  for (const { file, obj } of docs) t.same(validateKubernetesManifest(obj), [], `${file}: ${obj.kind}/${obj.metadata?.name}`);
});

t.test('kustomization.yaml lists every manifest file (templates excepted) and nothing else', async (t) => {
  const k = parse(readFileSync(path.join(DIR, 'kustomization.yaml'), 'utf8')) as { kind: string; namespace: string; resources: string[]; images?: { name: string }[] };
  t.equal(k.kind, 'Kustomization');
  const files = readdirSync(DIR).filter((f) => /\.ya?ml$/.test(f) && f !== 'kustomization.yaml' && !f.endsWith('.example.yaml'));
  t.same([...k.resources].sort(), files.sort());
  t.equal(new Set(k.resources).size, k.resources.length, 'no file listed twice');
  t.ok(find('Namespace', k.namespace), `the namespace ${k.namespace} is created`);
  t.ok(k.images?.some((i) => i.name === find('Deployment', 'hub').spec.template.spec.containers[0].image), 'the hub image can be set in one place');
});

/** The (resource, verb) pairs spawners/kubernetes calls through @kubernetes/client-node's CoreV1Api. */
function spawnerApiCalls(): { resource: string; verb: string }[] {
  const dir = path.resolve('spawners/kubernetes/src');
  const verbs: Record<string, string[]> = { create: ['create'], delete: ['delete'], read: ['get'], list: ['list', 'watch'], patch: ['patch'], replace: ['update'] };
  const calls = new Map<string, { resource: string; verb: string }>();
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))) {
    for (const m of readFileSync(path.join(dir, file), 'utf8').matchAll(/\.(create|delete|read|list|patch|replace)Namespaced(\w+?)(Status)?\(/g)) {
      const resource = m[2]!.replace(/^PersistentVolumeClaim$/, 'persistentvolumeclaim').toLowerCase() + 's';
      for (const verb of verbs[m[1]!]!) calls.set(`${verb} ${resource}`, { resource: m[3] ? `${resource}/status` : resource, verb });
    }
  }
  return [...calls.values()];
}

t.test('the hub may do what the Kubernetes spawner does, in its namespace only', async (t) => {
  const hub = find('Deployment', 'hub').spec.template.spec;
  const binding = docs.find((d) => d.obj.kind === 'RoleBinding' && d.obj.subjects.some((s: { kind: string; name: string }) => s.kind === 'ServiceAccount' && s.name === hub.serviceAccountName))?.obj;
  t.ok(find('ServiceAccount', hub.serviceAccountName), 'the hub runs as its own ServiceAccount');
  t.ok(binding, 'a RoleBinding binds that ServiceAccount');
  t.equal(binding.roleRef.kind, 'Role', 'a namespaced Role, no cluster-wide rights');
  const rules: { apiGroups: string[]; resources: string[]; verbs: string[] }[] = find('Role', binding.roleRef.name).rules;
  const allowed = (resource: string, verb: string) => rules.some((r) => r.apiGroups.includes('') && r.resources.includes(resource) && r.verbs.includes(verb));
  for (const resource of ['pods', 'persistentvolumeclaims', 'services']) {
    for (const verb of ['get', 'list', 'watch', 'create', 'delete']) t.ok(allowed(resource, verb), `${verb} ${resource}`);
  }
  for (const verb of ['get', 'list', 'watch']) t.ok(allowed('events', verb), `${verb} events`);
  // Whatever the spawner's code calls must be allowed too: a call added later without a Role rule
  // would fail only on a real cluster (403), so catch it here.
  for (const { resource, verb } of spawnerApiCalls()) t.ok(allowed(resource, verb), `the spawner calls ${verb} on ${resource}`);
  t.notOk(rules.some((r) => r.resources.includes('secrets') || r.verbs.includes('*')), 'no secrets, no wildcards');
  t.notOk(docs.some((d) => d.obj.kind === 'ClusterRoleBinding'), 'no ClusterRoleBinding');
});

/** The calls spawners/kubernetes makes outside one namespace (enable_user_namespaces): namespaces, cluster-wide lists. */
function spawnerClusterCalls(): { resource: string; verb: string }[] {
  const dir = path.resolve('spawners/kubernetes/src');
  const text = readdirSync(dir).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts')).map((f) => readFileSync(path.join(dir, f), 'utf8')).join('\n');
  const lists = [...text.matchAll(/\.list(\w+?)ForAllNamespaces\(/g)].flatMap((m) => ['list', 'watch'].map((verb) => `${verb} ${m[1]!.toLowerCase()}s`));
  const namespaces = [...text.matchAll(/\.(create|delete|read)Namespace\(/g)].map((m) => `${m[1] === 'read' ? 'get' : m[1]} namespaces`);
  return [...new Set([...lists, ...namespaces])].map((c) => ({ verb: c.split(' ')[0]!, resource: c.split(' ')[1]! }));
}

const COMPONENT = path.join(DIR, 'components/user-namespaces');
const componentDocs: Doc[] = readdirSync(COMPONENT).filter((f) => /\.ya?ml$/.test(f) && f !== 'kustomization.yaml').flatMap((file) => parseAllDocuments(readFileSync(path.join(COMPONENT, file), 'utf8')).map((d) => ({ file, obj: d.toJS() as Doc['obj'] })));

t.test('the user-namespaces component: valid manifests, listed in its kustomization', async (t) => {
  const k = parse(readFileSync(path.join(COMPONENT, 'kustomization.yaml'), 'utf8')) as { apiVersion: string; kind: string; resources: string[] };
  t.same([k.apiVersion, k.kind], ['kustomize.config.k8s.io/v1alpha1', 'Component'], 'a kustomize Component, added by an overlay');
  t.same([...k.resources].sort(), [...new Set(componentDocs.map((d) => d.file))].sort(), `lists every manifest file (${componentDocs.length} objects)`);
  for (const { file, obj } of componentDocs) t.same(validateKubernetesManifest(obj), [], `${file}: ${obj.kind}/${obj.metadata?.name}`);
});

t.test('with the component, the hub may do what the spawner does with user namespaces, and no more', async (t) => {
  const [hub, base] = [find('Deployment', 'hub').spec.template.spec, parse(readFileSync(path.join(DIR, 'kustomization.yaml'), 'utf8')) as { namespace: string }];
  const binding = componentDocs.find((d) => d.obj.kind === 'ClusterRoleBinding')?.obj;
  t.same(binding?.subjects, [{ kind: 'ServiceAccount', name: hub.serviceAccountName, namespace: base.namespace }], "binds the hub's ServiceAccount in the hub's namespace");
  t.equal(binding?.roleRef.kind, 'ClusterRole', 'to the ClusterRole');
  const role = componentDocs.find((d) => d.obj.kind === 'ClusterRole' && d.obj.metadata.name === binding?.roleRef.name)?.obj;
  const rules: { apiGroups: string[]; resources: string[]; verbs: string[] }[] = role?.rules ?? [];
  const allowed = (resource: string, verb: string) => rules.some((r) => r.apiGroups.includes('') && r.resources.includes(resource) && r.verbs.includes(verb));
  const cluster = spawnerClusterCalls();
  t.ok(cluster.length >= 7, `the spawner's cluster-wide calls were found (${cluster.map((c) => `${c.verb} ${c.resource}`).join(', ')})`);
  // In user namespaces the namespaced calls happen in namespaces the Role does not reach.
  for (const { resource, verb } of [...cluster, ...spawnerApiCalls()]) t.ok(allowed(resource, verb), `the spawner calls ${verb} on ${resource}`);
  t.notOk(rules.some((r) => r.resources.some((x) => ['secrets', 'nodes', '*'].includes(x)) || r.verbs.some((v) => ['*', 'update', 'patch', 'escalate', 'bind'].includes(v))), 'no secrets, nodes, wildcards, updates or escalation');
  t.notOk(allowed('namespaces', 'list') || allowed('namespaces', 'watch'), 'namespaces are not listed or watched: the hub needs no inventory of the cluster');
});

t.test('the pieces refer to each other correctly', async (t) => {
  const secret = find('Secret', 'tshub-secrets');
  const containers = docs.flatMap((d) => {
    const spec = d.obj.spec?.template?.spec;
    return spec ? [...(spec.containers ?? []), ...(spec.initContainers ?? [])].map((c) => ({ d, c, spec })) : [];
  });
  for (const { d, c } of containers) {
    for (const e of c.env ?? []) {
      const ref = e.valueFrom?.secretKeyRef;
      if (ref) t.ok(ref.name === 'tshub-secrets' && ref.key in secret.stringData, `${d.obj.metadata.name}: $${e.name} from secret key ${ref.key}`);
    }
  }
  for (const { d, spec } of containers) {
    for (const v of spec.volumes ?? []) if (v.configMap) t.ok(find('ConfigMap', v.configMap.name), `${d.obj.metadata.name}: configMap ${v.configMap.name}`);
    if (spec.priorityClassName) t.ok(find('PriorityClass', spec.priorityClassName), `${d.obj.metadata.name}: priorityClass`);
  }
  for (const svc of docs.filter((d) => d.obj.kind === 'Service').map((d) => d.obj)) {
    const target = docs.map((d) => d.obj).find((o) => o.spec?.template && Object.entries(svc.spec.selector).every(([k, v]) => o.spec.template.metadata.labels[k] === v));
    t.ok(target, `Service ${svc.metadata.name} selects ${target?.metadata.name}`);
    const ports = target?.spec.template.spec.containers.flatMap((c: { ports?: unknown[] }) => c.ports ?? []) ?? [];
    for (const p of svc.spec.ports) t.ok(ports.some((cp: { name?: string; containerPort: number }) => cp.name === p.targetPort || cp.containerPort === p.targetPort), `Service ${svc.metadata.name} port ${p.name} reaches a container port`);
  }
  const placeholder = find('PriorityClass', find('StatefulSet', 'user-placeholder').spec.template.spec.priorityClassName);
  t.ok(placeholder.value < 0 && !placeholder.globalDefault, 'placeholders rank below user pods (priority 0)');
});

t.test('the hub config in the ConfigMap matches the manifests and the course setup', async (t) => {
  const config = parse(find('ConfigMap', 'tshub-config').data['tshub.yaml']);
  const hub = find('Deployment', 'hub').spec.template.spec.containers[0];
  const mount = hub.volumeMounts.find((m: { subPath?: string }) => m.subPath === 'tshub.yaml');
  t.same(hub.args, ['start', '--config', mount.mountPath], 'the hub reads the mounted config file');
  t.equal(config.hub.hub_port, hub.ports[0].containerPort);
  t.equal(hub.readinessProbe.httpGet.path, '/hub/health');
  t.equal(config.proxy.should_start, false, 'the proxy runs in its own Deployment');
  const api = new URL(config.proxy.api_url);
  t.equal(api.port, String(find('Service', api.hostname).spec.ports[0].port), 'proxy.api_url is the proxy-api Service');
  const connect = new URL(config.hub.hub_connect_url);
  t.equal(connect.port, String(find('Service', connect.hostname).spec.ports[0].port), 'hub_connect_url is the hub Service');
  t.equal(config.proxy.extra_routes['/'], config.hub.hub_connect_url, "the proxy's hub route goes to the hub Service");
  t.match(config.spawner, { kind: 'kubernetes', mem_limit: '128M', cpu_limit: 0.5, storage_capacity: '1Gi', storage_pvc_ensure: true });
  t.match(config.culler, { enabled: true, timeout: 300 });
  const pulled = find('DaemonSet', 'image-puller').spec.template.spec.initContainers.map((c: { image: string }) => c.image);
  t.ok(pulled.includes(config.spawner.image), 'the pre-puller pulls the image user pods run');
});

/** Bytes or cores of a Kubernetes quantity ("128Mi", "134217728", "50m", "0.5"). */
function quantity(q: string | number): number {
  const m = /^([0-9.]+)(m|k|M|G|Ki|Mi|Gi)?$/.exec(String(q));
  if (!m) throw new Error(`unexpected quantity ${q}`);
  const unit = { '': 1, m: 1e-3, k: 1e3, M: 1e6, G: 1e9, Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3 }[m[2] ?? ''];
  return Number(m[1]) * unit!;
}

t.test("the user pod this config makes is valid, and the placeholders and network policy fit it", async (t) => {
  const result = validateConfig(parse(find('ConfigMap', 'tshub-config').data['tshub.yaml']), defaultRegistry());
  if (!result.ok) throw new Error(result.errors.join('; '));
  const s = result.config.spawner;
  const common: SpawnerCommonConfig = { ...s, mem_limit: parseByteSize(s.mem_limit), mem_guarantee: parseByteSize(s.mem_guarantee) };
  const o = resolvePodOptions(s as KubeSpawnerConfig, common);
  const names = templateNames('ada', '', 'tshub');
  const m = { names, namespace: 'tshub', podName: objectName(o.pod_name_template, names), pvcName: objectName(o.pvc_name_template, names), userName: 'ada', serverName: '' };
  t.ok(wantsPvc(o), 'every user gets a PVC');
  const pod = buildPod(o, m, [{ name: 'JUPYTERHUB_USER', value: 'ada' }]);
  t.same(validateKubernetesManifest(pod), [], 'the user pod is valid');
  t.same(validateKubernetesManifest(buildPvc(o, m)), [], 'the user PVC is valid');
  t.equal(buildPvc(o, m).spec?.resources?.requests?.storage, '1Gi');

  const notebook = pod.spec!.containers[0]!;
  t.equal(quantity(notebook.resources!.limits!.memory!), 128 * 1024 ** 2, 'memory limit 128M');
  t.equal(quantity(notebook.resources!.limits!.cpu!), 0.5, 'cpu limit 0.5');
  const held = find('StatefulSet', 'user-placeholder').spec.template.spec.containers[0].resources.requests;
  for (const r of ['cpu', 'memory']) {
    t.equal(quantity(held[r]), quantity(notebook.resources!.requests![r]!), `a placeholder requests the ${r} of one user pod`);
  }
  const policy = find('NetworkPolicy', 'singleuser').spec;
  t.match(pod.metadata!.labels, policy.podSelector.matchLabels, 'the network policy selects user pods');
  t.same(policy.ingress[0].ports.map((p: { port: number }) => p.port), notebook.ports!.map((p) => p.containerPort), "on the single-user server's port");
  for (const component of ['proxy', 'hub']) {
    const peer = policy.ingress[0].from.find((f: { podSelector: { matchLabels: Record<string, string> } }) => f.podSelector.matchLabels['app.kubernetes.io/component'] === component);
    t.same(peer?.podSelector.matchLabels, find('Deployment', component).spec.template.metadata.labels, `the ${component} pods may connect to user pods`);
  }
});

t.test('tshub config check accepts the ConfigMap hub config', async (t) => {
  const text = find('ConfigMap', 'tshub-config').data['tshub.yaml'] as string;
  const run = await runCli(tempDir(t, { 'tshub.yaml': text }), ['config', 'check', '--config', 'tshub.yaml']);
  t.equal(run.code, 0, run.stderr);
  t.match(run.stdout, /Configuration OK/);
});
