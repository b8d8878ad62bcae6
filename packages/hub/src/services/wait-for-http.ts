import http from 'node:http';

/**
 * Waits until `url` answers HTTP with anything but a 5xx (JupyterHub counts 302 and 404 as up).
 * Polls quickly (10 ms growing to 200 ms) so readiness is noticed within a fraction of a second, and
 * calls `stillAlive` between attempts so a server that died is reported at once, not after the
 * timeout. Rejects with a message on timeout or death; returns the X-JupyterHub-Version it saw.
 */
export async function waitForHttp(
  url: string,
  opts: { timeoutMs: number; signal?: AbortSignal; stillAlive?: () => Promise<boolean> },
): Promise<{ version: string | undefined }> {
  const deadline = Date.now() + opts.timeoutMs;
  let delay = 10;
  let lastAliveCheck = 0;
  for (;;) {
    if (opts.signal?.aborted) throw new Error('cancelled');
    const status = await probe(url, Math.min(2000, Math.max(50, deadline - Date.now())));
    if (status.ok) return { version: status.version };
    const now = Date.now();
    if (opts.stillAlive && now - lastAliveCheck > 100) {
      lastAliveCheck = now;
      if (!(await opts.stillAlive())) throw new ExitedEarly();
    }
    if (now >= deadline) throw new HttpTimeout(url, status.detail);
    await new Promise((r) => setTimeout(r, Math.min(delay, Math.max(0, deadline - now))));
    delay = Math.min(200, delay * 2);
  }
}

export class ExitedEarly extends Error {
  constructor() {
    super('the server process exited before it answered HTTP');
  }
}

export class HttpTimeout extends Error {
  constructor(url: string, detail: string) {
    super(`the server did not answer at ${url} in time (${detail})`);
  }
}

function probe(url: string, timeoutMs: number): Promise<{ ok: boolean; version?: string; detail: string }> {
  return new Promise((resolve) => {
    const req = http.get(url, { timeout: timeoutMs, agent: false }, (res) => {
      res.resume();
      const code = res.statusCode ?? 599;
      const v = res.headers['x-jupyterhub-version'];
      resolve({ ok: code < 500, version: typeof v === 'string' ? v : undefined, detail: `HTTP ${code}` });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (err) => resolve({ ok: false, detail: (err as NodeJS.ErrnoException).code ?? err.message }));
  });
}
