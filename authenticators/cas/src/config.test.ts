import t from 'tap';
import { HubError } from '@tshub/plugin-api';
import { defaultValidateUrl, resolveSettings, withQuery } from './config.js';

t.test('the validate URL follows cas_login_url and cas_version unless set', async (t) => {
  t.equal(defaultValidateUrl('https://cas.example.edu/cas/login', '3.0'), 'https://cas.example.edu/cas/p3/serviceValidate');
  t.equal(defaultValidateUrl('https://cas.example.edu/cas/login/?renew=true', '2.0'), 'https://cas.example.edu/cas/serviceValidate');
  t.equal(defaultValidateUrl('https://sso.example.edu/authenticate', '3.0'), undefined);
  const s = resolveSettings({ cas_login_url: 'https://cas.example.edu/cas/login', cas_service_validate_url: 'https://other.example.edu/validate' });
  t.equal(s.validateUrl, 'https://other.example.edu/validate');
  t.equal(s.version, '3.0');
  t.equal(s.timeoutMs, 10_000);
  t.equal(s.loginService, 'CAS');
});

t.test('bad options throw HubError naming the key path', async (t) => {
  const fails = (config: Parameters<typeof resolveSettings>[0], pattern: RegExp) => {
    try {
      resolveSettings(config);
      t.fail(`expected ${pattern.source}`);
    } catch (err) {
      t.ok(err instanceof HubError, 'a HubError');
      t.match((err as Error).message, pattern);
    }
  };
  fails({}, /^authenticator\.cas_login_url: required/);
  fails({ cas_login_url: 'cas.example.edu/login' }, /^authenticator\.cas_login_url: not a URL/);
  fails({ cas_login_url: 'https://cas.example.edu/cas/login', cas_service_validate_url: 'ftp://cas.example.edu/v' }, /^authenticator\.cas_service_validate_url: must be an http\(s\) URL/);
  fails({ cas_login_url: 'https://cas.example.edu/cas/login', cas_logout_url: 'https://' }, /^authenticator\.cas_logout_url: not a URL/);
  fails({ cas_login_url: 'https://sso.example.edu/authenticate' }, /^authenticator\.cas_service_validate_url: required, because cas_login_url/);
});

t.test('withQuery keeps the existing query and encodes values', async (t) => {
  t.equal(
    withQuery('https://cas.example.edu/cas/login?locale=fr', { service: 'https://hub.example.edu/hub/oauth_callback?x=1&y=2' }),
    'https://cas.example.edu/cas/login?locale=fr&service=https%3A%2F%2Fhub.example.edu%2Fhub%2Foauth_callback%3Fx%3D1%26y%3D2',
  );
});
