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
 * reflector for the namespace, shared by every user's spawner; the profile list; the image override.
 */
export class KubeShared implements SpawnerShared {
  readonly core: CoreV1Api;
  readonly namespace: string;
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
    this.core = kc.makeApiClient(k8s.CoreV1Api);
    const watch = new k8s.Watch(kc);
    const relistMs = (config.reflector_relist_seconds ?? DEFAULT_RELIST_SECONDS) * 1000;
    const namespace = this.namespace;
    const labelSelector = `${COMPONENT_LABEL}=${POD_COMPONENT}`;
    this.pods = new Reflector<V1Pod>({
      kind: 'pods', path: `/api/v1/namespaces/${namespace}/pods`, watch, labelSelector, log, relistMs,
      list: () => this.core.listNamespacedPod({ namespace, labelSelector }),
    });
    const fieldSelector = 'involvedObject.kind=Pod';
    this.events = config.events_enabled === false ? null : new Reflector<CoreV1Event>({
      kind: 'events', path: `/api/v1/namespaces/${namespace}/events`, watch, fieldSelector, log, relistMs,
      list: () => this.core.listNamespacedEvent({ namespace, fieldSelector }),
    });
  }

  /** Connects and fills both caches; a cluster that cannot be listed stops the hub with the reason. */
  static async open(config: KubeSpawnerConfig, log: PluginLogger): Promise<KubeShared> {
    const k8s = await import('@kubernetes/client-node');
    const shared = new KubeShared(config, log, await loadKubeConfig(config), k8s);
    try {
      await Promise.all([shared.pods.start(), shared.events?.start()]);
    } catch (err) {
      await shared.close();
      const status = apiStatusOf(err);
      const why = status ? `HTTP ${status.code}: ${status.message}` : (err as Error).message;
      throw new HubError(500, `spawner: cannot list pods and events in namespace '${shared.namespace}' of the Kubernetes API (${why}). Check api_url/kubeconfig and the hub's RBAC role.`);
    }
    log.info({ namespace: shared.namespace, pods: shared.pods.list().length }, 'Kubernetes pod and event caches ready');
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
