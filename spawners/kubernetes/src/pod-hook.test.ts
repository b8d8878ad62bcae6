import type { V1Pod } from '@kubernetes/client-node';
import t from 'tap';
import { applyPodHook } from './pod-hook.js';

const pod = (): V1Pod => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'jupyter-ann', namespace: 'jhub', labels: { a: '1' } }, spec: { containers: [{ name: 'notebook', image: 'x' }] } });
const ctx = { userName: 'ann', serverName: '', userOptions: {}, namespace: 'jhub' };

t.test('no hook: the built pod as it is', async (t) => {
  const p = pod();
  t.equal(await applyPodHook(undefined, p, ctx), p);
  t.equal(await applyPodHook(null, p, ctx), p);
});

t.test('the hook gets a copy; its result, or the changed copy when it returns nothing, is the pod', async (t) => {
  const p = pod();
  const changed = await applyPodHook((x) => {
    x.metadata!.labels!.b = '2';
  }, p, ctx);
  t.same(changed.metadata?.labels, { a: '1', b: '2' }, 'changed in place, returned nothing');
  t.same(p.metadata?.labels, { a: '1' }, 'the built pod itself is untouched');
  const replaced = await applyPodHook(async (x) => ({ ...x, spec: { ...x.spec!, nodeName: 'n1' } }), p, ctx);
  t.equal(replaced.spec?.nodeName, 'n1', 'an async hook returning a new manifest');
});

t.test('failures name the hook', async (t) => {
  await t.rejects(applyPodHook(() => Promise.reject(new Error('nope')), pod(), ctx), { reason: 'modify-pod-hook', message: /^spawner\.modify_pod_hook failed for ann's server: nope$/ });
  await t.rejects(applyPodHook(() => ({ metadata: { name: 'jupyter-ann' } }) as V1Pod, pod(), ctx), { message: /must return a pod manifest/ }, 'a manifest without spec');
  await t.rejects(applyPodHook((x) => ({ ...x, metadata: { ...x.metadata, namespace: 'kube-system' } }), pod(), ctx), { message: /may not rename or move the pod/ });
});
