import { EventEmitter } from 'node:events';

/**
 * What happens in a hub, as typed events. The activity log, the metrics and the structured event
 * log lines all subscribe here, so the code that does the work only announces it.
 */
export interface HubEventMap {
  'login': { user: string };
  'logout': { user: string };
  'login-failed': { user: string; reason: string; ip: string };
  'spawn-requested': { user: string; server: string };
  /** `seconds` from request to ready. */
  'spawn-ready': { user: string; server: string; seconds: number };
  'spawn-failed': { user: string; server: string; seconds: number; reason: string; message: string };
  /** 429 from concurrent_spawn_limit / active_server_limit. */
  'spawn-throttled': { user: string; server: string; reason: 'throttled' | 'too-many-users' };
  /** A start asked for a server whose spawn is already in progress (answered with that spawn). */
  'spawn-already-pending': { user: string; server: string };
  'stop': { user: string; server: string; seconds: number; reason: 'request' | 'died' | 'cull' | 'shutdown'; cull_reason?: 'idle' | 'max_age' };
  'proxy-add': { routespec: string; seconds: number; ok: boolean };
  'proxy-delete': { routespec: string; seconds: number; ok: boolean };
  'proxy-poll': { seconds: number; routes: number };
  /** A full route reconcile (JupyterHub's check_routes), start to end. */
  'check-routes': { seconds: number; added: number; removed: number };
  'server-poll': { user: string; server: string; seconds: number; running: boolean };
  'request': { method: string; handler: string; code: number; seconds: number };
}

export type HubEventName = keyof HubEventMap;

export class HubEvents {
  readonly #emitter = new EventEmitter();

  constructor() {
    this.#emitter.setMaxListeners(50);
  }

  emit<K extends HubEventName>(name: K, data: HubEventMap[K]): void {
    // A failing listener must never break the work that announced the event.
    try {
      this.#emitter.emit(name, data);
    } catch {
      /* listeners log their own errors */
    }
  }

  on<K extends HubEventName>(name: K, listener: (data: HubEventMap[K]) => void): () => void {
    const wrapped = (d: HubEventMap[K]) => {
      try {
        listener(d);
      } catch {
        /* see emit */
      }
    };
    this.#emitter.on(name, wrapped);
    return () => this.#emitter.off(name, wrapped);
  }
}
