// Writing a file so that a crash (kill -9, power cut) leaves either the old
// content or the new, never a torn mix, and the new content is on disk before
// the call returns: write a temporary file, fsync it, rename it over the target,
// fsync the directory (so the rename itself is durable).
import { open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export async function writeFileDurably(path: string, content: string, mode = 0o600): Promise<void> {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${process.pid}.tmp`);
  const file = await open(tmp, 'w', mode);
  try {
    await file.writeFile(content);
    await file.sync();
  } catch (err) {
    await file.close();
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  await file.close();
  await rename(tmp, path);
  const d = await open(dir, 'r');
  try {
    await d.sync();
  } finally {
    await d.close();
  }
}
