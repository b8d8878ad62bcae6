import type { CoreV1Event, KubernetesObject, V1Pod } from '@kubernetes/client-node';
import { HubError, ProgressQueue, SpawnError, type JsonObject, type PollResult, type ProgressEvent, type SpawnContext, type Spawner } from '@tshub/plugin-api';
import { applyOverride, resolvePodOptions, wantsPvc, type KubeSpawnerConfig, type PodOptions } from './config.js';
import { apiStatusOf } from './kube-client.js';
import { objectName, templateNames } from './names.js';
import { applyPodHook } from './pod-hook.js';
import { buildPod, NOTEBOOK_CONTAINER, podEnv, type ManifestNames } from './pod-manifest.js';
import { eventMessage, eventsFor, pollView, startView } from './pod-status.js';
import { chosenProfile } from './profiles.js';
import type { KubeShared } from './shared.js';
import { buildPvc, buildService, serviceHost } from './storage-service-manifests.js';
import { buildNamespace, deleteUserNamespace, ensureNamespace, namespacePerServer, userNamespaceName } from './user-namespace.js';

const str = (v: unknown): string | null => (typeof v === 'string' && v ? v : null);
const isQuota = (message: string) => /exceeded quota/i.test(message);

/**
 * One user server as a pod (KubeSpawner), in the hub's namespace or, with enable_user_namespaces, in
 * the user's own. Waits only on the shared watch caches: after `start` has created its objects it
 * makes no further request until `stop`.
 */
export class KubeSpawner implements Spawner {
  readonly #ctx: SpawnContext<KubeSpawnerConfig, KubeShared>;
  readonly #shared: KubeShared;
  readonly #names: ManifestNames;
  #podUid: string | undefined;
  #image: string | null;
  #pvcCreated: boolean;
  readonly #feed = new ProgressQueue();

  constructor(ctx: SpawnContext<KubeSpawnerConfig, KubeShared>) {
    this.#ctx = ctx;
    this.#shared = ctx.shared;
    const s = ctx.state;
    const hubNs = ctx.shared.namespace;
    // The persisted namespace wins: a pod started before the option changed is still found.
    const namespace = str(s.namespace) ?? (ctx.shared.userNamespaces ? userNamespaceName(ctx.config, hubNs, ctx.user.name, ctx.serverName) : hubNs);
    const names = templateNames(ctx.user.name, ctx.serverName, namespace, hubNs);
    const base = resolvePodOptions(ctx.config, ctx.common);
    // Names persisted by an earlier start win over the templates, so a changed template orphans nothing.
    this.#names = {
      names, namespace, userName: ctx.user.name, serverName: ctx.serverName,
      podName: str(s.pod_name) ?? objectName(base.pod_name_template, names),
      pvcName: str(s.pvc_name) ?? objectName(base.pvc_name_template, names),
    };
    this.#podUid = str(s.pod_uid) ?? undefined;
    this.#image = str(s.image);
    this.#pvcCreated = str(s.pvc_name) !== null;
    if (namespace !== hubNs && !ctx.shared.userNamespaces) ctx.log.warn({ namespace, watched: hubNs }, 'this server\'s pod is in a namespace the hub no longer watches');
  }

  /** The options for this spawn: config, then the run-time image, then the chosen profile. */
  #options(): PodOptions {
    let o = resolvePodOptions(this.#ctx.config, this.#ctx.common);
    if (this.#shared.imageOverride) o = { ...o, image: this.#shared.imageOverride };
    const profile = chosenProfile(this.#shared.profiles, this.#ctx.userOptions, this.#ctx.user);
    if (profile?.kubespawner_override) o = applyOverride(o, profile.kubespawner_override);
    return o;
  }

  async start(signal: AbortSignal): Promise<{ url: string }> {
    try {
      return await this.#start(signal);
    } finally {
      this.#feed.end();
    }
  }

  async #start(signal: AbortSignal): Promise<{ url: string }> {
    let o: PodOptions;
    try {
      o = this.#options();
    } catch (err) {
      // The profile was checked when the spawn was requested; groups or the profile list changed since.
      if (err instanceof HubError) throw new SpawnError('profile', err.message, { status: err.status });
      throw err;
    }
    const m = this.#names;
    this.#image = o.image;
    // Events already recorded about an earlier pod of the same name are not this spawn's progress.
    const before = new Set(this.#podEvents(undefined).map((e) => e.metadata?.uid));
    // The hook runs before anything is created: a hook that throws leaves nothing behind.
    const pod = await applyPodHook(this.#ctx.config.modify_pod_hook, buildPod(o, m, podEnv(this.#ctx.env, o, this.#ctx.servicePrefix)), {
      userName: m.userName, serverName: m.serverName, userOptions: this.#ctx.userOptions, namespace: m.namespace,
    });
    if (this.#shared.userNamespaces && m.namespace !== this.#shared.namespace) await ensureNamespace(this.#shared.core, buildNamespace(this.#ctx.config, m.namespace, m.names), this.#ctx.log);
    if (wantsPvc(o)) await this.#ensurePvc(o);
    signal.throwIfAborted();
    const created = await this.#createPod(pod, signal);
    this.#podUid = created.metadata?.uid;
    this.#ctx.log.info({ pod: m.podName, namespace: m.namespace, image: o.image }, 'pod created');
    this.#feed.push({ progress: 5, message: `Pod ${m.podName} created, waiting for it to be scheduled` });
    if (o.services_enabled && this.#podUid) await this.#ensureService(o, this.#podUid);

    const stopEvents = this.#forwardEvents(before);
    let seen = false;
    try {
      const view = await this.#shared.waitFor(() => {
        const cached = this.#shared.pods.get(m.namespace, m.podName);
        const pod = cached && (!this.#podUid || cached.metadata?.uid === this.#podUid) ? cached : undefined;
        // The create answer can beat the watch event: absent means deleted only once the pod was seen.
        if (!pod && !seen) return undefined;
        seen = true;
        const v = startView(pod, this.#podEvents(this.#podUid), o.image);
        return v.state === 'waiting' ? undefined : v;
      }, signal, (obj) => this.#concernsPod(obj));
      if (view.state === 'failed') throw new SpawnError(view.reason, view.message);
      if (view.state !== 'running') throw new Error('unreachable');
      const port = this.#containerPort(this.#shared.pods.get(m.namespace, m.podName) ?? created) ?? o.port;
      const host = o.services_enabled ? serviceHost(m) : view.podIP.includes(':') ? `[${view.podIP}]` : view.podIP;
      return { url: `http://${host}:${port}` };
    } finally {
      stopEvents();
    }
  }

  /**
   * The notebook port as the API server stored it: an admission webhook (or the test fake, which gives
   * each pod its own port on 127.0.0.1) may have moved it.
   */
  #containerPort(pod: V1Pod): number | undefined {
    const c = pod.spec?.containers.find((x) => x.name === NOTEBOOK_CONTAINER);
    return c?.ports?.[0]?.containerPort;
  }

  #podEvents(uid: string | undefined): CoreV1Event[] {
    return this.#shared.events ? eventsFor(this.#shared.events.list(), this.#names.podName, uid, this.#names.namespace) : [];
  }

  /** Turns each new event about the pod into a progress step closing a third of the gap to 90 %. */
  #forwardEvents(skip: Set<string | undefined>): () => void {
    if (!this.#shared.events) return () => undefined;
    let progress = 5;
    const shown = new Set<string>();
    const flush = () => {
      for (const e of this.#podEvents(this.#podUid)) {
        const key = `${e.metadata?.uid}/${e.count ?? 1}`;
        if (skip.has(e.metadata?.uid) || shown.has(key)) continue;
        shown.add(key);
        progress += (90 - progress) / 3;
        this.#feed.push({ progress: Math.round(progress), message: eventMessage(e) });
      }
    };
    flush();
    return this.#shared.events.subscribe((_type, e) => {
      if (this.#concernsPod(e)) flush();
    });
  }

  /** Whether a changed pod or event is about this server's pod (by name: a new pod reuses it). */
  #concernsPod(obj: KubernetesObject): boolean {
    const { podName, namespace } = this.#names;
    const about = (obj as Partial<CoreV1Event>).involvedObject;
    const target = about ?? obj.metadata;
    return target?.name === podName && (!target.namespace || target.namespace === namespace);
  }

  async #ensurePvc(o: PodOptions): Promise<void> {
    const m = this.#names;
    try {
      await this.#shared.core.createNamespacedPersistentVolumeClaim({ namespace: m.namespace, body: buildPvc(o, m) });
      this.#ctx.log.info({ pvc: m.pvcName }, 'PVC created');
    } catch (err) {
      const status = apiStatusOf(err);
      if (status?.code !== 409) throw this.#apiFailure('PVC', status, err);
    }
    this.#pvcCreated = true;
  }

  async #createPod(pod: V1Pod, signal: AbortSignal): Promise<V1Pod> {
    const m = this.#names;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.#shared.core.createNamespacedPod({ namespace: m.namespace, body: pod });
      } catch (err) {
        const status = apiStatusOf(err);
        // A pod left from an earlier run (the hub lost track of it): delete it and create ours, once.
        if (status?.code === 409 && attempt === 0) {
          this.#ctx.log.warn({ pod: m.podName }, 'a pod of this name exists already; deleting it first');
          await this.#deletePod(0, signal);
          continue;
        }
        throw this.#apiFailure('pod', status, err);
      }
    }
  }

  async #ensureService(o: PodOptions, uid: string): Promise<void> {
    try {
      await this.#shared.core.createNamespacedService({ namespace: this.#names.namespace, body: buildService(o, this.#names, uid) });
    } catch (err) {
      const status = apiStatusOf(err);
      if (status?.code !== 409) throw this.#apiFailure('service', status, err);
    }
  }

  #apiFailure(what: string, status: ReturnType<typeof apiStatusOf>, err: unknown): Error {
    if (!status) return err instanceof Error ? err : new Error(String(err));
    if (status.code === 403 && isQuota(status.message)) {
      return new SpawnError('quota-exceeded', `The namespace's resource quota is used up, so no ${what} can be created now: ${status.message}`, { status: 403 });
    }
    return new SpawnError('kubernetes-refused', `Kubernetes refused to create the ${what} (HTTP ${status.code}): ${status.message}`, { logMessage: JSON.stringify(status) });
  }

  /** Deletes the pod (404 is fine) and waits until the watch reports it gone. */
  async #deletePod(graceSeconds: number, signal?: AbortSignal): Promise<void> {
    const m = this.#names;
    try {
      await this.#shared.core.deleteNamespacedPod({ name: m.podName, namespace: m.namespace, gracePeriodSeconds: graceSeconds });
    } catch (err) {
      const status = apiStatusOf(err);
      if (status?.code !== 404) throw err;
    }
    const limit = AbortSignal.timeout((graceSeconds + 30) * 1000);
    const both = signal ? AbortSignal.any([signal, limit]) : limit;
    await this.#shared.waitFor(() => (this.#shared.pods.get(m.namespace, m.podName) ? undefined : true), both, (obj) => this.#concernsPod(obj)).catch((err: unknown) => {
      if (signal?.aborted) throw err;
      this.#ctx.log.warn({ pod: m.podName }, 'the pod was deleted but still shows in the watch cache; moving on');
    });
  }

  async stop(opts: { now: boolean }): Promise<void> {
    const o = resolvePodOptions(this.#ctx.config, this.#ctx.common);
    await this.#deletePod(opts.now ? 0 : o.delete_grace_period);
  }

  poll(): Promise<PollResult> {
    return Promise.resolve(pollView(this.#shared.pods.get(this.#names.namespace, this.#names.podName)));
  }

  state(): JsonObject {
    const m = this.#names;
    return {
      pod_name: m.podName,
      namespace: m.namespace,
      ...(this.#podUid ? { pod_uid: this.#podUid } : {}),
      ...(this.#pvcCreated && m.pvcName ? { pvc_name: m.pvcName } : {}),
      ...(this.#image ? { image: this.#image } : {}),
    };
  }

  progress(): AsyncIterable<ProgressEvent> {
    return this.#feed;
  }

  /**
   * Removes the user's PVC (only with `delete_pvc: true`: student work is not deleted by default) and
   * the user's namespace (only with `delete_user_namespace: true`). A per-user namespace goes when the
   * user is deleted (the hub removes the default server only then), not with one named server.
   */
  async deleteForever(): Promise<void> {
    const m = this.#names;
    const c = this.#ctx.config;
    if (c.delete_pvc && m.pvcName && (this.#pvcCreated || wantsPvc(resolvePodOptions(c, this.#ctx.common)))) {
      try {
        await this.#shared.core.deleteNamespacedPersistentVolumeClaim({ name: m.pvcName, namespace: m.namespace });
        this.#ctx.log.info({ pvc: m.pvcName }, 'PVC deleted');
      } catch (err) {
        if (apiStatusOf(err)?.code !== 404) throw err;
      }
    }
    const hubNs = this.#shared.namespace;
    const ownNamespace = m.serverName === '' || namespacePerServer(c, hubNs, m.userName, m.serverName);
    if (c.delete_user_namespace && this.#shared.userNamespaces && m.namespace !== hubNs && ownNamespace) {
      await deleteUserNamespace(this.#shared.core, m.namespace, hubNs, this.#ctx.log);
    }
  }
}
