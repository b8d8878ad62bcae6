import { randomBytes, randomUUID } from 'node:crypto';
import http from 'node:http';
import { FakeKubelet, type PodScenario } from './fake-kube-kubelet.js';
import { FakeKubeStore, KINDS, matches, NAMESPACED_RESOURCES, type Obj, type Resource } from './fake-kube-store.js';
import { FakeKubeWatches } from './fake-kube-watch.js';

export type { PodScenario } from './fake-kube-kubelet.js';
export type { Obj, Resource } from './fake-kube-store.js';

/**
 * A fake Kubernetes API server: the core/v1 subset KubeSpawner uses (create/get/delete/list/watch of
 * pods, PVCs, services and events in a namespace; list/watch of them across all namespaces; create,
 * get, list and delete of namespaces), with resourceVersions, `?watch=true` streams (fake-kube-watch.ts),
 * a 410 for a compacted version, and Status errors (401/403/404/409/422) worded as the real API words
 * them. It counts every request, so tests can prove the spawner never polls a pod. It also plays
 * scheduler and kubelet (fake-kube-kubelet.ts).
 *
 * Pod networking: every pod's IP is 127.0.0.1, so the fake gives each pod its own port, as a mutating
 * admission webhook would on create. The spawner connects to the port the API server stored. With
 * `runContainers`, a Running pod's container runs for real and is stopped when the pod is deleted.
 */

export interface FakeKubeOptions {
  /** Milliseconds between two lifecycle steps of a pod (default 40). */
  stepMs?: number;
  /** Run a Running pod's notebook container as a local process (default true). */
  runContainers?: boolean;
  /** Cap on a deleting pod's grace period, so tests stay fast (default 2000 ms). */
  maxGraceMs?: number;
  /**
   * Namespaces that exist at start. When given, objects can be created only in a namespace that
   * exists and is not being deleted, as on a real cluster; when absent, any namespace is accepted.
   */
  namespaces?: string[];
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const ROUTES = [
  // [pattern, scope]: namespaced collection or object; namespaces; a kind across all namespaces.
  /^\/api\/v1\/namespaces\/(?<ns>[^/]+)\/(?<resource>pods|persistentvolumeclaims|services|events)(?:\/(?<name>[^/]+))?$/,
  /^\/api\/v1\/(?<resource>namespaces)(?:\/(?<name>[^/]+))?$/,
  /^\/api\/v1\/(?<resource>pods|persistentvolumeclaims|services|events)$/,
];

export class FakeKubeApi {
  readonly token = randomBytes(12).toString('hex');
  url = '';
  /**
   * Requests by `VERB resource` or `VERB resource/:name` (LIST, WATCH, GET, POST, DELETE); across all
   * namespaces as `LIST pods (all namespaces)`; namespaces as `POST namespaces`, `DELETE namespaces/:name`.
   */
  readonly requests = new Map<string, number>();
  /** Every request as `METHOD path?query`, in order. */
  readonly requestLog: string[] = [];
  readonly scenarios = new Map<string, PodScenario>();
  defaultScenario: PodScenario = 'run';
  /** When set, creating a pod answers 403 Forbidden "exceeded quota", as a ResourceQuota does. */
  quotaExceeded = false;
  readonly #store = new FakeKubeStore();
  readonly #watches = new FakeKubeWatches(this.#store);
  readonly #kubelet: FakeKubelet;
  readonly #strictNamespaces: boolean;
  #server: http.Server | null = null;

  constructor(opts: FakeKubeOptions = {}) {
    this.#kubelet = new FakeKubelet(this.#store, { stepMs: 40, runContainers: true, maxGraceMs: 2000, ...opts });
    this.#strictNamespaces = opts.namespaces !== undefined;
    for (const name of opts.namespaces ?? []) this.#createNamespace({ metadata: { name } });
  }

  async start(): Promise<this> {
    this.#server = http.createServer((req, res) => void this.#handle(req, res).catch((err) => this.#status(res, 500, 'InternalError', String(err))));
    await new Promise<void>((r) => this.#server!.listen(0, '127.0.0.1', r));
    const addr = this.#server.address() as { port: number };
    this.url = `http://127.0.0.1:${addr.port}`;
    return this;
  }

  /** Ends watches, stops every container, closes the server. */
  async close(): Promise<void> {
    this.#watches.close();
    await this.#kubelet.close();
    const closed = new Promise<void>((r) => (this.#server ? this.#server.close(() => r()) : r()));
    this.#server?.closeAllConnections();
    await closed;
  }

  count(key: string): number {
    return this.requests.get(key) ?? 0;
  }

  get totalRequests(): number {
    return [...this.requests.values()].reduce((a, b) => a + b, 0);
  }

  /** The stored objects of a kind in a namespace (namespaces themselves: `objects('namespaces', '')`). */
  objects(resource: Resource, ns = 'default'): Obj[] {
    return this.#store.list(resource, ns);
  }

  /** A stored Namespace, or undefined. */
  namespace(name: string): Obj | undefined {
    return this.#store.get('namespaces', '', name);
  }

  /** Forgets history older than now: a watch resuming from an older version gets 410 Gone. */
  compactHistory(): void {
    this.#store.compact();
  }

  /** How many watch streams are open now. */
  get openWatches(): number {
    return this.#watches.open;
  }

  /** Ends every open watch, as an API server does when it restarts or times a watch out. */
  dropWatches(): void {
    this.#watches.drop();
  }

  /** What a running container printed (for test failure messages). */
  containerOutput(ns: string, pod: string): string {
    return this.#kubelet.containerOutput(ns, pod);
  }

  async #handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    this.requestLog.push(`${req.method} ${url.pathname}${url.search}`);
    const route = ROUTES.map((r) => r.exec(url.pathname)?.groups).find(Boolean);
    const resource = route?.resource as Resource | undefined;
    const name = route?.name;
    const allNamespaces = route !== undefined && route.ns === undefined && resource !== 'namespaces';
    const watch = url.searchParams.get('watch') === 'true';
    const verb = req.method === 'GET' ? (name ? 'GET' : watch ? 'WATCH' : 'LIST') : (req.method ?? 'GET');
    const key = `${verb} ${resource ? `${resource}${name ? '/:name' : ''}${allNamespaces ? ' (all namespaces)' : ''}` : url.pathname}`;
    this.requests.set(key, this.count(key) + 1);
    if (req.headers.authorization !== `Bearer ${this.token}`) return this.#status(res, 401, 'Unauthorized', 'Unauthorized');
    if (!resource) return this.#status(res, 404, 'NotFound', 'the server could not find the requested resource');
    // Namespaces are cluster-scoped: their namespace part is ''. Across all namespaces: null.
    const ns = resource === 'namespaces' ? '' : allNamespaces ? null : route!.ns!;
    const notFound = (n: string) => this.#status(res, 404, 'NotFound', `${resource} "${n}" not found`, { name: n, kind: resource });
    if (verb === 'LIST' || verb === 'WATCH') {
      const spec = { resource, ns, labels: url.searchParams.get('labelSelector') ?? '', fields: url.searchParams.get('fieldSelector') ?? '' };
      if (verb === 'WATCH') return this.#watches.serve(res, spec, url.searchParams.get('resourceVersion') ?? '', Number(url.searchParams.get('timeoutSeconds') ?? 0));
      const items = this.#store.list(resource, ns).filter((o) => matches(o, spec.labels, spec.fields));
      return this.#json(res, 200, { kind: `${KINDS[resource]}List`, apiVersion: 'v1', metadata: { resourceVersion: this.#store.version }, items });
    }
    if (ns === null) return this.#status(res, 405, 'MethodNotAllowed', `${req.method} is not supported on ${url.pathname}`);
    if (verb === 'GET') return this.#store.get(resource, ns, name!) ? this.#json(res, 200, this.#store.get(resource, ns, name!)) : notFound(name!);
    if (verb === 'DELETE') {
      const obj = this.#store.get(resource, ns, name!);
      if (!obj) return notFound(name!);
      const grace = Number(url.searchParams.get('gracePeriodSeconds') ?? 30);
      if (resource === 'pods') return this.#json(res, 200, this.#kubelet.deletePod(ns, name!, grace).marked);
      if (resource === 'namespaces') return this.#json(res, 200, this.#deleteNamespace(name!));
      this.#store.remove(resource, ns, name!);
      return this.#json(res, 200, obj);
    }
    if (verb !== 'POST' || name) return this.#status(res, 405, 'MethodNotAllowed', `${req.method} is not supported here`);
    const body = JSON.parse(await readBody(req)) as Obj;
    const objName = body.metadata?.name as string | undefined;
    const validName = resource === 'namespaces' ? DNS_LABEL.test(objName ?? '') && objName!.length <= 63 : /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(objName ?? '');
    if (!objName || !validName) {
      return this.#status(res, 422, 'Invalid', `${KINDS[resource]} "${objName ?? ''}" is invalid: metadata.name: Invalid value: a lowercase RFC 1123 ${resource === 'namespaces' ? 'label' : 'subdomain'} must consist of lower case alphanumeric characters, '-' or '.'`);
    }
    if (this.#store.get(resource, ns, objName)) return this.#status(res, 409, 'AlreadyExists', `${resource} "${objName}" already exists`, { name: objName, kind: resource });
    if (resource === 'namespaces') return this.#json(res, 201, this.#createNamespace(body));
    const home = this.namespace(ns);
    if (this.#strictNamespaces && !home) return this.#status(res, 404, 'NotFound', `namespaces "${ns}" not found`, { name: ns, kind: 'namespaces' });
    if (home?.metadata.deletionTimestamp) {
      return this.#status(res, 403, 'Forbidden', `${resource} "${objName}" is forbidden: unable to create new content in namespace ${ns} because it is being terminated`, { name: objName, kind: resource });
    }
    if (resource === 'pods' && this.quotaExceeded) {
      return this.#status(res, 403, 'Forbidden', `pods "${objName}" is forbidden: exceeded quota: user-quota, requested: limits.memory=1Gi, used: limits.memory=8Gi, limited: limits.memory=8Gi`, { name: objName, kind: 'pods' });
    }
    const obj: Obj = { ...body, apiVersion: 'v1', kind: KINDS[resource], metadata: { ...body.metadata, namespace: ns, uid: randomUUID(), creationTimestamp: new Date().toISOString() } };
    if (resource === 'pods') {
      await this.#kubelet.admit(obj);
      obj.status = { phase: 'Pending', qosClass: 'Burstable' };
    }
    if (resource === 'persistentvolumeclaims') obj.status = { phase: 'Pending' };
    const stored = this.#store.put(resource, ns, obj, 'ADDED');
    if (resource === 'pods') this.#kubelet.schedule(ns, objName, this.scenarios.get(objName) ?? this.defaultScenario);
    return this.#json(res, 201, stored);
  }

  #createNamespace(body: Obj): Obj {
    const obj: Obj = { ...body, apiVersion: 'v1', kind: 'Namespace', metadata: { ...body.metadata, uid: randomUUID(), creationTimestamp: new Date().toISOString() }, spec: { finalizers: ['kubernetes'] }, status: { phase: 'Active' } };
    return this.#store.put('namespaces', '', obj, 'ADDED');
  }

  /** Terminating (MODIFIED) at once; its pods deleted gracefully, everything else removed; then DELETED. */
  #deleteNamespace(name: string): Obj {
    const current = this.namespace(name)!;
    if (current.metadata.deletionTimestamp) return current;
    const marked = this.#store.update('namespaces', '', name, (x) => {
      x.metadata.deletionTimestamp = new Date().toISOString();
      x.status = { phase: 'Terminating' };
    })!;
    const pods = this.#store.list('pods', name).map((p) => this.#kubelet.deletePod(name, p.metadata.name, 0).gone);
    void Promise.all(pods).then(() => {
      for (const resource of NAMESPACED_RESOURCES) for (const o of this.#store.list(resource, name)) this.#store.remove(resource, name, o.metadata.name);
      this.#store.remove('namespaces', '', name);
    });
    return marked;
  }

  #json(res: http.ServerResponse, code: number, body: unknown): void {
    res.writeHead(code, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  }

  #status(res: http.ServerResponse, code: number, reason: string, message: string, details?: object): void {
    this.#json(res, code, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, ...(details ? { details } : {}), code });
  }
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let data = '';
    req.on('data', (c: Buffer) => (data += c.toString()));
    req.on('end', () => resolve(data));
    req.on('error', reject);
  });
}
