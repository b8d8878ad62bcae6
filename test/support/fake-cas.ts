import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

/**
 * A small CAS server on 127.0.0.1 over HTTPS that answers as the CAS protocol 3.0 specification
 * documents: /login (form, then a redirect to the service with ?ticket=ST-...), /serviceValidate
 * (CAS 2.0: user only, unless `v2Attributes`), /p3/serviceValidate (CAS 3.0: with <cas:attributes>),
 * <cas:authenticationFailure code="..."> on refusal, and /logout?service=. Service tickets are single-use
 * (spent by any validation attempt, as the spec requires), expire, and are bound to the service URL
 * they were issued for.
 */

export interface FakeCasUser {
  password: string;
  attributes?: Record<string, string[]>;
}

export interface FakeCasOptions {
  /** Directory for the throwaway CA and server certificate (the test's temp dir). */
  dir: string;
  users: Record<string, FakeCasUser>;
  /** Service ticket lifetime; CAS servers default to about 10 s. */
  ticketTtlMs?: number;
  /** Release attributes on the CAS 2.0 /serviceValidate too, as many CAS servers are configured to. */
  v2Attributes?: boolean;
}

/** How validation answers, to simulate a broken server: 'http-500' (error status) or 'html' (a web page instead of XML). */
export type ValidationFault = 'none' | 'http-500' | 'html';

export interface FakeCas {
  /** e.g. https://127.0.0.1:41234/cas (no trailing slash): login is `${base}/login`. */
  base: string;
  /** The PEM file of the CA that signed the server certificate (for `cas_ca_bundle`). */
  caFile: string;
  /** Every validation request, in order. */
  validations: Array<{ path: string; service: string; ticket: string; code: string }>;
  /** The `service` of every /logout request, in order. */
  logouts: string[];
  fault: ValidationFault;
  /** Issues a ticket as a completed login would (skipping the form), for plugin-level tests. */
  issueTicket(user: string, service: string): string;
  /**
   * Plays the browser at CAS: GETs `loginUrl` (the form), posts the credentials, and returns the
   * redirect target (service?ticket=...). Throws when CAS does not redirect.
   */
  signIn(loginUrl: string, user: string, password?: string): Promise<string>;
  /** One GET at CAS as the browser would make it (trusting the test CA); no redirects followed. */
  visit(url: string): Promise<{ status: number; location: string | undefined }>;
  close(): Promise<void>;
}

/** The openssl CLI the certificates are made with (Debian package `openssl`). */
export const OPENSSL = '/usr/bin/openssl';

/** A throwaway CA and a server certificate for 127.0.0.1 signed by it, made with the openssl CLI. */
export function makeTestCa(dir: string): { caFile: string; certFile: string; keyFile: string } {
  const f = (name: string) => path.join(dir, name);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  const run = (args: string[]) => execFileSync(OPENSSL, args, { stdio: 'pipe' });
  run(['req', '-x509', ...ec, '-keyout', f('ca.key'), '-out', f('ca.pem'), '-days', '2', '-subj', '/CN=tshub test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  run(['req', ...ec, '-keyout', f('server.key'), '-out', f('server.csr'), '-subj', '/CN=127.0.0.1']);
  writeFileSync(f('server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n');
  run(['x509', '-req', '-in', f('server.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-days', '2',
    '-extfile', f('server.ext'), '-out', f('server.pem')]);
  return { caFile: f('ca.pem'), certFile: f('server.pem'), keyFile: f('server.key') };
}

const xmlEscape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const htmlEscape = xmlEscape;
const serviceResponse = (inner: string) =>
  `<cas:serviceResponse xmlns:cas="http://www.yale.edu/tp/cas">\n${inner}\n</cas:serviceResponse>\n`;
const failureXml = (code: string, message: string) =>
  serviceResponse(`  <cas:authenticationFailure code="${code}">\n    ${xmlEscape(message)}\n  </cas:authenticationFailure>`);

function successXml(user: string, attributes: Record<string, string[]> | undefined): string {
  const attrs = attributes
    ? `\n    <cas:attributes>\n${Object.entries(attributes).flatMap(([k, vs]) => vs.map((v) => `      <cas:${k}>${xmlEscape(v)}</cas:${k}>`)).join('\n')}\n    </cas:attributes>`
    : '';
  return serviceResponse(`  <cas:authenticationSuccess>\n    <cas:user>${xmlEscape(user)}</cas:user>${attrs}\n  </cas:authenticationSuccess>`);
}

export async function startFakeCas(opts: FakeCasOptions): Promise<FakeCas> {
  const { caFile, certFile, keyFile } = makeTestCa(opts.dir);
  const ttl = opts.ticketTtlMs ?? 10_000;
  const tickets = new Map<string, { user: string; service: string; expires: number }>();
  let counter = 0;

  const issueTicket = (user: string, service: string): string => {
    const ticket = `ST-${++counter}-${randomBytes(15).toString('base64url')}`;
    tickets.set(ticket, { user, service, expires: Date.now() + ttl });
    return ticket;
  };

  const validate = (kind: 'v2' | 'v3', service: string | null, ticket: string | null): string => {
    if (!service || !ticket) return failureXml('INVALID_REQUEST', "'service' and 'ticket' parameters are both required");
    if (!ticket.startsWith('ST-')) return failureXml('INVALID_TICKET_SPEC', `Ticket ${ticket} is not a service ticket`);
    const issued = tickets.get(ticket);
    tickets.delete(ticket); // any validation attempt spends the ticket
    if (!issued || issued.expires < Date.now()) return failureXml('INVALID_TICKET', `Ticket ${ticket} not recognized`);
    if (issued.service !== service) {
      return failureXml('INVALID_SERVICE', `Ticket ${ticket} does not match supplied service. The original service was '${issued.service}' and the supplied service was '${service}'.`);
    }
    const released = kind === 'v3' || opts.v2Attributes ? opts.users[issued.user]?.attributes ?? {} : undefined;
    return successXml(issued.user, released);
  };

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    const url = new URL(req.url ?? '/', 'https://127.0.0.1');
    const q = url.searchParams;
    const send = (status: number, type: string, body: string, headers: Record<string, string> = {}) =>
      res.writeHead(status, { 'content-type': type, ...headers }).end(body);
    if (url.pathname === '/cas/serviceValidate' || url.pathname === '/cas/p3/serviceValidate') {
      if (fake.fault === 'http-500') return send(500, 'text/plain', 'Internal Server Error');
      if (fake.fault === 'html') return send(200, 'text/html', '<html><body><h1>Central Login</h1></body></html>');
      const body = validate(url.pathname.includes('/p3/') ? 'v3' : 'v2', q.get('service'), q.get('ticket'));
      fake.validations.push({ path: url.pathname, service: q.get('service') ?? '', ticket: q.get('ticket') ?? '', code: /code="([A-Z_]+)"/.exec(body)?.[1] ?? 'SUCCESS' });
      return send(200, 'application/xml;charset=UTF-8', body);
    }
    if (url.pathname === '/cas/login' && req.method === 'GET') {
      const service = q.get('service') ?? '';
      return send(200, 'text/html', `<form method="post" action="/cas/login?service=${htmlEscape(encodeURIComponent(service))}">` +
        '<input name="username"><input name="password" type="password"><button>Log in</button></form>');
    }
    if (url.pathname === '/cas/login' && req.method === 'POST') {
      let raw = '';
      for await (const chunk of req) raw += String(chunk);
      const form = new URLSearchParams(raw);
      const user = form.get('username') ?? '';
      if (opts.users[user]?.password !== form.get('password')) return send(401, 'text/html', '<p>Invalid credentials.</p>');
      const service = q.get('service');
      if (!service) return send(200, 'text/html', '<p>Log in successful.</p>');
      const back = new URL(service);
      back.searchParams.set('ticket', issueTicket(user, service));
      return send(302, 'text/html', '', { location: back.href });
    }
    if (url.pathname === '/cas/logout') {
      const service = q.get('service');
      fake.logouts.push(service ?? '');
      return service ? send(302, 'text/html', '', { location: service }) : send(200, 'text/html', '<p>Logout successful.</p>');
    }
    send(404, 'text/plain', 'Not found');
  };

  const server = https.createServer({ cert: readFileSync(certFile), key: readFileSync(keyFile) }, (req, res) => {
    handle(req, res).catch(() => res.writeHead(500).end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));

  const ca = readFileSync(caFile);
  const call = (href: string, init: { method?: string; body?: string } = {}) =>
    new Promise<{ status: number; location: string | undefined }>((resolve, reject) => {
      const req = https.request(href, { method: init.method ?? 'GET', ca, headers: init.body ? { 'content-type': 'application/x-www-form-urlencoded' } : {} }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, location: res.headers.location }));
      });
      req.on('error', reject);
      req.end(init.body);
    });
  const signIn = async (loginUrl: string, user: string, password?: string): Promise<string> => {
    const form = await call(loginUrl);
    if (form.status !== 200) throw new Error(`CAS login page answered ${form.status}`);
    const body = new URLSearchParams({ username: user, password: password ?? opts.users[user]?.password ?? '' }).toString();
    const posted = await call(loginUrl, { method: 'POST', body });
    if (posted.status !== 302 || !posted.location) throw new Error(`CAS did not redirect after login (HTTP ${posted.status})`);
    return posted.location;
  };
  const fake: FakeCas = {
    base: `https://127.0.0.1:${(server.address() as AddressInfo).port}/cas`,
    caFile,
    validations: [],
    logouts: [],
    fault: 'none',
    issueTicket,
    signIn,
    visit: (url) => call(url),
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
  return fake;
}
