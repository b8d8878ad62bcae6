import type { Spawner } from '@tshub/plugin-api';

/** A progress event as the API streams it (contract section 1.5). */
export interface ProgressMessage {
  progress: number;
  message: string;
  html_message?: string;
  ready?: boolean;
  failed?: boolean;
  url?: string;
}

export type ServerPhase = 'spawning' | 'ready' | 'stopping' | 'failed';

/**
 * The in-memory life of one user server that is starting, running, stopping, or whose last start
 * failed. Only active servers have one, so memory follows active (not total) users.
 */
export class ServerRuntime {
  phase: ServerPhase = 'spawning';
  spawner: Spawner | null = null;
  /** Where the server listens (proxy target), once started. */
  url: string | null = null;
  started: Date | null = null;
  lastActivity: Date | null = null;
  userOptions: Record<string, unknown> = {};
  failure: { message: string; reason: string } | null = null;
  /** The spawn has failed and is being cleaned up; a new start waits for that, then begins afresh. */
  failing = false;
  readonly abort = new AbortController();
  /** Settles when the current spawn finishes, whichever way. */
  spawnDone: Promise<void> = Promise.resolve();
  stopDone: Promise<void> | null = null;
  pollTimer: NodeJS.Timeout | null = null;
  readonly #events: ProgressMessage[] = [];
  readonly #listeners = new Set<(e: ProgressMessage) => void>();

  constructor(
    readonly userId: number,
    readonly userName: string,
    readonly serverName: string,
    readonly spawnerId: number,
    /** e.g. /user/alice/ */
    readonly prefix: string,
    /** Where browsers are sent: the prefix, or `http://alice.hub.example:8000/user/alice/` with subdomain_host. */
    readonly publicUrl: string = prefix,
    /** The proxy key: the prefix, or `alice.hub.example/user/alice/` with subdomain_host (host routing). */
    readonly routespec: string = prefix,
  ) {}

  get pending(): 'spawn' | 'stop' | null {
    return this.phase === 'spawning' ? 'spawn' : this.phase === 'stopping' ? 'stop' : null;
  }

  get ready(): boolean {
    return this.phase === 'ready';
  }

  /** Running or starting: counts against limits and shows in the API. */
  get active(): boolean {
    return this.phase !== 'failed';
  }

  emit(e: ProgressMessage): void {
    this.#events.push(e);
    for (const l of this.#listeners) l(e);
  }

  /** Past events first, then live ones; returns the unsubscribe function. */
  subscribe(listener: (e: ProgressMessage) => void): () => void {
    for (const e of this.#events) listener(e);
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  get terminalEvent(): ProgressMessage | undefined {
    const last = this.#events.at(-1);
    return last && (last.ready || last.failed) ? last : undefined;
  }
}
