/**
 * The object store of the fake Kubernetes API server (fake-kube-api.ts): objects by kind, namespace
 * and name, a resourceVersion counter, the history of changes that watches resume from (compactable,
 * so a resume from an old version gets 410 Gone), and label/field selector matching.
 */

// Manifests are walked as plain JSON, as the API server does.
export type Obj = { apiVersion?: string; kind?: string; metadata: Record<string, any>; spec?: any; status?: any; [k: string]: any };
export type Resource = 'pods' | 'persistentvolumeclaims' | 'services' | 'events' | 'namespaces';
export type ChangeType = 'ADDED' | 'MODIFIED' | 'DELETED';
export interface Change { rv: number; type: ChangeType; resource: Resource; obj: Obj }

export const KINDS: Record<Resource, string> = {
  pods: 'Pod', persistentvolumeclaims: 'PersistentVolumeClaim', services: 'Service', events: 'Event', namespaces: 'Namespace',
};
/** The kinds that live inside a namespace (everything here but Namespace itself). */
export const NAMESPACED_RESOURCES = ['pods', 'persistentvolumeclaims', 'services', 'events'] as const;

export class FakeKubeStore {
  readonly history: Change[] = [];
  /** Watches resuming from a version below this get 410 Gone. */
  compactedBefore = 0;
  #rv = 1000;
  readonly #objects = new Map<string, Obj>();
  readonly #listeners = new Set<(c: Change) => void>();

  /** The current resourceVersion, as a List's metadata carries it. */
  get version(): string {
    return String(this.#rv);
  }

  /** Namespaces are cluster-scoped: their namespace part is ''. */
  get(resource: Resource, ns: string, name: string): Obj | undefined {
    return this.#objects.get(`${resource}/${ns}/${name}`);
  }

  /** The objects of a kind in one namespace, or in all of them (`ns` null). */
  list(resource: Resource, ns: string | null): Obj[] {
    const prefix = ns === null ? `${resource}/` : `${resource}/${ns}/`;
    return [...this.#objects.entries()].filter(([k]) => k.startsWith(prefix)).map(([, v]) => v);
  }

  /** Stores (or deletes) a change with the next resourceVersion and tells the watches. */
  put(resource: Resource, ns: string, obj: Obj, type: ChangeType): Obj {
    obj.metadata.resourceVersion = String(++this.#rv);
    const snapshot = structuredClone(obj);
    const key = `${resource}/${ns}/${obj.metadata.name}`;
    if (type === 'DELETED') this.#objects.delete(key);
    else this.#objects.set(key, snapshot);
    const change = { rv: this.#rv, type, resource, obj: snapshot };
    this.history.push(change);
    for (const fn of this.#listeners) fn(change);
    return snapshot;
  }

  remove(resource: Resource, ns: string, name: string): void {
    const obj = this.get(resource, ns, name);
    if (obj) this.put(resource, ns, structuredClone(obj), 'DELETED');
  }

  /** Applies `change` to a stored object and publishes it (undefined once the object is gone). */
  update(resource: Resource, ns: string, name: string, change: (o: Obj) => void): Obj | undefined {
    const current = this.get(resource, ns, name);
    if (!current) return undefined;
    const next = structuredClone(current);
    change(next);
    return this.put(resource, ns, next, 'MODIFIED');
  }

  /** Forgets history older than now: a watch resuming from an older version gets 410 Gone. */
  compact(): void {
    this.compactedBefore = ++this.#rv;
  }

  subscribe(fn: (c: Change) => void): void {
    this.#listeners.add(fn);
  }
}

/** Equality-based label and field selectors (`a=b,c!=d`; fields as dotted paths such as involvedObject.kind). */
export function matches(obj: Obj, labels: string, fields: string): boolean {
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
