/** Reading dockerode's errors: HTTP status and the engine's own message. */

export function statusOf(err: unknown): number | undefined {
  return (err as { statusCode?: number } | null)?.statusCode;
}

/** The engine's message ("Minimum memory limit allowed is 6MB"), without dockerode's "(HTTP code 500)" prefix. */
export function engineMessage(err: unknown): string {
  const json = (err as { json?: { message?: unknown } } | null)?.json;
  if (json && typeof json.message === 'string') return json.message;
  const msg = err instanceof Error ? err.message : String(err);
  return msg.replace(/^\(HTTP code \d+\)\s*[a-z ]*-\s*/i, '').trim();
}

/** Runs a Docker call whose "already gone" answers (404, and 304 for stop) mean success. */
export async function ignoringGone(call: () => Promise<unknown>, also: number[] = []): Promise<void> {
  try {
    await call();
  } catch (err) {
    const status = statusOf(err);
    if (status === 404 || (status !== undefined && also.includes(status))) return;
    throw err;
  }
}
