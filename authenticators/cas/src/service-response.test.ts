import t from 'tap';
import { parseServiceResponse } from './service-response.js';

const wrap = (inner: string, prefix = 'cas') =>
  `<?xml version="1.0" encoding="UTF-8"?>\n<${prefix}:serviceResponse xmlns:${prefix}="http://www.yale.edu/tp/cas">${inner}</${prefix}:serviceResponse>`;

t.test('CAS 3.0 success with multi-valued attributes (the protocol document example)', async (t) => {
  const body = wrap(`
    <cas:authenticationSuccess>
      <cas:user>username</cas:user>
      <cas:attributes>
        <cas:firstname>John</cas:firstname>
        <cas:lastname>Doe</cas:lastname>
        <cas:title>Mr.</cas:title>
        <cas:email>jdoe@example.org</cas:email>
        <cas:affiliation>staff</cas:affiliation>
        <cas:affiliation>faculty</cas:affiliation>
        <cas:studentNumber>00123</cas:studentNumber>
      </cas:attributes>
      <cas:proxyGrantingTicket>PGTIOU-84678-8a9d</cas:proxyGrantingTicket>
    </cas:authenticationSuccess>`);
  t.same(parseServiceResponse(body), {
    ok: true,
    user: 'username',
    attributes: {
      firstname: ['John'], lastname: ['Doe'], title: ['Mr.'], email: ['jdoe@example.org'],
      affiliation: ['staff', 'faculty'], studentNumber: ['00123'],
    },
  });
});

t.test('CAS 2.0 success without attributes, any namespace prefix, entities decoded', async (t) => {
  t.same(parseServiceResponse(wrap('<x:authenticationSuccess><x:user>o&apos;brien</x:user></x:authenticationSuccess>', 'x')), {
    ok: true, user: "o'brien", attributes: {},
  });
});

t.test('name/value attributes and attributes inlined in the success element', async (t) => {
  const body = wrap(`<cas:authenticationSuccess><cas:user>u1</cas:user>
    <cas:attributes><cas:attribute name="memberOf" value="cn=a"/><cas:attribute name="memberOf" value="cn=b"/></cas:attributes>
    <cas:mail>u1@example.org</cas:mail></cas:authenticationSuccess>`);
  t.same(parseServiceResponse(body), { ok: true, user: 'u1', attributes: { memberOf: ['cn=a', 'cn=b'], mail: ['u1@example.org'] } });
});

t.test('authenticationFailure gives the code and the collapsed message', async (t) => {
  const body = wrap(`<cas:authenticationFailure code="INVALID_TICKET">
      Ticket ST-1856339-aA5Yuvrxzpv8Tau1cYQ7 not recognized
    </cas:authenticationFailure>`);
  t.same(parseServiceResponse(body), { ok: false, code: 'INVALID_TICKET', message: 'Ticket ST-1856339-aA5Yuvrxzpv8Tau1cYQ7 not recognized' });
  t.same(parseServiceResponse(wrap('<cas:authenticationFailure/>')), { ok: false, code: 'UNKNOWN', message: '' });
});

t.test('anything that is not a service response throws with a reason', async (t) => {
  t.throws(() => parseServiceResponse('<html><body>Log in</body></html>'), /no <cas:serviceResponse>/);
  t.throws(() => parseServiceResponse('<cas:serviceResponse xmlns:cas="x"><cas:authenticationSuccess>'), /not well-formed/);
  t.throws(() => parseServiceResponse(wrap('<cas:authenticationSuccess><cas:user> </cas:user></cas:authenticationSuccess>')), /no <cas:user>/);
  t.throws(() => parseServiceResponse(wrap('<cas:proxySuccess/>')), /neither/);
  t.throws(() => parseServiceResponse('<!DOCTYPE x [<!ENTITY a "aaaa">]>' + wrap('<cas:authenticationSuccess><cas:user>&a;</cas:user></cas:authenticationSuccess>')), /DTD/);
  t.throws(() => parseServiceResponse(' '), /empty/);
});
