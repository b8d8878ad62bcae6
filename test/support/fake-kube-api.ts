import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './free-port.js';

/**
 * A fake Kubernetes API server: the core/v1 subset KubeSpawner uses (create/get/delete/list/watch of
 * pods, PVCs, services and events in a namespace), with resourceVersions, `?watch=true` streams of
 * ADDED/MODIFIED/DELETED lines, a 410 for a compacted version, and Status errors (401/403/404/409/422)
 * worded as the real API words them. It counts every request, so tests can prove the spawner never
 * polls a pod. It also plays scheduler and kubelet: a created pod moves through Scheduled, Pulling,
 * Pulled, Created, Started (as Events) to Running, or into ImagePullBackOff / Unschedulable.
 *
 * Pod networking: every pod's IP is 127.0.0.1, so the fake gives each pod its own port, as a mutating
 * admission webhook would on create: it rewrites the notebook container's containerPort and the port
 * (and host) of JUPYTERHUB_SERVICE_URL. The spawner connects to the port the API server stored.
 * With `runContainers`, a Running pod's container runs for real (command + args, the pod's env, a
 * temporary HOME) and is stopped when the pod is deleted.
 */

export type PodScenario = 'run' | 'image-pull-backoff' | 'unschedulable' | 'pending';
type Obj = { apiVersion?: string; kind?: string; metadata: Record<string, any>; spec?: any; status?: any; [k: string]: any };
type Resource = 'pods' | 'persistentvolumeclaims' | 'services' | 'events';
const KINDS: Record<Resource, string> = { pods: 'Pod', persistentvolumeclaims: 'PersistentVolumeClaim', services: 'Service', events: 'Event' };

export interface FakeKubeOptions {
  /** Milliseconds between two lifecycle steps of a pod (default 40). */
  stepMs?: number;
  /** Run a Running pod's notebook container as a local process (default true). */
  runContainers?: boolean;
  /** Cap on a deleting pod's grace period, so tests stay fast (default 2000 ms). */
  maxGraceMs?: number;
}

interface Watcher { resource: Resource; ns: string; labels: string; fields: string; res: http.ServerResponse }
interface Container { proc: ChildProcess; home: string; exited: Promise<void>; output: string }

export class FakeKubeApi {
  readonly token = randomBytes(12).toString('hex');
  url = '';
  /** Requests by `VERB resource` or `VERB resource/:name`: LIST, WATCH, GET, POST, DELETE. */
  readonly requests = new Map<string, number>();
  readonly scenarios = new Map<string, PodScenario>();
  defaultScenario: PodScenario = 'run';
  /** When set, creating a pod answers 403 Forbidden "exceeded quota", as a ResourceQuota does. */
  quotaExceeded = false;
  readonly #store = new Map<string, Obj>();
  readonly #history: { rv: number; type: string; resource: Resource; obj: Obj }[] = [];
  readonly #watchers = new Set<Watcher>();
  readonly #containers = new Map<string, Container>();
  readonly #timers = new Set<NodeJS.Timeout>();
  #rv = 1000;
  #compactedBefore = 0;
  #server: http.Server | null = null;
  readonly #o: Required<FakeKubeOptions>;

  constructor(opts: FakeKubeOptions = {}) {
    this.#o = { stepMs: 40, runContainers: true, maxGraceMs: 2000, ...opts };
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
    for (const t of this.#timers) clearTimeout(t);
    for (const w of this.#watchers) w.res.end();
    this.#watchers.clear();
    await Promise.all([...this.#containers.keys()].map((k) => this.#stopContainer(k, 0)));
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

  /** The stored objects of a kind in a namespace. */
  objects(resource: Resource, ns = 'default'): Obj[] {
    return [...this.#store.entries()].filter(([k]) => k.startsWith(`${resource}/${ns}/`)).map(([, v]) => v);
  }

  /** Forgets history older than now: a watch resuming from an older version gets 410 Gone. */
  compactHistory(): void {
    this.#compactedBefore = ++this.#rv;
  }

  /** How many watch streams are open now. */
  get openWatches(): number {
    return this.#watchers.size;
  }

  /** Ends every open watch, as an API server does when it restarts or times a watch out. */
  dropWatches(): void {
    for (const w of this.#watchers) w.res.end();
    this.#watchers.clear();
  }

  /** What a running container printed (for test failure messages). */
  containerOutput(ns: string, pod: string): string {
    return this.#containers.get(`${ns}/${pod}`)?.output ?? '';
  }

  async #handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    const m = /^\/api\/v1\/namespaces\/([^/]+)\/(pods|persistentvolumeclaims|services|events)(?:\/([^/]+))?$/.exec(url.pathname);
    const watch = url.searchParams.get('watch') === 'true';
    const verb = req.method === 'GET' ? (m?.[3] ? 'GET' : watch ? 'WATCH' : 'LIST') : (req.method ?? 'GET');
    const key = `${verb} ${m ? `${m[2]}${m[3] ? '/:name' : ''}` : url.pathname}`;
    this.requests.set(key, this.count(key) + 1);
    if (req.headers.authorization !== `Bearer ${this.token}`) return this.#status(res, 401, 'Unauthorized', 'Unauthorized');
    if (!m) return this.#status(res, 404, 'NotFound', 'the server could not find the requested resource');
    const [, ns, resource, name] = m as unknown as [string, string, Resource, string | undefined];
    const id = (n: string) => `${resource}/${ns}/${n}`;
    const notFound = (n: string) => this.#status(res, 404, 'NotFound', `${resource} "${n}" not found`, { name: n, kind: resource });
    if (verb === 'LIST' || verb === 'WATCH') {
      const labels = url.searchParams.get('labelSelector') ?? '';
      const fields = url.searchParams.get('fieldSelector') ?? '';
      const items = this.objects(resource, ns).filter((o) => matches(o, labels, fields));
      if (verb === 'LIST') return this.#json(res, 200, { kind: `${KINDS[resource]}List`, apiVersion: 'v1', metadata: { resourceVersion: String(this.#rv) }, items });
      return this.#watch(res, { resource, ns, labels, fields, res }, url.searchParams.get('resourceVersion') ?? '', items, Number(url.searchParams.get('timeoutSeconds') ?? 0));
    }
    if (verb === 'GET') return this.#store.has(id(name!)) ? this.#json(res, 200, this.#store.get(id(name!))) : notFound(name!);
    if (verb === 'DELETE') {
      const obj = this.#store.get(id(name!));
      if (!obj) return notFound(name!);
      const grace = Number(url.searchParams.get('gracePeriodSeconds') ?? 30);
      if (resource === 'pods') return this.#json(res, 200, this.#deletePod(ns, name!, grace));
      this.#remove(resource, ns, name!);
      return this.#json(res, 200, obj);
    }
    if (verb !== 'POST' || name) return this.#status(res, 405, 'MethodNotAllowed', `${req.method} is not supported here`);
    const body = JSON.parse(await readBody(req)) as Obj;
    const objName = body.metadata?.name as string | undefined;
    if (!objName || !/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(objName)) {
      return this.#status(res, 422, 'Invalid', `${KINDS[resource]} "${objName ?? ''}" is invalid: metadata.name: Invalid value: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.'`);
    }
    if (this.#store.has(id(objName))) return this.#status(res, 409, 'AlreadyExists', `${resource} "${objName}" already exists`, { name: objName, kind: resource });
    if (resource === 'pods' && this.quotaExceeded) {
      return this.#status(res, 403, 'Forbidden', `pods "${objName}" is forbidden: exceeded quota: user-quota, requested: limits.memory=1Gi, used: limits.memory=8Gi, limited: limits.memory=8Gi`, { name: objName, kind: 'pods' });
    }
    const obj: Obj = { ...body, apiVersion: 'v1', kind: KINDS[resource], metadata: { ...body.metadata, namespace: ns, uid: randomUUID(), creationTimestamp: new Date().toISOString() } };
    if (resource === 'pods') {
      await this.#admitPod(obj);
      obj.status = { phase: 'Pending', qosClass: 'Burstable' };
    }
    if (resource === 'persistentvolumeclaims') obj.status = { phase: 'Pending' };
    this.#put(resource, ns, obj, 'ADDED');
    if (resource === 'pods') this.#schedule(ns, objName, this.scenarios.get(objName) ?? this.defaultScenario);
    return this.#json(res, 201, obj);
  }

  /** The port webhook (see the class comment). */
  async #admitPod(pod: Obj): Promise<void> {
    const c = pod.spec?.containers?.[0];
    if (!c) return;
    const port = await freePort();
    c.ports = [{ ...(c.ports?.[0] ?? { name: 'notebook-port', protocol: 'TCP' }), containerPort: port }];
    for (const e of c.env ?? []) {
      if (e.name === 'JUPYTERHUB_SERVICE_URL') {
        const u = new URL(e.value);
        u.hostname = '127.0.0.1';
        u.port = String(port);
        e.value = u.href;
      }
    }
  }

  #watch(res: http.ServerResponse, w: Watcher, from: string, current: Obj[], timeoutSeconds: number): void {
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    // Headers go out at once, as the API server sends them: the client's watch call returns on them.
    res.flushHeaders();
    const line = (type: string, object: unknown) => res.write(JSON.stringify({ type, object }) + '\n');
    if (from === '' || from === '0') {
      for (const o of current) line('ADDED', o);
    } else if (Number(from) < this.#compactedBefore) {
      line('ERROR', { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', reason: 'Expired', code: 410, message: `too old resource version: ${from} (${this.#compactedBefore})` });
      res.end();
      return;
    } else {
      for (const h of this.#history) if (h.rv > Number(from) && h.resource === w.resource && h.obj.metadata.namespace === w.ns && matches(h.obj, w.labels, w.fields)) line(h.type, h.obj);
    }
    this.#watchers.add(w);
    res.on('close', () => this.#watchers.delete(w));
    if (timeoutSeconds > 0) this.#later(timeoutSeconds * 1000, () => void res.end());
  }

  #put(resource: Resource, ns: string, obj: Obj, type: 'ADDED' | 'MODIFIED' | 'DELETED'): void {
    obj.metadata.resourceVersion = String(++this.#rv);
    const snapshot = structuredClone(obj);
    if (type === 'DELETED') this.#store.delete(`${resource}/${ns}/${obj.metadata.name}`);
    else this.#store.set(`${resource}/${ns}/${obj.metadata.name}`, snapshot);
    this.#history.push({ rv: this.#rv, type, resource, obj: snapshot });
    for (const w of this.#watchers) {
      if (w.resource === resource && w.ns === ns && matches(snapshot, w.labels, w.fields)) w.res.write(JSON.stringify({ type, object: snapshot }) + '\n');
    }
  }

  #remove(resource: Resource, ns: string, name: string): void {
    const obj = this.#store.get(`${resource}/${ns}/${name}`);
    if (obj) this.#put(resource, ns, structuredClone(obj), 'DELETED');
  }

  /** Applies `change` to a stored pod and publishes it (no-op once the pod is gone). */
  #updatePod(ns: string, name: string, change: (pod: Obj) => void): Obj | undefined {
    const pod = this.#store.get(`pods/${ns}/${name}`);
    if (!pod) return undefined;
    const next = structuredClone(pod);
    change(next);
    this.#put('pods', ns, next, 'MODIFIED');
    return next;
  }

  #event(ns: string, pod: Obj, type: 'Normal' | 'Warning', reason: string, message: string, component = 'kubelet'): void {
    const now = new Date().toISOString();
    this.#put('events', ns, {
      apiVersion: 'v1', kind: 'Event',
      metadata: { name: `${pod.metadata.name}.${randomBytes(8).toString('hex')}`, namespace: ns, uid: randomUUID() },
      involvedObject: { kind: 'Pod', apiVersion: 'v1', name: pod.metadata.name, namespace: ns, uid: pod.metadata.uid },
      type, reason, message, count: 1, firstTimestamp: now, lastTimestamp: now, source: { component },
    }, 'ADDED');
  }

  #later(ms: number, fn: () => void | Promise<void>): void {
    const t = setTimeout(() => {
      this.#timers.delete(t);
      void fn();
    }, ms);
    this.#timers.add(t);
  }

  /** Scheduler and kubelet: one step every stepMs, as long as the pod exists and is not being deleted. */
  #schedule(ns: string, name: string, scenario: PodScenario): void {
    const live = () => {
      const p = this.#store.get(`pods/${ns}/${name}`);
      return p && !p.metadata.deletionTimestamp ? p : undefined;
    };
    const image = () => live()?.spec.containers[0].image as string;
    const waiting = (reason: string, message?: string) => (p: Obj) => {
      p.status.containerStatuses = [{ name: p.spec.containers[0].name, image: image(), imageID: '', ready: false, restartCount: 0, started: false, state: { waiting: { reason, ...(message ? { message } : {}) } } }];
    };
    const steps: ((p: Obj) => void | Promise<void>)[] = [];
    if (scenario === 'unschedulable') {
      const why = '0/3 nodes are available: 3 Insufficient memory. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod.';
      steps.push((p) => {
        this.#updatePod(ns, name, (x) => (x.status.conditions = [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: why, lastTransitionTime: new Date().toISOString() }]));
        this.#event(ns, p, 'Warning', 'FailedScheduling', why, 'default-scheduler');
      });
    }
    if (scenario === 'run' || scenario === 'image-pull-backoff') {
      steps.push((p) => {
        this.#updatePod(ns, name, (x) => {
          x.spec.nodeName = 'fake-node-1';
          x.status.conditions = [{ type: 'PodScheduled', status: 'True', lastTransitionTime: new Date().toISOString() }];
          waiting('ContainerCreating')(x);
        });
        this.#event(ns, p, 'Normal', 'Scheduled', `Successfully assigned ${ns}/${name} to fake-node-1`, 'default-scheduler');
      });
      steps.push((p) => this.#event(ns, p, 'Normal', 'Pulling', `Pulling image "${image()}"`));
    }
    if (scenario === 'image-pull-backoff') {
      steps.push((p) => {
        const msg = `Failed to pull image "${image()}": rpc error: code = NotFound desc = failed to pull and unpack image "${image()}": not found`;
        this.#event(ns, p, 'Warning', 'Failed', msg);
        this.#updatePod(ns, name, waiting('ErrImagePull', msg));
      });
      steps.push((p) => {
        this.#event(ns, p, 'Normal', 'BackOff', `Back-off pulling image "${image()}"`);
        this.#updatePod(ns, name, waiting('ImagePullBackOff', `Back-off pulling image "${image()}"`));
      });
    }
    if (scenario === 'run') {
      steps.push((p) => this.#event(ns, p, 'Normal', 'Pulled', `Successfully pulled image "${image()}" in 1.234s (1.234s including waiting)`));
      steps.push(async (p) => {
        this.#event(ns, p, 'Normal', 'Created', 'Created container notebook');
        if (this.#o.runContainers) this.#runContainer(ns, p);
        this.#event(ns, p, 'Normal', 'Started', 'Started container notebook');
        this.#updatePod(ns, name, (x) => {
          x.status.phase = 'Running';
          x.status.podIP = '127.0.0.1';
          x.status.podIPs = [{ ip: '127.0.0.1' }];
          x.status.startTime = new Date().toISOString();
          x.status.containerStatuses = [{ name: x.spec.containers[0].name, image: image(), imageID: '', ready: true, restartCount: 0, started: true, state: { running: { startedAt: new Date().toISOString() } } }];
        });
      });
    }
    const next = (i: number) => this.#later(this.#o.stepMs, async () => {
      const p = live();
      if (!p || i >= steps.length) return;
      await steps[i]!(p);
      next(i + 1);
    });
    next(0);
  }

  #runContainer(ns: string, pod: Obj): void {
    const c = pod.spec.containers[0];
    const argv: string[] = [...(c.command ?? []), ...(c.args ?? [])];
    const home = mkdtempSync(path.join(os.tmpdir(), 'fake-kube-pod-'));
    const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home };
    for (const e of c.env ?? []) env[e.name] = e.value ?? '';
    const proc = spawn(argv[0]!, argv.slice(1), { cwd: home, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const container: Container = { proc, home, output: '', exited: new Promise((r) => proc.once('close', () => r())) };
    const keep = (d: Buffer) => (container.output = (container.output + d.toString()).slice(-4000));
    proc.stdout?.on('data', keep);
    proc.stderr?.on('data', keep);
    proc.on('error', (err) => keep(Buffer.from(String(err))));
    proc.once('close', (code, signal) => {
      // An exit the hub did not ask for: the container terminated, the pod failed (or succeeded).
      this.#updatePod(ns, pod.metadata.name, (x) => {
        if (x.metadata.deletionTimestamp) return;
        const exitCode = code ?? (signal ? 137 : 1);
        x.status.phase = exitCode === 0 ? 'Succeeded' : 'Failed';
        x.status.containerStatuses = [{ name: c.name, image: c.image, imageID: '', ready: false, restartCount: 0, started: false, state: { terminated: { exitCode, reason: exitCode === 0 ? 'Completed' : 'Error' } } }];
      });
    });
    this.#containers.set(`${ns}/${pod.metadata.name}`, container);
  }

  async #stopContainer(key: string, graceMs: number): Promise<void> {
    const c = this.#containers.get(key);
    if (!c) return;
    this.#containers.delete(key);
    if (c.proc.exitCode === null && c.proc.signalCode === null) {
      c.proc.kill('SIGTERM');
      const kill = setTimeout(() => c.proc.kill('SIGKILL'), graceMs);
      await c.exited;
      clearTimeout(kill);
    }
    rmSync(c.home, { recursive: true, force: true });
  }

  /** Graceful deletion: deletionTimestamp now (MODIFIED), the container stopped, then DELETED. */
  #deletePod(ns: string, name: string, graceSeconds: number): Obj {
    const current = this.#store.get(`pods/${ns}/${name}`)!;
    if (current.metadata.deletionTimestamp) return current;
    const marked = this.#updatePod(ns, name, (x) => {
      x.metadata.deletionTimestamp ??= new Date().toISOString();
      x.metadata.deletionGracePeriodSeconds = graceSeconds;
    })!;
    void (async () => {
      await this.#stopContainer(`${ns}/${name}`, Math.min(graceSeconds * 1000, this.#o.maxGraceMs));
      const pod = this.#store.get(`pods/${ns}/${name}`);
      if (!pod || pod.metadata.uid !== marked.metadata.uid) return;
      this.#remove('pods', ns, name);
      // The garbage collector: objects owned by the pod go with it.
      for (const svc of this.objects('services', ns)) {
        if (svc.metadata.ownerReferences?.some((r: { uid: string }) => r.uid === marked.metadata.uid)) this.#remove('services', ns, svc.metadata.name);
      }
    })();
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

/** Equality-based label and field selectors (`a=b,c!=d`; fields as dotted paths such as involvedObject.kind). */
function matches(obj: Obj, labels: string, fields: string): boolean {
  const test = (selector: string, lookup: (key: string) => unknown) =>
    selector.split(',').filter(Boolean).every((term) => {
      const [, key, op, value] = /^([^!=]+)(!=|==|=)(.*)$/.exec(term.trim()) ?? [];
      if (!key) return true;
      const actual = lookup(key) ?? '';
      return op === '!=' ? actual !== value : actual === value;
    });
  const field = (key: string) => key.split('.').reduce<any>((o, k) => (o == null ? undefined : o[k]), obj);
  return test(labels, (k) => obj.metadata.labels?.[k]) && test(fields, field);
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let data = '';
    req.on('data', (c: Buffer) => (data += c.toString()));
    req.on('end', () => resolve(data));
    req.on('error', reject);
  });
}
