import type { KubernetesObject, Watch } from '@kubernetes/client-node';
import type { PluginLogger } from '@tshub/plugin-api';
import { apiStatusOf } from './kube-client.js';

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface ReflectorOptions<T extends KubernetesObject> {
  /** For log lines: 'pods', 'events'. */
  readonly kind: string;
  /** The collection's API path: /api/v1/namespaces/jhub/pods, or /api/v1/pods for every namespace. */
  readonly path: string;
  readonly list: () => Promise<{ items: T[]; metadata?: { resourceVersion?: string } }>;
  readonly watch: Watch;
  readonly labelSelector?: string;
  readonly fieldSelector?: string;
  readonly log: PluginLogger;
  /** A full re-list this often, because a watch may silently miss an event (KubeSpawner does the same). */
  readonly relistMs: number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());
/** Objects are kept by namespace and name: a cluster-wide cache may hold the same name twice. */
const keyOf = (o: KubernetesObject) => `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;

/**
 * A local cache of one kind of object in one namespace (or all of them), kept by ONE list plus ONE long-lived watch,
 * as KubeSpawner's reflector: spawners read it and wait on it instead of asking the API server about
 * their pod. The watch resumes from the last resourceVersion when the server ends it; a 410 Gone (the
 * version is too old) or an error leads to a fresh list, after a back-off doubling from 0.1 s to 30 s.
 */
export class Reflector<T extends KubernetesObject> {
  readonly #o: ReflectorOptions<T>;
  readonly #objects = new Map<string, T>();
  readonly #listeners = new Set<(type: WatchEventType, obj: T) => void>();
  #resourceVersion = '';
  #closed = false;
  #abort: (() => void) | null = null;
  #loop: Promise<void> | null = null;

  constructor(opts: ReflectorOptions<T>) {
    this.#o = opts;
  }

  /** Lists once (a failure here is thrown: the hub should not start blind), then watches in the background. */
  async start(): Promise<void> {
    await this.#relist();
    this.#loop = this.#run();
  }

  get(namespace: string, name: string): T | undefined {
    return this.#objects.get(`${namespace}/${name}`);
  }

  list(): T[] {
    return [...this.#objects.values()];
  }

  /** Calls `fn` for every change, until the returned function is called. */
  subscribe(fn: (type: WatchEventType, obj: T) => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#abort?.();
    await this.#loop;
  }

  #emit(type: WatchEventType, obj: T): void {
    for (const fn of [...this.#listeners]) fn(type, obj);
  }

  async #relist(): Promise<void> {
    const list = await this.#o.list();
    const fresh = new Map(list.items.map((o) => [keyOf(o), o]));
    for (const [key, old] of this.#objects) {
      if (!fresh.has(key)) {
        this.#objects.delete(key);
        this.#emit('DELETED', old);
      }
    }
    for (const [key, obj] of fresh) {
      const had = this.#objects.has(key);
      this.#objects.set(key, obj);
      this.#emit(had ? 'MODIFIED' : 'ADDED', obj);
    }
    this.#resourceVersion = list.metadata?.resourceVersion ?? '';
  }

  async #run(): Promise<void> {
    let backoff = 100;
    while (!this.#closed) {
      try {
        if (!this.#resourceVersion) await this.#relist();
        const opened = Date.now();
        await this.#watchOnce();
        // A server that ends every watch at once must not be hammered: pause as after an error.
        if (Date.now() - opened < 1000 && !this.#closed) {
          await sleep(backoff);
          backoff = Math.min(backoff * 2, 30_000);
        } else backoff = 100;
      } catch (err) {
        if (this.#closed) return;
        this.#resourceVersion = '';
        const status = apiStatusOf(err);
        if (status?.code === 410) continue;
        this.#o.log.warn({ kind: this.#o.kind, err: status?.message ?? String(err), retryInMs: backoff }, 'Kubernetes watch failed; re-listing after a pause');
        await sleep(backoff);
        backoff = Math.min(backoff * 2, 30_000);
      }
    }
  }

  /** One watch request: resolves when the server ends it normally, rejects on an error. */
  #watchOnce(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      let controller: AbortController | null = null;
      const finish = (err?: unknown) => {
        if (settled) return;
        settled = true;
        clearTimeout(relist);
        this.#abort = null;
        controller?.abort();
        if (err && !this.#closed) reject(err);
        else resolve();
      };
      // Forced re-list: end this watch and forget the version, so the loop lists afresh.
      const relist = setTimeout(() => {
        this.#resourceVersion = '';
        finish();
      }, this.#o.relistMs);
      relist.unref();
      this.#abort = () => finish();
      const query: Record<string, string | boolean> = { resourceVersion: this.#resourceVersion, allowWatchBookmarks: true };
      if (this.#o.labelSelector) query.labelSelector = this.#o.labelSelector;
      if (this.#o.fieldSelector) query.fieldSelector = this.#o.fieldSelector;
      const onEvent = (type: string, obj: T & { code?: number; message?: string }) => {
        if (settled) return;
        if (type === 'ERROR') {
          // 410: our version has been compacted away; anything else is also best answered by a re-list.
          finish(Object.assign(new Error(obj.message ?? 'watch error'), { code: obj.code ?? 500 }));
          return;
        }
        const rv = obj.metadata?.resourceVersion;
        if (rv) this.#resourceVersion = rv;
        if (type === 'BOOKMARK') return;
        if (type === 'DELETED') this.#objects.delete(keyOf(obj));
        else this.#objects.set(keyOf(obj), obj);
        this.#emit(type as WatchEventType, obj);
      };
      this.#o.watch
        .watch(this.#o.path, query, onEvent, (err: unknown) => finish(err ?? undefined))
        .then((c) => {
          controller = c;
          if (settled) c.abort();
        }, finish);
    });
  }
}
