import { chownSync, existsSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';

/**
 * Replaces a file whole (a temporary file, then a rename, so a reader never sees half of it),
 * keeping the old file's mode and owner: a deployment may have made a registry or password file
 * readable by the container user that reads it. A new file is private (0600). `check` may refuse
 * the new text (throw) before it replaces the old.
 */
export function writeKeepingMode(file: string, text: string, check?: (next: string) => void): void {
  const old = existsSync(file) ? statSync(file) : undefined;
  const next = `${file}.next`;
  rmSync(next, { force: true });
  try {
    writeFileSync(next, text, { mode: old ? old.mode & 0o777 : 0o600 });
    check?.(next);
    if (old && process.getuid?.() === 0) chownSync(next, old.uid, old.gid);
    renameSync(next, file);
  } finally {
    rmSync(next, { force: true });
  }
}
