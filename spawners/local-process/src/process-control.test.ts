import { spawn } from 'node:child_process';
import t from 'tap';
import { groupHasLiveMembers, parseProcStat, processStartTime, processStatus } from './process-control.js';

const hasProc = process.platform === 'linux';

t.test('parseProcStat copes with spaces and parentheses in the command name', async (t) => {
  const fields = Array.from({ length: 50 }, (_, i) => String(i + 3));
  fields[0] = 'S';
  fields[2] = '4242'; // pgrp (field 5)
  fields[19] = '987654'; // starttime (field 22)
  t.same(parseProcStat(`123 (odd) name (x)) ${fields.join(' ')}\n`), { state: 'S', pgrp: 4242, startTime: 987654 });
  t.equal(parseProcStat('garbage'), null);
});

t.test('processStatus tells alive, gone and reused apart', { skip: !hasProc && 'needs /proc' }, async (t) => {
  const startTime = await processStartTime(process.pid);
  t.type(startTime, 'number');
  t.equal(await processStatus({ pid: process.pid, startTime }), 'alive');
  t.equal(await processStatus({ pid: process.pid, startTime: null }), 'alive');
  t.equal(await processStatus({ pid: process.pid, startTime: (startTime as number) + 1 }), 'reused');
  t.equal(await processStatus({ pid: 1, startTime: null }), 'gone', 'pid 1 is never ours');
  t.equal(await processStatus({ pid: 0, startTime: null }), 'gone');

  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1e6)'], { detached: true, stdio: 'ignore' });
  t.teardown(() => void child.kill('SIGKILL'));
  await new Promise((r) => child.once('spawn', r));
  const pid = child.pid as number;
  t.ok(await groupHasLiveMembers(pid), 'a detached child leads a live group');
  const exited = new Promise((r) => child.once('exit', r));
  process.kill(-pid, 'SIGKILL');
  await exited;
  t.equal(await processStatus({ pid, startTime: null }), 'gone');
  t.notOk(await groupHasLiveMembers(pid));
});
