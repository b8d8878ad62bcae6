import t from 'tap';
import type { CoreV1Event, V1Pod } from '@kubernetes/client-node';
import { pollView, startView } from './pod-status.js';

const pod = (status: V1Pod['status'], deleting = false): V1Pod => ({
  metadata: { name: 'jupyter-a', uid: 'u1', ...(deleting ? { deletionTimestamp: new Date() } : {}) },
  spec: { containers: [{ name: 'notebook' }] },
  status,
});
const waiting = (reason: string, message?: string): V1Pod['status'] => ({ phase: 'Pending', containerStatuses: [{ name: 'notebook', image: 'i', imageID: '', ready: false, restartCount: 0, state: { waiting: { reason, message } } }] });
const event = (reason: string, message = ''): CoreV1Event => ({ metadata: {}, involvedObject: { kind: 'Pod', name: 'jupyter-a', uid: 'u1' }, reason, message });
const unschedulable: V1Pod['status'] = { phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/2 nodes are available' }] };

t.test('startView', async (t) => {
  const rows: [string, V1Pod | undefined, CoreV1Event[], object][] = [
    ['pending', pod({ phase: 'Pending' }), [], { state: 'waiting' }],
    ['container creating', pod(waiting('ContainerCreating')), [], { state: 'waiting' }],
    ['running with an IP', pod({ phase: 'Running', podIP: '10.0.0.7' }), [], { state: 'running', podIP: '10.0.0.7' }],
    ['running without an IP yet', pod({ phase: 'Running' }), [], { state: 'waiting' }],
    ['image pull back-off', pod(waiting('ImagePullBackOff', 'Back-off pulling image "i"')), [], { state: 'failed', reason: 'image-pull', message: /image i could not be pulled \(ImagePullBackOff: Back-off/ }],
    ['err image pull', pod(waiting('ErrImagePull')), [], { state: 'failed', reason: 'image-pull' }],
    ['bad config', pod(waiting('CreateContainerConfigError', 'secret "x" not found')), [], { state: 'failed', reason: 'container-config', message: /secret "x" not found/ }],
    ['crash loop', pod({ phase: 'Running', containerStatuses: [{ name: 'notebook', image: 'i', imageID: '', ready: false, restartCount: 3, state: { waiting: { reason: 'CrashLoopBackOff' } }, lastState: { terminated: { exitCode: 2, reason: 'Error' } } }] }), [], { state: 'failed', reason: 'exited', message: /exited with code 2 \(Error\)/ }],
    ['unschedulable', pod(unschedulable), [event('FailedScheduling')], { state: 'failed', reason: 'unschedulable', message: 'The pod cannot be scheduled: 0/2 nodes are available' }],
    ['unschedulable, but the autoscaler adds a node', pod(unschedulable), [event('TriggeredScaleUp', 'pod triggered scale-up')], { state: 'waiting' }],
    ['deleted', undefined, [], { state: 'failed', reason: 'pod-deleted' }],
    ['being deleted', pod({ phase: 'Running', podIP: '10.0.0.7' }, true), [], { state: 'failed', reason: 'pod-deleted' }],
  ];
  for (const [name, p, events, expected] of rows) t.match(startView(p, events, 'i'), expected, name);
});

t.test('pollView', async (t) => {
  t.same(pollView(undefined), { running: false }, 'gone');
  t.same(pollView(pod({ phase: 'Pending' })), { running: true }, 'pending counts as running');
  t.same(pollView(pod({ phase: 'Running', podIP: 'x' })), { running: true });
  t.same(pollView(pod({ phase: 'Running' }, true)), { running: false }, 'being deleted');
  t.same(pollView(pod({ phase: 'Running', containerStatuses: [{ name: 'notebook', image: 'i', imageID: '', ready: false, restartCount: 0, state: { terminated: { exitCode: 137 } } }] })), { running: false, exitCode: 137 }, 'terminated: its exit code');
  t.same(pollView(pod({ phase: 'Succeeded' })), { running: false, exitCode: 0 });
});
