import http from 'node:http';
import https from 'node:https';
import { HubError } from '@tshub/plugin-api';

/** A service response is a few hundred bytes; anything this large is not one. */
const MAX_BODY = 1024 * 1024;

/** Error codes node uses when a server's certificate cannot be trusted (see tls checkServerIdentity / openssl). */
const CERT_ERRORS = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

const NETWORK_ERRORS = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'EPIPE']);

/**
 * GETs the validation URL and returns the body of a 200 answer. Every failure becomes a HubError whose
 * message a student can read and whose logMessage tells the operator what to fix:
 * 502 for an untrusted certificate or a non-200 answer, 503 when the server cannot be reached in time.
 */
export function fetchValidation(url: string, opts: { ca: Buffer | undefined; timeoutMs: number }): Promise<string> {
  const target = new URL(url);
  const where = target.origin;
  return new Promise((resolve, reject) => {
    const fail = (err: HubError) => {
      req.destroy();
      reject(err);
    };
    const onResponse = (res: http.IncomingMessage) => {
      if (res.statusCode !== 200) {
        res.resume();
        return fail(
          new HubError(502, `The CAS server could not check your login (it answered HTTP ${res.statusCode}). Please try again later.`, {
            logMessage: `CAS ticket validation at ${target.origin}${target.pathname} answered HTTP ${res.statusCode}: check authenticator.cas_service_validate_url`,
          }),
        );
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_BODY) fail(new HubError(502, 'The CAS server sent an answer the hub could not read. Please try again later.', { logMessage: `CAS ticket validation at ${where} sent more than ${MAX_BODY} bytes` }));
        else chunks.push(chunk);
      });
      res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      res.on('error', (err) => fail(networkError(where, err)));
    };
    // `ca` replaces the default trust store for this request only: the CAS server's private CA is
    // trusted for ticket validation and nothing else.
    const req =
      target.protocol === 'https:'
        ? https.get(target, { ca: opts.ca, timeout: opts.timeoutMs, headers: { accept: 'application/xml, text/xml' } }, onResponse)
        : http.get(target, { timeout: opts.timeoutMs, headers: { accept: 'application/xml, text/xml' } }, onResponse);
    req.on('timeout', () =>
      fail(new HubError(503, 'The CAS server did not answer in time to confirm your login. Please try again in a few minutes.', { logMessage: `CAS ticket validation at ${where} timed out after ${opts.timeoutMs} ms` })),
    );
    // After fail() has rejected, destroy() may still emit an error here; a second reject is a no-op.
    req.on('error', (err: NodeJS.ErrnoException) => reject(CERT_ERRORS.has(err.code ?? '') ? certificateError(where, err) : networkError(where, err)));
  });
}

function certificateError(where: string, err: NodeJS.ErrnoException): HubError {
  return new HubError(
    502,
    `The hub could not verify the CAS server's TLS certificate (${err.message}), so your login could not be confirmed. ` +
      'The hub administrator should set authenticator.cas_ca_bundle to the CA certificate that signed it.',
    { logMessage: `CAS ticket validation at ${where}: untrusted certificate (${err.code}: ${err.message}); set authenticator.cas_ca_bundle to the issuing CA's PEM file`, cause: err },
  );
}

function networkError(where: string, err: NodeJS.ErrnoException): HubError {
  const known = NETWORK_ERRORS.has(err.code ?? '');
  return new HubError(
    known ? 503 : 502,
    'The CAS server could not be reached to confirm your login. Please try again in a few minutes.',
    { logMessage: `CAS ticket validation at ${where} failed: ${err.code ?? ''} ${err.message}`.trim(), cause: err },
  );
}
