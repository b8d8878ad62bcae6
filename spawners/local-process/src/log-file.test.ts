import { chmod, chown, lstat, mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { ensurePrivateDir, logFilePath, openLogFile, readLogTail } from './log-file.js';

async function tempDir(t: { teardown(fn: () => unknown): void }): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tshub-log-test-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

t.test('logFilePath escapes names and separates the server name unambiguously', async (t) => {
  t.equal(logFilePath('/logs', 'alice', ''), '/logs/alice.log');
  t.equal(logFilePath('/logs', 'alice', 'gpu'), '/logs/alice--gpu.log');
  t.equal(logFilePath('/logs', '../x', ''), '/logs/-2e-2e-2fx.log');
  t.not(logFilePath('/logs', 'a-b', ''), logFilePath('/logs', 'a', 'b'));
  t.not(logFilePath('/logs', 'a', 'b-c'), logFilePath('/logs', 'a-b', 'c'));
});

t.test('openLogFile creates a private file, keeps the previous run and never follows a symlink', async (t) => {
  const dir = await tempDir(t);
  const file = path.join(dir, 'logs', 'alice.log');
  const first = await openLogFile(file);
  await first.write('run 1\n');
  await first.close();
  t.equal((await stat(file)).mode & 0o777, 0o600);
  t.equal((await stat(path.dirname(file))).mode & 0o777, 0o700);
  const second = await openLogFile(file);
  await second.write('run 2\n');
  await second.close();
  t.equal(await readFile(file, 'utf8'), 'run 2\n');
  t.equal(await readFile(`${file}.1`, 'utf8'), 'run 1\n');

  const target = path.join(dir, 'precious');
  await writeFile(target, 'keep me');
  await rm(file);
  await symlink(target, file);
  await (await openLogFile(file)).close();
  t.equal(await readFile(target, 'utf8'), 'keep me', 'the planted symlink was moved aside, not written through');
  t.ok((await lstat(file)).isFile());
});

t.test('ensurePrivateDir refuses directories others could tamper with', async (t) => {
  const dir = await tempDir(t);
  const open = path.join(dir, 'open');
  await mkdir(open);
  await chmod(open, 0o777);
  await t.rejects(ensurePrivateDir(open), /writable by other users/);
  await symlink(dir, path.join(dir, 'link'));
  await t.rejects(ensurePrivateDir(path.join(dir, 'link')), /not a directory/);
  if (process.geteuid?.() === 0) {
    const foreign = path.join(dir, 'foreign');
    await mkdir(foreign, { mode: 0o700 });
    await chown(foreign, 65534, 65534);
    await t.rejects(ensurePrivateDir(foreign), /belongs to uid 65534/);
  }
});

t.test('readLogTail returns the last lines, also of a large file', async (t) => {
  const dir = await tempDir(t);
  t.equal(await readLogTail(path.join(dir, 'missing.log')), '');
  const small = path.join(dir, 'small.log');
  await writeFile(small, 'a\nb\nc');
  t.equal(await readLogTail(small), 'a\nb\nc');
  t.equal(await readLogTail(small, 2), 'b\nc');
  const big = path.join(dir, 'big.log');
  await writeFile(big, Array.from({ length: 5000 }, (_, i) => `line ${i} ${'x'.repeat(20)}`).join('\n') + '\n\n');
  const tail = (await readLogTail(big)).split('\n');
  t.equal(tail.length, 15);
  t.equal(tail[0], `line 4985 ${'x'.repeat(20)}`);
  t.equal(tail[14], `line 4999 ${'x'.repeat(20)}`);
});
