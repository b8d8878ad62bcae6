import type http from 'node:http';
import { matches, type FakeKubeStore, type Obj, type Resource } from './fake-kube-store.js';

/** What one watch request asked for: a kind, in one namespace or all of them (ns null), with selectors. */
export interface WatchSpec { resource: Resource; ns: string | null; labels: string; fields: string }
interface Watcher { spec: WatchSpec; res: http.ServerResponse }

const selects = (spec: WatchSpec, resource: Resource, obj: Obj) =>
  resource === spec.resource && (spec.ns === null || obj.metadata.namespace === spec.ns) && matches(obj, spec.labels, spec.fields);

/**
 * The `?watch=true` streams of the fake API server: one JSON line per ADDED/MODIFIED/DELETED change,
 * starting with the current objects (no resourceVersion) or the history after the given version, or
 * an ERROR 410 line when that version has been compacted away.
 */
export class FakeKubeWatches {
  readonly #store: FakeKubeStore;
  readonly #watchers = new Set<Watcher>();
  readonly #timers = new Set<NodeJS.Timeout>();

  constructor(store: FakeKubeStore) {
    this.#store = store;
    store.subscribe((c) => {
      for (const w of this.#watchers) if (selects(w.spec, c.resource, c.obj)) w.res.write(JSON.stringify({ type: c.type, object: c.obj }) + '\n');
    });
  }

  get open(): number {
    return this.#watchers.size;
  }

  serve(res: http.ServerResponse, spec: WatchSpec, from: string, timeoutSeconds: number): void {
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    // Headers go out at once, as the API server sends them: the client's watch call returns on them.
    res.flushHeaders();
    const line = (type: string, object: unknown) => res.write(JSON.stringify({ type, object }) + '\n');
    const store = this.#store;
    if (from === '' || from === '0') {
      for (const o of store.list(spec.resource, spec.ns)) if (matches(o, spec.labels, spec.fields)) line('ADDED', o);
    } else if (Number(from) < store.compactedBefore) {
      line('ERROR', { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', reason: 'Expired', code: 410, message: `too old resource version: ${from} (${store.compactedBefore})` });
      res.end();
      return;
    } else {
      for (const h of store.history) if (h.rv > Number(from) && selects(spec, h.resource, h.obj)) line(h.type, h.obj);
    }
    const w = { spec, res };
    this.#watchers.add(w);
    res.on('close', () => this.#watchers.delete(w));
    if (timeoutSeconds > 0) {
      const t = setTimeout(() => {
        this.#timers.delete(t);
        res.end();
      }, timeoutSeconds * 1000);
      this.#timers.add(t);
    }
  }

  /** Ends every open watch, as an API server does when it restarts or times a watch out. */
  drop(): void {
    for (const w of this.#watchers) w.res.end();
    this.#watchers.clear();
  }

  close(): void {
    for (const t of this.#timers) clearTimeout(t);
    this.drop();
  }
}
