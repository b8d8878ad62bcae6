/** HTTP client: node:http with one keep-alive agent per hub (little client overhead per request). */
import http from 'node:http';
import { snippet } from './common.js';

export interface Target {
  name: 'tshub' | 'jupyterhub';
  hubUrl: string; // http://127.0.0.1:PORT, the hub's own port
  agent: http.Agent;
}
export interface Req {
  method?: string;
  path: string;
  headers?: Record<string, string>;
  body?: string;
}
export interface Res {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export function send(t: Target, r: Req, keepBody = true, timeoutMs = 30_000): Promise<Res> {
  return new Promise((resolve, reject) => {
    const u = new URL(r.path, t.hubUrl);
    const headers: Record<string, string> = { ...r.headers };
    if (r.body !== undefined) headers['content-length'] = String(Buffer.byteLength(r.body));
    const req = http.request(
      { host: u.hostname, port: u.port, path: u.pathname + u.search, method: r.method ?? 'GET', headers, agent: t.agent, timeout: timeoutMs },
      (res) => {
        const chunks: Buffer[] = [];
        if (keepBody) res.on('data', (c: Buffer) => chunks.push(c));
        else res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: keepBody ? Buffer.concat(chunks).toString('utf8') : '' }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`timeout after ${timeoutMs}ms: ${r.method ?? 'GET'} ${r.path}`)));
    req.on('error', reject);
    req.end(r.body);
  });
}

export async function expectStatus(t: Target, r: Req, want: number[], what: string): Promise<Res> {
  const res = await send(t, r);
  if (!want.includes(res.status)) throw new Error(`${t.name}: ${what}: ${r.method ?? 'GET'} ${r.path} answered ${res.status}: ${snippet(res.body)}`);
  return res;
}

/** A tiny cookie jar: name -> value, as the hub sets them. */
export class Jar {
  readonly cookies = new Map<string, string>();
  update(res: Res): void {
    const set = res.headers['set-cookie'] ?? [];
    for (const line of set) {
      const [pair = '', ...attrs] = line.split(';');
      const eq = pair.indexOf('=');
      if (eq < 1) continue;
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attrs.some((a) => /^\s*max-age\s*=\s*0\s*$/i.test(a)) ||
        attrs.some((a) => /^\s*expires\s*=/i.test(a) && Date.parse(a.split('=').slice(1).join('=')) < Date.now());
      if (expired || value === '' || value === '""') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }
  header(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
}

/** The Authorization header for a hub API token. */
export const auth = (token: string) => ({ Authorization: `token ${token}` });
export const JSON_HEADERS = { 'Content-Type': 'application/json', Accept: 'application/json' };
