import t from 'tap';
import type { ProxyRoute } from './chp-client.js';
import { diffRoutes } from './route-diff.js';
import type { DesiredRoute } from './route-diff.js';

const T1 = 'http://127.0.0.1:9001';
const T2 = 'http://127.0.0.1:9002';
const HUB = 'http://127.0.0.1:8081';

function actual(routes: Record<string, { target: string; data?: Record<string, unknown> }>): Map<string, ProxyRoute> {
  return new Map(
    Object.entries(routes).map(([routespec, r]) => [
      routespec,
      {
        routespec,
        target: r.target,
        data: { last_activity: '2026-01-01T00:00:00.000Z', ...r.data },
        lastActivity: new Date('2026-01-01T00:00:00.000Z'),
      },
    ]),
  );
}

function desired(routes: Record<string, DesiredRoute>): Map<string, DesiredRoute> {
  return new Map(Object.entries(routes));
}

const alice = { user: 'alice', server_name: '' };

interface Case {
  name: string;
  desired: Record<string, DesiredRoute>;
  actual: Record<string, { target: string; data?: Record<string, unknown> }>;
  keep?: string[];
  add: string[];
  remove: string[];
}

const cases: Case[] = [
  { name: 'empty proxy gets everything', desired: { '/': { target: HUB, data: { hub: true } }, '/user/alice/': { target: T1, data: alice } }, actual: {}, add: ['/', '/user/alice/'], remove: [] },
  { name: 'in sync: nothing to do', desired: { '/user/alice/': { target: T1, data: alice } }, actual: { '/user/alice/': { target: T1, data: alice } }, add: [], remove: [] },
  { name: 'changed target is re-added', desired: { '/user/alice/': { target: T2, data: alice } }, actual: { '/user/alice/': { target: T1, data: alice } }, add: ['/user/alice/'], remove: [] },
  { name: 'hub route target changed', desired: { '/': { target: HUB, data: { hub: true } } }, actual: { '/': { target: 'http://127.0.0.1:1', data: { hub: true } } }, add: ['/'], remove: [] },
  { name: 'changed hub-set data key is re-added', desired: { '/user/alice/': { target: T1, data: { user: 'alice', server_name: 'x' } } }, actual: { '/user/alice/': { target: T1, data: alice } }, add: ['/user/alice/'], remove: [] },
  { name: 'missing hub-set data key is re-added', desired: { '/services/s/': { target: T1, data: { service: 's' } } }, actual: { '/services/s/': { target: T1, data: {} } }, add: ['/services/s/'], remove: [] },
  { name: 'extra CHP keys are ignored', desired: { '/user/alice/': { target: T1, data: alice } }, actual: { '/user/alice/': { target: T1, data: { ...alice, last_activity: 'x', other: 1 } } }, add: [], remove: [] },
  { name: 'nested data compared by value', desired: { '/x/': { target: T1, data: { extra: true, meta: { a: [1, { b: 2 }] } } } }, actual: { '/x/': { target: T1, data: { extra: true, meta: { a: [1, { b: 2 }] } } } }, add: [], remove: [] },
  { name: 'nested data difference re-adds', desired: { '/x/': { target: T1, data: { meta: { a: [1, 2] } } } }, actual: { '/x/': { target: T1, data: { meta: { a: [1] } } } }, add: ['/x/'], remove: [] },
  { name: 'undesired routes are removed', desired: { '/': { target: HUB, data: { hub: true } } }, actual: { '/': { target: HUB, data: { hub: true } }, '/user/bob/': { target: T2, data: { user: 'bob', server_name: '' } } }, add: [], remove: ['/user/bob/'] },
  { name: 'pending spawner routes are kept', desired: {}, actual: { '/user/bob/': { target: T2, data: { user: 'bob', server_name: '' } }, '/user/carol/': { target: T1 } }, keep: ['/user/bob/'], add: [], remove: ['/user/carol/'] },
  { name: 'keep does not add anything', desired: {}, actual: {}, keep: ['/user/bob/'], add: [], remove: [] },
  { name: 'escaping differences are the same route', desired: { '/user/a%40b.c/': { target: T1, data: { user: 'a@b.c', server_name: '' } } }, actual: { '/user/a@b.c/': { target: T1, data: { user: 'a@b.c', server_name: '' } } }, add: [], remove: [] },
  { name: 'unicode raw vs escaped is the same route', desired: { '/user/élève/': { target: T1, data: {} } }, actual: { '/user/%C3%A9l%C3%A8ve/': { target: T1, data: {} } }, add: [], remove: [] },
  { name: 'keep matches canonically', desired: {}, actual: { '/user/a@b.c/': { target: T1 } }, keep: ['/user/a%40b.c/'], add: [], remove: [] },
  { name: 'desired and pending at once: desired wins (re-added on change)', desired: { '/user/bob/': { target: T2, data: {} } }, actual: { '/user/bob/': { target: T1 } }, keep: ['/user/bob/'], add: ['/user/bob/'], remove: [] },
];

for (const c of cases) {
  t.test(c.name, async (t) => {
    const want = desired(c.desired);
    const have = actual(c.actual);
    const result = diffRoutes(want, have, c.keep ? new Set(c.keep) : undefined);
    t.same(result.add.map((r) => r.routespec).sort(), [...c.add].sort(), 'add');
    t.same(result.remove.sort(), [...c.remove].sort(), 'remove');
    for (const r of result.add) {
      const d = want.get(r.routespec);
      t.equal(r.target, d?.target);
      t.same(r.data, d?.data);
    }
  });
}

t.test('diffRoutes does not modify its inputs', async (t) => {
  const want = desired({ '/user/alice/': { target: T2, data: { ...alice } } });
  const have = actual({ '/user/alice/': { target: T1, data: alice }, '/old/': { target: T1 } });
  const before = JSON.stringify([[...want], [...have]]);
  diffRoutes(want, have, new Set(['/x/']));
  t.equal(JSON.stringify([[...want], [...have]]), before);
});
