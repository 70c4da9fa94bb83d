import { createHmac } from 'node:crypto';

/**
 * Keyed pseudonym of a personal identifier: stable for one key (so a vehicle's track can be
 * followed), not reversible without the key, and never the clear value.
 */
export function pseudonymise(key: Buffer, value: string): string {
  return 'ps_' + createHmac('sha256', key).update(value, 'utf8').digest('hex').slice(0, 32);
}

/**
 * The payload of a rejected message with its personal fields pseudonymised, so that dead
 * letters hold no identifier in clear either. Parsed JSON is rewritten; a payload that did not
 * parse has `"field": "value"` pairs replaced textually.
 */
export function redactPersonal(key: Buffer, fields: string[], payload: Buffer, parsed: unknown): Buffer {
  const data = (parsed as { data?: unknown } | null)?.data;
  if (data && typeof data === 'object' && !Array.isArray(data)) {
    const copy = { ...(parsed as object), data: { ...(data as Record<string, unknown>) } };
    for (const f of fields) if (Object.hasOwn(copy.data, f)) copy.data[f] = pseudonymise(key, String(copy.data[f]));
    return Buffer.from(JSON.stringify(copy), 'utf8');
  }
  let text = payload.toString('utf8');
  for (const f of fields) {
    const re = new RegExp(`("${f}"\\s*:\\s*)"((?:[^"\\\\]|\\\\.)*)"?`, 'g');
    text = text.replace(re, (_m, prefix: string, value: string) => `${prefix}"${pseudonymise(key, value)}"`);
  }
  return Buffer.from(text, 'utf8');
}
