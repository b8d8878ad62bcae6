// Failed-login throttling: per key, sliding window, success resets, bounded memory.
import t from 'tap';
import { LoginRateLimiter } from './login-rate-limit.js';

t.test('limits after max failures within the window, until the oldest leaves it', async (t) => {
  let now = 1_000_000;
  const l = new LoginRateLimiter({ maxFailures: 3, windowSeconds: 60, now: () => now });
  const keys = LoginRateLimiter.keys('10.0.0.1', 'alice');
  t.same(keys, ['a:10.0.0.1', 'u:alice']);
  for (let i = 0; i < 3; i++) {
    t.equal(l.retryAfter(keys), 0, `attempt ${i + 1} allowed`);
    l.fail(keys);
    now += 10_000;
  }
  t.equal(l.retryAfter(keys), 30, 'oldest failure was 30 s ago: wait 30 s');
  t.equal(l.retryAfter(LoginRateLimiter.keys('10.0.0.2', 'alice')), 30, 'the username is limited from any address');
  t.equal(l.retryAfter(LoginRateLimiter.keys('10.0.0.1', 'bob')), 30, 'and the address for any username');
  t.equal(l.retryAfter(LoginRateLimiter.keys('10.0.0.2', 'bob')), 0, 'others are not');
  now += 30_000;
  t.equal(l.retryAfter(keys), 0, 'free once the oldest failure left the window');
});

t.test('a success clears the keys; 0 disables', async (t) => {
  const l = new LoginRateLimiter({ maxFailures: 2, windowSeconds: 60 });
  const keys = LoginRateLimiter.keys('a', 'u');
  l.fail(keys);
  l.succeed(keys);
  l.fail(keys);
  t.equal(l.retryAfter(keys), 0);
  const off = new LoginRateLimiter({ maxFailures: 0, windowSeconds: 60 });
  for (let i = 0; i < 100; i++) off.fail(keys);
  t.equal(off.retryAfter(keys), 0);
  t.equal(off.size, 0, 'nothing kept when disabled');
});

t.test('memory is bounded', async (t) => {
  const l = new LoginRateLimiter({ maxFailures: 5, windowSeconds: 60, maxKeys: 100 });
  for (let i = 0; i < 10_000; i++) l.fail([`a:${i}`]);
  t.equal(l.size, 100, 'the least recently failed keys are evicted');
  l.fail(['a:x', 'a:x', 'a:x', 'a:x', 'a:x', 'a:x', 'a:x']);
  t.ok(l.retryAfter(['a:x']) > 0, 'a key keeps at most max timestamps and still limits');
});

t.test('IPv6 clients count per /64 whatever the spelling; IPv4-mapped addresses as their IPv4 client', async (t) => {
  const key = (address: string) => LoginRateLimiter.keys(address)[0];
  t.equal(key('2001:db8:0:1::1'), key('2001:0db8:0000:0001:ffff:0:0:2'), 'two hosts of one /64');
  t.equal(key('2001:db8::1'), key('2001:db8:0:0:5::'), 'compressed spellings of one /64');
  t.equal(key('2001:db8::1'), 'a:2001:db8:0:0::/64');
  t.not(key('2001:db8:0:1::1'), key('2001:db8:0:2::1'), 'neighbouring /64s are separate');
  t.equal(key('FE80::1%eth0'), key('fe80::2'), 'zone and case do not matter');
  t.equal(key('::ffff:10.0.0.1'), 'a:10.0.0.1', 'IPv4-mapped');
  t.equal(key('::ffff:a00:1'), 'a:10.0.0.1', 'IPv4-mapped in hex');
  t.equal(key('10.0.0.1'), 'a:10.0.0.1');
});

t.test('count: every event is limited, not just failures (sign-ups per address)', async (t) => {
  let now = 0;
  const l = new LoginRateLimiter({ maxFailures: 2, windowSeconds: 600, now: () => now });
  const keys = LoginRateLimiter.keys('2001:db8::7');
  l.count(keys);
  l.count(LoginRateLimiter.keys('2001:db8::8'));
  t.equal(l.retryAfter(keys), 600, 'the /64 used its budget');
  now += 600_000;
  t.equal(l.retryAfter(keys), 0, 'and gets it back after the window');
});
