/**
 * Per-server log files. The server writes straight into a file rather than a pipe to the hub: a pipe
 * would break (SIGPIPE) when the hub restarts, a file outlives it.
 */
import { constants } from 'node:fs';
import { chown, lstat, mkdir, open, rename, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { escapeUsername } from '@tshub/plugin-api';

/** How many trailing lines {@link readLogTail} returns by default. */
export const TAIL_LINES = 15;
/** Never read more than this from the end of a log: the tail of a chatty server is enough. */
const TAIL_BYTES = 16 * 1024;

/**
 * `<log_dir>/<escaped user>.log`, or `<escaped user>--<escaped server>.log` for a named server.
 * An escaped name never contains "--" (every '-' it makes is followed by hex digits), so names cannot collide.
 */
export function logFilePath(logDir: string, userName: string, serverName: string): string {
  const base = escapeUsername(userName) + (serverName === '' ? '' : `--${escapeUsername(serverName)}`);
  return path.join(path.resolve(logDir), `${base}.log`);
}

/**
 * Creates `dir` (mode 0700) if needed and refuses one that another user could tamper with: in a
 * shared /tmp somebody else could create it first and plant a symlink where a log file will go.
 */
export async function ensurePrivateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const st = await lstat(dir);
  const euid = process.geteuid?.();
  if (!st.isDirectory()) throw new Error(`log_dir ${dir} is not a directory`);
  if (euid !== undefined && st.uid !== euid) throw new Error(`log_dir ${dir} belongs to uid ${st.uid}, not to the hub (uid ${euid})`);
  if ((st.mode & 0o022) !== 0) throw new Error(`log_dir ${dir} is writable by other users (mode ${(st.mode & 0o777).toString(8)})`);
}

/**
 * Opens a fresh log for one run: keeps the previous run as `<file>.1`, creates the file with mode 0600
 * without following symlinks, and (for system users) hands it to the user. The caller closes the
 * handle once the child has inherited it.
 */
export async function openLogFile(file: string, owner?: { uid: number; gid: number }): Promise<FileHandle> {
  await ensurePrivateDir(path.dirname(file));
  await rename(file, `${file}.1`).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err;
  });
  const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW | constants.O_APPEND;
  const handle = await open(file, flags, 0o600);
  try {
    if (owner !== undefined) await chown(file, owner.uid, owner.gid);
  } catch (err) {
    await handle.close();
    throw err;
  }
  return handle;
}

/**
 * The last `lines` lines of a log file ('' when it does not exist), read from at most the last 16 KiB.
 * Used to show why a server died while starting.
 */
export async function readLogTail(file: string, lines = TAIL_LINES): Promise<string> {
  let handle: FileHandle;
  try {
    handle = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch {
    return '';
  }
  try {
    const { size } = await handle.stat();
    const length = Math.min(size, TAIL_BYTES);
    const buffer = Buffer.alloc(length);
    await handle.read(buffer, 0, length, size - length);
    let text = buffer.toString('utf8');
    // A cut in the middle leaves a partial first line (and maybe half a character): drop it.
    if (length < size) text = text.slice(text.indexOf('\n') + 1);
    const all = text.replace(/\n+$/, '').split('\n');
    return all.slice(-lines).join('\n');
  } finally {
    await handle.close();
  }
}
