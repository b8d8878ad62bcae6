import http from 'node:http';
import { CookieJar } from 'tough-cookie';

export interface Page {
  status: number;
  url: string;
  headers: Headers;
  text: string;
}

/**
 * A browser-like HTTP client: a cookie jar (paths respected, as a browser does), manual redirects
 * so tests can see each hop, and form posts with the page's `_xsrf`. No JavaScript: pages that
 * would poll (spawn-pending) are re-requested instead.
 */
export class BrowserClient {
  readonly jar = new CookieJar();
  readonly hops: string[] = [];
  /** The last page get() ended on: what a browser sends as Referer for the calls that page's scripts make. */
  lastPage: string | null = null;

  /**
   * `connectTo`: connect every request to this address instead of resolving the URL's host, sending
   * that host in the Host header, as a browser with wildcard DNS would (Node's resolver does not map
   * `*.localhost` to loopback here, and fetch ignores a Host header). Cookies still follow the URL's host.
   */
  constructor(readonly origin: string, readonly opts: { connectTo?: string } = {}) {}

  abs(url: string): string {
    return new URL(url, this.origin).href;
  }

  async request(url: string, init: RequestInit = {}): Promise<Page> {
    const href = this.abs(url);
    const headers = new Headers(init.headers);
    const cookie = await this.jar.getCookieString(href);
    if (cookie) headers.set('cookie', cookie);
    if (this.opts.connectTo) {
      const page = await requestVia(this.opts.connectTo, href, init.method ?? 'GET', headers, init.body);
      for (const c of page.headers.getSetCookie()) await this.jar.setCookie(c, href, { ignoreError: true });
      return page;
    }
    const res = await fetch(href, { ...init, headers, redirect: 'manual' });
    for (const c of res.headers.getSetCookie()) await this.jar.setCookie(c, href, { ignoreError: true });
    return { status: res.status, url: href, headers: res.headers, text: await res.text() };
  }

  /** GET, following redirects (and re-requesting spawn-pending pages) up to `maxHops`. */
  async get(url: string, opts: { maxHops?: number; headers?: Record<string, string> } = {}): Promise<Page> {
    let current = url;
    for (let i = 0; i < (opts.maxHops ?? 40); i++) {
      const page = await this.request(current, { headers: opts.headers });
      this.hops.push(`${page.status} ${new URL(page.url).pathname}`);
      const loc = page.headers.get('location');
      if (page.status >= 300 && page.status < 400 && loc) {
        current = new URL(loc, page.url).href;
        continue;
      }
      if (page.status === 200 && new URL(page.url).pathname.includes('/hub/spawn-pending/')) {
        await new Promise((r) => setTimeout(r, 250));
        continue;
      }
      this.lastPage = page.url;
      return page;
    }
    throw new Error(`too many hops: ${this.hops.slice(-8).join(' -> ')}`);
  }

  /** Posts a form (with the `_xsrf` value found in `formPage`), following redirects afterwards. */
  async submit(formPage: Page, action: string, fields: Record<string, string>): Promise<Page> {
    const xsrf = /name="_xsrf" value="([^"]*)"/.exec(formPage.text)?.[1] ?? '';
    const body = new URLSearchParams({ ...fields, _xsrf: xsrf });
    const res = await this.request(action, { method: 'POST', body, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    const loc = res.headers.get('location');
    if (res.status >= 300 && res.status < 400 && loc) return this.get(new URL(loc, res.url).href);
    return res;
  }

  /** Opens the class URL, logs in through the form and follows the redirects to wherever they end. */
  async login(username: string, password = 'any'): Promise<Page> {
    const form = await this.get('/');
    if (!form.url.includes('/hub/login')) throw new Error(`expected the login page, got ${form.status} ${form.url}`);
    const action = new URL(/<form[^>]*action="([^"]+)"/.exec(form.text)?.[1]?.replace(/&amp;/g, '&') ?? '/hub/login', form.url).href;
    return this.submit(form, action, { username, password });
  }

  /** The hub's xsrf token for this client, as a page would embed it (for cookie-authenticated API calls). */
  async hubXsrf(): Promise<string> {
    const find = (text: string) => /name="_xsrf" value="([^"]*)"/.exec(text)?.[1] ?? /data-xsrf="([^"]*)"/.exec(text)?.[1];
    const token = find((await this.request('/hub/home')).text) ?? find((await this.request('/hub/login')).text);
    if (!token) throw new Error('no xsrf token on the home or login page');
    return token;
  }

  /**
   * A hub page's URL to send as Referer: the last page loaded when it is a hub page, else the hub
   * home. The hub refuses cookie-authenticated API calls from pages outside /hub/ (check_referer).
   */
  hubReferer(): string {
    const last = this.lastPage ? new URL(this.lastPage) : null;
    return last && last.origin === new URL(this.origin).origin && last.pathname.startsWith('/hub/') ? last.href : this.abs('/hub/home');
  }

  /** A cookie-authenticated hub API call, as the hub's own pages make them (X-XSRFToken, Referer of a hub page). */
  async api(path: string, init: RequestInit = {}): Promise<Page> {
    const headers = new Headers(init.headers);
    headers.set('x-xsrftoken', await this.hubXsrf());
    if (!headers.has('referer')) headers.set('referer', this.hubReferer());
    return this.request(`/hub/api${path}`, { ...init, headers });
  }

  async cookieValue(name: string, url = '/'): Promise<string | undefined> {
    const cookies = await this.jar.getCookies(this.abs(url));
    return cookies.find((c) => c.key === name)?.value;
  }
}

/** One HTTP request to `address` (an IP) for the absolute URL `href`, its host sent as the Host header. */
function requestVia(address: string, href: string, method: string, headers: Headers, body: RequestInit['body']): Promise<Page> {
  const url = new URL(href);
  const text = body === undefined || body === null ? undefined : String(body);
  const out: Record<string, string> = Object.fromEntries(headers);
  out.host = url.host;
  if (text !== undefined) out['content-length'] = String(Buffer.byteLength(text));
  if (body instanceof URLSearchParams && !headers.has('content-type')) out['content-type'] = 'application/x-www-form-urlencoded';
  return new Promise((resolve, reject) => {
    const req = http.request({ host: address, port: url.port || 80, path: url.pathname + url.search, method, headers: out }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const h = new Headers();
        for (let i = 0; i < res.rawHeaders.length; i += 2) h.append(res.rawHeaders[i]!, res.rawHeaders[i + 1]!);
        resolve({ status: res.statusCode ?? 0, url: href, headers: h, text: Buffer.concat(chunks).toString('utf8') });
      });
    });
    req.on('error', reject);
    req.end(text);
  });
}
