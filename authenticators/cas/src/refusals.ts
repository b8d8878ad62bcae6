import { HubError } from '@tshub/plugin-api';

/** The CAS server's own explanation, shortened: it is shown on the error page. */
const shorten = (text: string) => (text.length > 200 ? `${text.slice(0, 197)}...` : text);

/**
 * Turns a `<cas:authenticationFailure code="...">` into the error the person sees. Ticket problems are a
 * 403 with advice to log in again (tickets are single-use and short-lived, so a reload or a back button
 * replays a spent one); a server-side problem is a 502.
 */
export function refusal(code: string, message: string, service: string): HubError {
  const said = message ? ` (${code}: ${shorten(message)})` : ` (${code})`;
  switch (code) {
    case 'INVALID_TICKET':
    case 'INVALID_TICKET_SPEC':
      return new HubError(403, `CAS did not accept the login ticket${said}. A ticket works only once and expires quickly; please log in again.`, {
        logMessage: `CAS refused a ticket: ${code} ${message}`,
      });
    case 'INVALID_SERVICE':
      return new HubError(403, `CAS did not accept the login ticket for this hub${said}. Please log in again.`, {
        logMessage: `CAS refused a ticket for service ${service}: ${code} ${message}; if this repeats, check that authenticator.cas_service_url matches the URL registered with CAS`,
      });
    case 'INVALID_REQUEST':
      return new HubError(400, `CAS could not check this login${said}. Please log in again.`, { logMessage: `CAS rejected the validation request: ${code} ${message}` });
    default:
      return new HubError(502, `The CAS server could not confirm your login${said}. Please try again later.`, {
        logMessage: `CAS ticket validation failed: ${code} ${message}`,
      });
  }
}
