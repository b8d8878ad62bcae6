import t from 'tap';
import { dnsLabel, labelValue, objectName, safeSlug, templateNames } from './names.js';

t.test('safeSlug keeps clean names and makes the rest readable, valid and unique', async (t) => {
  t.equal(safeSlug('alice'), 'alice', 'a clean name is kept');
  t.equal(safeSlug('bob-smith'), 'bob-smith');
  for (const name of ['Alice', 'user@example.com', 'a--b', '1student', 'x-', 'é', '', 'a'.repeat(40), '---']) {
    const slug = safeSlug(name);
    t.match(slug, /^[a-z][a-z0-9-]*[a-z0-9]$/, `${JSON.stringify(name)} -> ${slug}: lowercase, dashes, starts with a letter`);
    t.match(slug, /---[0-9a-f]{8}$/, 'with a hash of the original');
    t.ok(slug.length <= 48, 'and short enough for a label');
  }
  t.not(safeSlug('Alice'), safeSlug('alice'), 'names differing only in case do not collide');
  t.not(safeSlug('a.b'), safeSlug('a-b'), 'nor do a.b and a-b');
});

t.test('dnsLabel and labelValue', async (t) => {
  t.equal(dnsLabel('jupyter-alice'), 'jupyter-alice');
  const long = dnsLabel(`jupyter-${'x'.repeat(80)}`);
  t.ok(long.length <= 63 && /^[a-z0-9-]+[a-z0-9]$/.test(long), 'long names are cut and hashed');
  t.not(dnsLabel(`jupyter-${'x'.repeat(80)}`), dnsLabel(`jupyter-${'x'.repeat(81)}`), 'keeping them distinct');
  t.equal(labelValue('Lab_2.v1'), 'Lab_2.v1', 'label values may hold capitals, dots and underscores');
  t.equal(labelValue(''), '', 'and may be empty');
  t.match(labelValue('a@b'), /^a-b-[0-9a-f]{8}$/, 'others are made valid');
});

t.test('template names and object names', async (t) => {
  const n = templateNames('alice', 'gpu', 'jhub');
  t.match(n, { username: 'alice', servername: 'gpu', user_server: 'alice--gpu', unescaped_username: 'alice', escaped_username: 'alice', namespace: 'jhub' });
  t.equal(objectName('jupyter-{user_server}', n), 'jupyter-alice--gpu');
  t.equal(objectName('jupyter-{username}--{servername}', templateNames('alice', '', 'jhub')), 'jupyter-alice', 'trailing dashes of an empty server name are dropped');
  t.equal(templateNames('a@b', '', 'x').escaped_username, 'a-40b', 'escaped_username keeps the dockerspawner escape');
});
