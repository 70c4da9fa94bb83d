import { execFileSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';

/** Full path of an executable on PATH (or in /usr/sbin), or undefined. */
export function which(bin: string): string | undefined {
  for (const dir of [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/usr/bin', '/sbin']) {
    try {
      accessSync(`${dir}/${bin}`, constants.X_OK);
      return `${dir}/${bin}`;
    } catch {
      /* not here */
    }
  }
  return undefined;
}

/**
 * Finds `bin`, installing Debian package `pkg` when it is missing and we are root.
 * Throws with a clear message when neither works.
 */
export function ensureDebianBinary(bin: string, pkg: string, log: (msg: string) => void = console.error): string {
  ensureDebianPackage(pkg, () => which(bin) !== undefined, bin, log);
  return which(bin)!;
}

/**
 * Installs Debian package `pkg` unless `present()` already holds (a binary on PATH, a Python
 * module importable), when we are root. Throws with a clear message, naming `what`, otherwise.
 */
export function ensureDebianPackage(pkg: string, present: () => boolean, what: string, log: (msg: string) => void = console.error): void {
  if (present()) return;
  if (process.getuid?.() !== 0) throw new Error(`${what} not found; install the Debian package "${pkg}" (apt-get install ${pkg})`);
  log(`${what} not found: installing Debian package ${pkg} ...`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  try {
    execFileSync('apt-get', ['install', '-y', '-q', pkg], { stdio: 'ignore', env });
  } catch {
    execFileSync('apt-get', ['update', '-q'], { stdio: 'ignore', env });
    execFileSync('apt-get', ['install', '-y', '-q', pkg], { stdio: 'ignore', env });
  }
  if (!present()) throw new Error(`installed ${pkg} but ${what} is still not there`);
}
