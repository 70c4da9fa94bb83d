import { createHmac } from 'node:crypto';

/**
 * Keyed pseudonym of a personal identifier: stable for one key (so a vehicle's track can be
 * followed), not reversible without the key, and never the clear value.
 */
export function pseudonymise(key: Buffer, value: string): string {
  return 'ps_' + createHmac('sha256', key).update(value, 'utf8').digest('hex').slice(0, 32);
}

/** A personal field name as it may appear inside a JSON string: each character literal or `\uXXXX`. */
function escapedName(name: string): string {
  const hex = (c: string) => c.charCodeAt(0).toString(16).padStart(4, '0');
  return [...name]
    .map((c) => {
      const forms = new Set([c.toLowerCase(), c.toUpperCase()]);
      const alts = [...forms].flatMap((f) => [f.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), `\\\\u${hex(f)}`]);
      return `(?:${alts.join('|')})`;
    })
    .join('');
}

interface Matchers {
  names: Set<string>;
  /** Any occurrence of a name (quick test whether anything can need redaction). */
  any: RegExp;
  /** The same, global. */
  anyAll: RegExp;
  /** A JSON member `"name" :` of one of the names; the value starts at `lastIndex`. */
  member: RegExp;
}

const cache = new Map<string, Matchers>();

function matchers(fields: Iterable<string>): Matchers {
  const names = new Set([...fields].map((f) => f.toLowerCase()));
  const id = [...names].sort().join('\n');
  let m = cache.get(id);
  if (!m) {
    const alt = [...names].map(escapedName).join('|');
    m = { names, any: new RegExp(alt, 'i'), anyAll: new RegExp(alt, 'gi'), member: new RegExp(`"(?:${alt})"\\s*:\\s*`, 'gi') };
    if (cache.size > 64) cache.clear();
    cache.set(id, m);
  }
  return m;
}

/** End (exclusive) of the JSON value starting at `i`, tolerating a value cut short. */
function valueEnd(text: string, i: number): number {
  const c = text[i];
  if (c === '"') {
    for (let j = i + 1; j < text.length; j++) {
      if (text[j] === '\\') j++;
      else if (text[j] === '"') return j + 1;
    }
    return text.length;
  }
  if (c === '[' || c === '{') {
    let depth = 0;
    for (let j = i; j < text.length; j++) {
      const d = text[j];
      if (d === '"') j = valueEnd(text, j) - 1;
      else if (d === '[' || d === '{') depth++;
      else if ((d === ']' || d === '}') && --depth === 0) return j + 1;
    }
    return text.length;
  }
  const stop = /[,}\]\s]/g;
  stop.lastIndex = i;
  return stop.exec(text)?.index ?? text.length;
}

/** The clear value of a raw JSON value, as the parsed path would see it (for the same pseudonym). */
function clearOf(raw: string): string {
  try {
    const v: unknown = JSON.parse(raw);
    return typeof v === 'string' ? v : JSON.stringify(v);
  } catch {
    return raw.startsWith('"') ? raw.slice(1).replace(/"$/, '') : raw;
  }
}

export const CUT_MARK = '…[cut: a personal field name in a form not redacted]';

/**
 * Textual redaction: the value of every `"name":` member (any escape form of the name) is
 * replaced. A name found in any other form (e.g. in JSON escaped inside a string) cuts the text
 * there, so no form of it is followed by a clear value.
 */
function redactText(key: Buffer, m: Matchers, text: string): string {
  const spans: { from: number; to: number; value: number }[] = [];
  m.member.lastIndex = 0;
  for (let hit = m.member.exec(text); hit; hit = m.member.exec(text)) {
    const value = m.member.lastIndex;
    const to = valueEnd(text, value);
    spans.push({ from: hit.index, to, value });
    m.member.lastIndex = Math.max(to, value + 1);
  }
  let cut = text.length;
  m.anyAll.lastIndex = 0;
  for (let hit = m.anyAll.exec(text), s = 0; hit; hit = m.anyAll.exec(text)) {
    while (s < spans.length && spans[s].to <= hit.index) s++;
    if (s === spans.length || hit.index < spans[s].from) {
      cut = hit.index;
      break;
    }
  }
  let out = '';
  let from = 0;
  for (const sp of spans) {
    if (sp.from >= cut) break;
    out += text.slice(from, sp.value) + `"${pseudonymise(key, clearOf(text.slice(sp.value, sp.to)))}"`;
    from = sp.to;
  }
  return out + text.slice(from, cut) + (cut < text.length ? CUT_MARK : '');
}

const pseudonymOf = (key: Buffer, v: unknown) => pseudonymise(key, typeof v === 'string' ? v : (JSON.stringify(v) ?? String(v)));

/**
 * Redacts a parsed JSON value in place: a member named like a personal field, at any depth, is
 * pseudonymised; a string holding such a member (JSON inside a string) is redacted textually.
 * Iterative, so a deeply nested payload cannot overflow the stack. Returns whether it changed.
 */
function redactParsed(key: Buffer, m: Matchers, root: Record<string, unknown>): boolean {
  let changed = false;
  const stack: object[] = [root];
  const set = (o: object, k: string, v: unknown) => {
    // defineProperty: plain assignment to a `__proto__` member would be ignored.
    Object.defineProperty(o, k, { value: v, writable: true, enumerable: true, configurable: true });
    changed = true;
  };
  while (stack.length) {
    const o = stack.pop()!;
    for (const [k, v] of Object.entries(o)) {
      if (!Array.isArray(o) && m.names.has(k.toLowerCase())) set(o, k, pseudonymOf(key, v));
      else if (typeof v === 'string' && m.any.test(v)) {
        const r = redactText(key, m, v);
        if (r !== v) set(o, k, r);
      } else if (v && typeof v === 'object') stack.push(v as object);
    }
  }
  return changed;
}

/**
 * The payload of a rejected message with every personal field pseudonymised, so that dead
 * letters hold no identifier in clear either. `fields` should name every personal field the
 * payload may carry (the caller passes all of the catalogue's: the topic may be wrong).
 *
 * A payload that parses (and `parse` allows) is rewritten from its parsed value: JSON.parse has
 * decoded escapes in key names, and a name is matched at any depth and in any letter case. One
 * that does not (or too large to parse) is redacted textually, matching `\uXXXX` escapes of any
 * character of the name; a value cut short is replaced up to the end, and a name in any other
 * form cuts the text there. The payload is
 * returned unchanged when no name occurs in it in any form.
 */
export function redactPersonal(key: Buffer, fields: Iterable<string>, payload: Buffer, opts: { parse?: boolean } = {}): Buffer {
  const m = matchers(fields);
  if (m.names.size === 0) return payload;
  const text = payload.toString('utf8');
  if (!m.any.test(text)) return payload;
  if (opts.parse !== false) {
    try {
      const root = { v: JSON.parse(text) as unknown };
      return redactParsed(key, m, root) ? Buffer.from(JSON.stringify(root.v), 'utf8') : payload;
    } catch {
      // not JSON, or too deep to serialise again: textual redaction below
    }
  }
  return Buffer.from(redactText(key, m, text), 'utf8');
}
