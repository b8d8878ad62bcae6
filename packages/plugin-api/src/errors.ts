/**
 * An error whose message is safe to show to the person or client that caused it.
 * The hub turns it into `{"status": N, "message": "..."}` on the API and an error page elsewhere.
 */
export class HubError extends Error {
  readonly status: number;
  /** Extra detail for the hub's log only; never sent to clients. */
  readonly logMessage: string | undefined;
  /** Response headers to add, e.g. `Retry-After` on a 429. */
  readonly headers: Readonly<Record<string, string>>;

  constructor(status: number, message: string, opts: { logMessage?: string; headers?: Record<string, string>; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'HubError';
    this.status = status;
    this.logMessage = opts.logMessage;
    this.headers = opts.headers ?? {};
  }
}

/**
 * A spawn that failed for a reason the student should read (image missing, command not found, quota).
 * Spawners throw it from `start`; anything else thrown from `start` is logged as a crash and shown as a
 * generic failure.
 */
export class SpawnError extends HubError {
  /** A short label for metrics and the activity log, e.g. `command-not-found`, `timeout`, `image-missing`. */
  readonly reason: string;

  constructor(reason: string, message: string, opts: { status?: number; logMessage?: string; cause?: unknown } = {}) {
    super(opts.status ?? 500, message, opts);
    this.name = 'SpawnError';
    this.reason = reason;
  }
}
