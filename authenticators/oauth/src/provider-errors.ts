import { HubError } from '@tshub/plugin-api';
import * as oidc from 'openid-client';

/** Whether `err` means the provider could not be reached at all (refused, DNS, TLS, timeout). */
export function isUnreachable(err: unknown): boolean {
  if (err instanceof DOMException) return err.name === 'TimeoutError' || err.name === 'AbortError';
  // undici reports network failures as TypeError('fetch failed') with the socket error as cause.
  return err instanceof TypeError && err.message === 'fetch failed';
}

/** A short reason for logs and config errors, including the network cause when there is one. */
export function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause =
    err.cause instanceof Error ? `: ${(err.cause as NodeJS.ErrnoException).code ?? err.cause.message}` : err.cause instanceof Response ? ` (HTTP ${err.cause.status})` : '';
  if (err instanceof oidc.ResponseBodyError) return `${err.error}${err.error_description ? ` (${err.error_description})` : ''}, HTTP ${err.status}`;
  return `${err.message}${cause}`;
}

/**
 * Turns whatever openid-client (or fetch) threw while talking to the provider into a HubError a person
 * can act on. `step` says what the hub was doing, for the log.
 */
export function providerError(err: unknown, service: string, step: string): HubError {
  if (err instanceof HubError) return err;
  const logMessage = `${step}: ${describe(err)}`;
  if (isUnreachable(err)) {
    return new HubError(503, `Could not reach ${service} to finish signing in. Try again in a few minutes.`, { logMessage, cause: err });
  }
  if (err instanceof oidc.ResponseBodyError) {
    if (err.error === 'invalid_client' || err.error === 'unauthorized_client' || err.error === 'incorrect_client_credentials') {
      return new HubError(502, `${service} does not accept this hub's OAuth client. Ask an administrator to check client_id and client_secret.`, { logMessage, cause: err });
    }
    if (err.status >= 500) return new HubError(502, `${service} had an internal error while signing you in. Try again in a few minutes.`, { logMessage, cause: err });
    // invalid_grant (GitHub: bad_verification_code): the code was used already, expired, or does not match the PKCE verifier.
    return new HubError(400, `${service} did not accept this sign-in (${err.error}). Start the login again.`, { logMessage, cause: err });
  }
  if (err instanceof oidc.AuthorizationResponseError) return authorizationRefusal(service, err.error, err.error_description);
  if (err instanceof oidc.ClientError && err.code === 'OAUTH_RESPONSE_IS_NOT_CONFORM') {
    return new HubError(502, `${service} answered with an error while signing you in. Try again in a few minutes.`, { logMessage, cause: err });
  }
  return new HubError(502, `Signing in with ${service} failed: the provider's answer could not be used. Try again, or tell an administrator if it keeps happening.`, {
    logMessage,
    cause: err,
  });
}

/** The provider redirected back with `error=...` instead of a code (consent denied, account disabled, ...). */
export function authorizationRefusal(service: string, error: string, description: string | undefined): HubError {
  const detail = description ? `: ${description}` : '';
  if (error === 'access_denied') {
    return new HubError(403, `Sign-in was cancelled at ${service} (access was not granted${detail}). Start the login again to retry.`, {
      logMessage: `provider answered access_denied${detail}`,
    });
  }
  return new HubError(400, `${service} refused the sign-in (${error}${detail}). Start the login again.`, { logMessage: `provider answered ${error}${detail}` });
}
