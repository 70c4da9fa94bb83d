import { readFileSync } from 'node:fs';
import { ConfigError } from '../core/errors.js';

/**
 * A setting from the environment: `NAME`, else the contents of the file `NAME_FILE` names (the
 * Docker secrets convention, so a deployment keeps secrets in files, not in plain environment
 * values). Trailing white space is dropped. Undefined when neither is set or the value is empty.
 */
export function envValue(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const direct = env[name];
  if (direct !== undefined && direct !== '') return direct;
  const file = env[`${name}_FILE`];
  if (file === undefined || file === '') return undefined;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError('environment', `${name}_FILE`, `cannot read ${file}: ${(e as Error).message}`);
  }
  // Trailing white space and newlines are not part of a secret (editors add them; deploy init trims).
  const value = text.replace(/\s+$/, '');
  return value === '' ? undefined : value;
}
