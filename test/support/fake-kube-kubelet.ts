import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { FakeKubeStore, Obj } from './fake-kube-store.js';
import { freePort } from './free-port.js';

export type PodScenario = 'run' | 'image-pull-backoff' | 'unschedulable' | 'pending';

export interface KubeletOptions {
  stepMs: number;
  runContainers: boolean;
  maxGraceMs: number;
}

interface Container { proc: ChildProcess; home: string; exited: Promise<void>; output: string }

/**
 * The scheduler, kubelet and garbage collector of the fake API server. A created pod moves through
 * Scheduled, Pulling, Pulled, Created, Started (as Events) to Running, or into ImagePullBackOff /
 * Unschedulable; with runContainers its notebook container runs as a local process. Deleting a pod
 * is graceful (deletionTimestamp, the container stopped, then DELETED) and takes owned Services along.
 */
export class FakeKubelet {
  readonly #store: FakeKubeStore;
  readonly #o: KubeletOptions;
  readonly #containers = new Map<string, Container>();
  readonly #timers = new Set<NodeJS.Timeout>();
  /** Ports handed out: a port freed by freePort() can come back to a concurrent caller. */
  readonly #ports = new Set<number>();

  constructor(store: FakeKubeStore, opts: KubeletOptions) {
    this.#store = store;
    this.#o = opts;
  }

  /**
   * The port webhook: every pod's IP is 127.0.0.1, so each pod gets its own port, written into the
   * notebook container's containerPort and JUPYTERHUB_SERVICE_URL, as a mutating webhook would.
   */
  async admit(pod: Obj): Promise<void> {
    const c = pod.spec?.containers?.[0];
    if (!c) return;
    let port = await freePort();
    while (this.#ports.has(port)) port = await freePort();
    this.#ports.add(port);
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

  containerOutput(ns: string, pod: string): string {
    return this.#containers.get(`${ns}/${pod}`)?.output ?? '';
  }

  async close(): Promise<void> {
    for (const t of this.#timers) clearTimeout(t);
    await Promise.all([...this.#containers.keys()].map((k) => this.#stopContainer(k, 0)));
  }

  #updatePod(ns: string, name: string, change: (pod: Obj) => void): Obj | undefined {
    return this.#store.update('pods', ns, name, change);
  }

  #event(ns: string, pod: Obj, type: 'Normal' | 'Warning', reason: string, message: string, component = 'kubelet'): void {
    const now = new Date().toISOString();
    this.#store.put('events', ns, {
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

  /** One step every stepMs, as long as the pod exists and is not being deleted. */
  schedule(ns: string, name: string, scenario: PodScenario): void {
    const live = () => {
      const p = this.#store.get('pods', ns, name);
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

  /** Graceful deletion: deletionTimestamp now (MODIFIED), the container stopped, then DELETED (`gone`). */
  deletePod(ns: string, name: string, graceSeconds: number): { marked: Obj; gone: Promise<void> } {
    const current = this.#store.get('pods', ns, name)!;
    if (current.metadata.deletionTimestamp) return { marked: current, gone: this.#goneLater(ns, name, current.metadata.uid) };
    const marked = this.#updatePod(ns, name, (x) => {
      x.metadata.deletionTimestamp ??= new Date().toISOString();
      x.metadata.deletionGracePeriodSeconds = graceSeconds;
    })!;
    const gone = (async () => {
      await this.#stopContainer(`${ns}/${name}`, Math.min(graceSeconds * 1000, this.#o.maxGraceMs));
      const pod = this.#store.get('pods', ns, name);
      if (!pod || pod.metadata.uid !== marked.metadata.uid) return;
      this.#store.remove('pods', ns, name);
      // The garbage collector: objects owned by the pod go with it.
      for (const svc of this.#store.list('services', ns)) {
        if (svc.metadata.ownerReferences?.some((r: { uid: string }) => r.uid === marked.metadata.uid)) this.#store.remove('services', ns, svc.metadata.name);
      }
    })();
    return { marked, gone };
  }

  /** Resolves once the pod with this uid is no longer stored (a deletion already under way). */
  #goneLater(ns: string, name: string, uid: string): Promise<void> {
    return new Promise((resolve) => {
      const check = () => (this.#store.get('pods', ns, name)?.metadata.uid === uid ? this.#later(10, check) : resolve());
      check();
    });
  }
}
