import { chmodSync, chownSync, closeSync, existsSync, openSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { ConfigError } from '../core/errors.js';

/**
 * Files replaced together, or not at all: each new text goes to a temporary file beside its
 * target (with the old file's mode and owner: a deployment may have made a registry or password
 * file readable by the container user that reads it; a new file is private, 0600), then every
 * temporary file is renamed over its target. A reader never sees half a file, and a failure
 * before the renames changes nothing.
 */
export class FileSet {
  private readonly staged: { file: string; next: string; last: boolean }[] = [];

  /**
   * Writes `text` beside `file`; `check` may refuse it (throw) by reading the temporary file.
   * A file staged `last` is put in place after the others.
   */
  stage(file: string, text: string, check?: (next: string) => void, last = false): void {
    const old = existsSync(file) ? statSync(file) : undefined;
    const next = `${file}.${process.pid}.next`;
    this.staged.push({ file, next, last });
    writeFileSync(next, text, { mode: 0o600 });
    // writeFileSync's mode passes through the umask: set the old mode exactly.
    chmodSync(next, old ? old.mode & 0o777 : 0o600);
    if (old && process.getuid?.() === 0) chownSync(next, old.uid, old.gid);
    check?.(next);
  }

  /** Puts every staged file in place: in the order staged, those staged `last` after the rest. */
  commit(): void {
    for (const { file, next } of [...this.staged.filter((s) => !s.last), ...this.staged.filter((s) => s.last)]) renameSync(next, file);
    this.staged.length = 0;
  }

  /** Removes what is staged and not committed. */
  discard(): void {
    for (const { next } of this.staged) rmSync(next, { force: true });
    this.staged.length = 0;
  }
}

/** Replaces one file whole (see FileSet). */
export function writeKeepingMode(file: string, text: string, check?: (next: string) => void): void {
  const set = new FileSet();
  try {
    set.stage(file, text, check);
    set.commit();
  } finally {
    set.discard();
  }
}

/**
 * Runs `fn` holding an exclusive lock on `file` (a `.lock` file beside it, created exclusively):
 * two `jlpipe devices` at once must not both read the registry, change it and write it back.
 */
export function withLock<T>(file: string, fn: () => T): T {
  const lock = `${file}.lock`;
  let fd: number;
  try {
    fd = openSync(lock, 'wx', 0o600);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new ConfigError(file, '', `another jlpipe devices command is changing it (lock file ${lock}; remove that file if none runs)`);
    throw e;
  }
  try {
    writeFileSync(fd, `${process.pid}\n`);
    return fn();
  } finally {
    closeSync(fd);
    rmSync(lock, { force: true });
  }
}
