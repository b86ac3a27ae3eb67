/**
 * Durable, atomic replacement of a small file (POSIX): write a temporary
 * file beside it, fsync it, rename it over the target, fsync the directory.
 * After a crash the target holds the old content or the new one, never a
 * mix; once the promise resolves, the new content survives a power loss.
 */
import { open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

let counter = 0;

/** Replaces `path` with `data` atomically and durably; the file gets `mode` (default 0600). */
export async function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o600): Promise<void> {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.tmp-${process.pid}-${counter++}`);
  try {
    const file = await open(tmp, 'wx', mode);
    try {
      await file.writeFile(data);
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => {});
    throw e;
  }
  await syncDirectory(dir);
}

/** Fsyncs a directory, so a rename or a new file in it survives a power loss. */
export async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
