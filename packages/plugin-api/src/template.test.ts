import t from 'tap';
import { escapeUsername, formatTemplate } from './template.js';

t.test('formatTemplate expands known placeholders and keeps unknown ones', async (t) => {
  t.equal(formatTemplate('/home/{username}/{servername}', { username: 'alice', servername: 'x' }), '/home/alice/x');
  t.equal(formatTemplate('{nope}/{username}', { username: 'a' }), '{nope}/a');
});

t.test('escapeUsername keeps a-z0-9 and hex-escapes the rest without collisions', async (t) => {
  t.equal(escapeUsername('alice'), 'alice');
  t.equal(escapeUsername('a.b@c'), 'a-2eb-40c');
  t.not(escapeUsername('a_b'), escapeUsername('a-b'));
  t.equal(escapeUsername('é'), '-c3a9');
});
