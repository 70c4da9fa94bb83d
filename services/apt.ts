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
  const found = which(bin);
  if (found) return found;
  if (process.getuid?.() !== 0) throw new Error(`${bin} not found; install the Debian package "${pkg}" (apt-get install ${pkg})`);
  log(`${bin} not found: installing Debian package ${pkg} ...`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  try {
    execFileSync('apt-get', ['install', '-y', '-q', pkg], { stdio: 'ignore', env });
  } catch {
    execFileSync('apt-get', ['update', '-q'], { stdio: 'ignore', env });
    execFileSync('apt-get', ['install', '-y', '-q', pkg], { stdio: 'ignore', env });
  }
  const installed = which(bin);
  if (!installed) throw new Error(`installed ${pkg} but ${bin} is still not on PATH`);
  return installed;
}
