import type { CoreV1Api, CoreV1Event, KubeConfig, KubernetesObject, V1Pod } from '@kubernetes/client-node';
import { HubError, type JsonObject, type PluginLogger, type SpawnerShared, type SpawnUser } from '@tshub/plugin-api';
import type { KubeSpawnerConfig } from './config.js';
import { apiStatusOf, loadKubeConfig, resolveNamespace } from './kube-client.js';
import { COMPONENT_LABEL, POD_COMPONENT } from './pod-manifest.js';
import { checkProfileOption, normalizeProfiles, profileForm, type Profile } from './profiles.js';
import { Reflector } from './reflector.js';

/** Five minutes: watches are trusted for that long before a full re-list (one LIST per kind). */
const DEFAULT_RELIST_SECONDS = 300;

/**
 * The hub-lifetime half of the kubernetes kind: one API client, one pod reflector and one event
 * reflector, shared by every user's spawner; the profile list; the image override. The reflectors
 * cover the hub's namespace, or, with enable_user_namespaces, every namespace (still one watch per
 * kind, as KubeSpawner: a watch per user namespace would not scale to a class).
 */
export class KubeShared implements SpawnerShared {
  readonly core: CoreV1Api;
  /** The hub's namespace: user pods go here unless enable_user_namespaces is set. */
  readonly namespace: string;
  /** Whether each user's objects go into a namespace of their own (and the caches are cluster-wide). */
  readonly userNamespaces: boolean;
  readonly pods: Reflector<V1Pod>;
  /** Null when events_enabled is false: no progress from events, no event-based failure detail. */
  readonly events: Reflector<CoreV1Event> | null;
  readonly profiles: Profile[];
  readonly log: PluginLogger;
  #image: string | null = null;

  private constructor(config: KubeSpawnerConfig, log: PluginLogger, kc: KubeConfig, k8s: typeof import('@kubernetes/client-node')) {
    this.log = log;
    this.profiles = normalizeProfiles(config.profile_list ?? []);
    this.namespace = resolveNamespace(config, kc);
    this.userNamespaces = config.enable_user_namespaces === true;
    this.core = kc.makeApiClient(k8s.CoreV1Api);
    const watch = new k8s.Watch(kc);
    const relistMs = (config.reflector_relist_seconds ?? DEFAULT_RELIST_SECONDS) * 1000;
    const namespace = this.namespace;
    const all = this.userNamespaces;
    const base = all ? '/api/v1' : `/api/v1/namespaces/${namespace}`;
    const labelSelector = `${COMPONENT_LABEL}=${POD_COMPONENT}`;
    this.pods = new Reflector<V1Pod>({
      kind: 'pods', path: `${base}/pods`, watch, labelSelector, log, relistMs,
      list: () => (all ? this.core.listPodForAllNamespaces({ labelSelector }) : this.core.listNamespacedPod({ namespace, labelSelector })),
    });
    const fieldSelector = 'involvedObject.kind=Pod';
    this.events = config.events_enabled === false ? null : new Reflector<CoreV1Event>({
      kind: 'events', path: `${base}/events`, watch, fieldSelector, log, relistMs,
      list: () => (all ? this.core.listEventForAllNamespaces({ fieldSelector }) : this.core.listNamespacedEvent({ namespace, fieldSelector })),
    });
  }

  /** Connects and fills both caches; a cluster that cannot be listed stops the hub with the reason. */
  static async open(config: KubeSpawnerConfig, log: PluginLogger): Promise<KubeShared> {
    const hook: unknown = config.modify_pod_hook;
    // JSON Schema cannot say "a function": a YAML value here would otherwise fail every spawn.
    if (hook !== undefined && hook !== null && typeof hook !== 'function') {
      throw new HubError(500, 'spawner.modify_pod_hook: must be a function (define it in a .js or .ts config file)');
    }
    const k8s = await import('@kubernetes/client-node');
    const shared = new KubeShared(config, log, await loadKubeConfig(config), k8s);
    try {
      await Promise.all([shared.pods.start(), shared.events?.start()]);
    } catch (err) {
      await shared.close();
      const status = apiStatusOf(err);
      const why = status ? `HTTP ${status.code}: ${status.message}` : (err as Error).message;
      const where = shared.userNamespaces ? 'in all namespaces (enable_user_namespaces)' : `in namespace '${shared.namespace}'`;
      const rbac = shared.userNamespaces ? "the hub's ClusterRole (deploy/kubernetes/components/user-namespaces)" : "the hub's RBAC role";
      throw new HubError(500, `spawner: cannot list pods and events ${where} of the Kubernetes API (${why}). Check api_url/kubeconfig and ${rbac}.`);
    }
    log.info({ namespace: shared.userNamespaces ? '(all)' : shared.namespace, pods: shared.pods.list().length }, 'Kubernetes pod and event caches ready');
    return shared;
  }

  async close(): Promise<void> {
    await Promise.all([this.pods.close(), this.events?.close()]);
  }

  optionsForm(user: SpawnUser): string | null {
    return profileForm(this.profiles, user);
  }

  checkUserOptions(options: JsonObject, user: SpawnUser): JsonObject {
    return checkProfileOption(this.profiles, options, user);
  }

  setImage(image: string | null): void {
    this.#image = image;
  }

  /** The image set at run time (rolling update), which replaces the configured one for new servers. */
  get imageOverride(): string | null {
    return this.#image;
  }

  imageOf(state: JsonObject): string | null {
    return typeof state.image === 'string' ? state.image : null;
  }

  /**
   * Resolves with the first non-undefined value of `check`, evaluated now and after every change in
   * the caches that `relevant` accepts: waiting costs no API request. Rejects when `signal` aborts.
   */
  waitFor<R>(check: () => R | undefined, signal?: AbortSignal, relevant: (obj: KubernetesObject) => boolean = () => true): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      const first = check();
      if (first !== undefined) return resolve(first);
      const onChange = (_type: string, obj: KubernetesObject) => {
        // Many servers wait at once: only changes about this one are worth a look.
        if (!relevant(obj)) return;
        let value: R | undefined;
        try {
          value = check();
        } catch (err) {
          done();
          return reject(err);
        }
        if (value !== undefined) {
          done();
          resolve(value);
        }
      };
      const onAbort = () => {
        done();
        reject(signal?.reason ?? new Error('aborted'));
      };
      const unsubscribes = [this.pods.subscribe(onChange), ...(this.events ? [this.events.subscribe(onChange)] : [])];
      const done = () => {
        for (const u of unsubscribes) u();
        signal?.removeEventListener('abort', onAbort);
      };
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}
