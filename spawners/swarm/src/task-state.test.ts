import t from 'tap';
import { prePullOutcome } from './prepull.js';
import { newestTask, viewTask, type TaskInfo } from './task-state.js';

const task = (State: string, Err = '', ExitCode?: number): TaskInfo => ({ Status: { State, Err, ...(ExitCode === undefined ? {} : { ContainerStatus: { ExitCode } }) } });

t.test('task states become progress, readiness or a failure a person can read', async (t) => {
  const cases: [TaskInfo, object][] = [
    [task('new'), { kind: 'progress', progress: 10 }],
    [task('pending'), { kind: 'progress', message: 'Waiting for a node' }],
    [task('pending', 'no suitable node (scheduling constraints not satisfied on 1 node)'), { kind: 'unschedulable', message: /No node can run this server: no suitable node \(scheduling constraints/ }],
    [task('pending', 'no suitable node (insufficient resources on 3 nodes)'), { kind: 'unschedulable', message: /insufficient resources/ }],
    [task('assigned'), { kind: 'progress', message: 'Assigned on node n1' }],
    [task('preparing'), { kind: 'progress', message: /pulling img:1/ }],
    [task('starting'), { kind: 'progress', progress: 65 }],
    [task('running'), { kind: 'running' }],
    [task('rejected', 'No such image: img:1'), { kind: 'failed', reason: 'image-missing', message: 'The image img:1 is not available on node n1: No such image: img:1' }],
    [task('rejected', 'invalid mount config'), { kind: 'failed', reason: 'rejected', message: /rejected the server on node n1: invalid mount config/ }],
    [task('failed', 'task: non-zero exit (2)', 2), { kind: 'failed', reason: 'exited', exitCode: 2, message: /non-zero exit/ }],
    [task('complete', '', 0), { kind: 'failed', reason: 'exited', exitCode: 0, message: /exited on node n1 with code 0 before it was ready/ }],
    [task('shutdown'), { kind: 'failed', reason: 'stopped' }],
  ];
  for (const [input, want] of cases) t.match(viewTask(input, 'img:1', 'n1'), want, `${input.Status?.State} ${input.Status?.Err}`);
});

t.test('the newest task wins', async (t) => {
  t.equal(newestTask([{ ID: 'a', CreatedAt: '2026-01-01T00:00:02Z' }, { ID: 'b', CreatedAt: '2026-01-01T00:00:03Z' }, { ID: 'c', CreatedAt: '2026-01-01T00:00:01Z' }])?.ID, 'b');
  t.equal(newestTask([]), undefined);
});

t.test('pre-pull outcome per node', async (t) => {
  t.equal(prePullOutcome(task('preparing')), null, 'still pulling');
  t.same(prePullOutcome(task('complete')), { ok: true, message: 'image present' });
  t.same(prePullOutcome(task('failed', 'starting container failed: exec: "true": executable file not found')), { ok: true, message: 'image present' }, 'the throw-away command may be missing; the image is there');
  t.same(prePullOutcome(task('rejected', 'No such image: x:1')), { ok: false, message: 'pull failed: No such image: x:1' });
});
