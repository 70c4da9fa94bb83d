import { readFileSync } from 'node:fs';
import { isNode, parseDocument, type Document } from 'yaml';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { ConfigError } from '../core/errors.js';

/** A parsed YAML file that can point back at the line of a path inside it. */
export interface YamlFile {
  file: string;
  text: string;
  value: unknown;
  lineOf(path: (string | number)[]): number | undefined;
}

/** Reads and parses a YAML file; a syntax error becomes a ConfigError with file and line. */
export function readYamlFile(file: string, content?: string): YamlFile {
  let text: string;
  try {
    text = content ?? readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(file, '', `cannot read file: ${(e as Error).message}`);
  }
  const doc: Document = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const err = doc.errors[0];
    throw new ConfigError(file, '', `YAML syntax: ${err.message.split('\n')[0]}`, err.linePos?.[0].line);
  }
  const lineCounter = (offset: number) => text.slice(0, offset).split('\n').length;
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    throw new ConfigError(file, '', `YAML: ${(e as Error).message}`);
  }
  return {
    file,
    text,
    value,
    lineOf(path) {
      // Walk up until a node exists: a missing property points at its parent.
      for (let p = path; ; p = p.slice(0, -1)) {
        const node = p.length === 0 ? doc.contents : doc.getIn(p, true);
        if (isNode(node) && node.range) return lineCounter(node.range[0]);
        if (p.length === 0) return undefined;
      }
    },
  };
}

/** The item a line at [start, end) of the text (item number n) yielded before, if it is known. */
export type KnownLine = (start: number, end: number, n: number) => Record<string, unknown> | undefined;

/** A YAML list read by its fast path: one item a line. */
export interface FlowList {
  items: Record<string, unknown>[];
  /** The 1-based line of each item. */
  lines: number[];
  /** Where each item's line starts in the text, and its length (without the line break). */
  starts: number[];
  lengths: number[];
  /** Indices of the items parsed now (the others came from `known`). */
  parsed: number[];
}

/**
 * Reads a YAML file that is a list of one-line flow mappings (`- { id: a, types: [x, y] }`, the
 * device registry's form) without building a YAML document: the `yaml` library takes about
 * 100 µs a line, 20 s for 200,000 devices, all of it blocking the event loop. The fast path
 * takes only a strict subset (plain keys; plain, quoted or flow-sequence values; comment
 * lines), resolving values as YAML 1.2's core schema does; on any other line the result is
 * `readYamlFile`'s (no `list`), so the value and every error are the same either way.
 * `known(text)` may return a lookup that supplies, for the line at [start, end) of the text
 * (item number n), the item it yielded before: the same line always yields the same item, so it
 * is not parsed again.
 */
export function readYamlList(file: string, known?: (text: string) => KnownLine | undefined): YamlFile & { list?: FlowList } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(file, '', `cannot read file: ${(e as Error).message}`);
  }
  const list = parseFlowList(text, known?.(text));
  if (!list) return readYamlFile(file, text);
  const { items, lines } = list;
  return {
    file,
    text,
    value: items,
    list,
    // Each item sits on one line: every path inside it points there; others at the list.
    lineOf: (path) => lines[typeof path[0] === 'number' && path[0] < lines.length ? path[0] : 0],
  };
}

/** Plain scalars the core schema resolves to something other than a string (bool aside). */
const NOT_A_STRING = /^(?:[Nn]ull|NULL|0o[0-7]+|0x[0-9a-fA-F]+|[0-9]+(?:\.[0-9]*)?(?:[eE][-+]?[0-9]+)?)$/;
const TRUE = /^(?:[Tt]rue|TRUE)$/;
const FALSE = /^(?:[Ff]alse|FALSE)$/;
const SPACE = 0x20;
const HASH = 0x23;
const COMMA = 0x2c;

/** Plain key characters: [A-Za-z0-9_]. */
function isWord(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c === 0x5f;
}

/** Inside a plain scalar: printable ASCII but for flow indicators, `#`, `:` and quotes. */
function isPlain(c: number): boolean {
  return c > SPACE && c < 0x7f && c !== COMMA && c !== 0x5b && c !== 0x5d && c !== 0x7b && c !== 0x7d && c !== HASH && c !== 0x3a && c !== 0x22 && c !== 0x27;
}

/**
 * A plain scalar's value under the core schema: a string, a boolean, or undefined for one that
 * is something else (null, a number), left to the full parser.
 */
function plainValue(v: string): string | boolean | undefined {
  const c = v.charCodeAt(0);
  if (c === 0x74 || c === 0x54) return TRUE.test(v) ? true : v; // t T
  if (c === 0x66 || c === 0x46) return FALSE.test(v) ? false : v; // f F
  if ((c >= 0x30 && c <= 0x39) || c === 0x6e || c === 0x4e) return NOT_A_STRING.test(v) ? undefined : v; // digits, n N
  return v;
}

/**
 * The fast path's cursor, one line at a time; its methods return undefined for what it does not
 * take. Strings equal to the previous line's at the same place are shared, not copied: registry
 * lines repeat keys, sectors, regions and types, and 200,000 devices are a lot of small strings.
 */
class FlowParser {
  s = '';
  p = 0;
  /** The previous line's strings by place (key or value number on the line). */
  private readonly prev: string[] = [];
  private n = 0;

  reset(s: string): void {
    this.s = s;
    this.p = 0;
    this.n = 0;
  }

  /** s[start, end), shared with the previous line's string at this place when equal. */
  private text(start: number, end: number): string {
    const i = this.n++;
    const prev = this.prev[i];
    if (prev !== undefined && prev.length === end - start && this.s.startsWith(prev, start)) return prev;
    return (this.prev[i] = this.s.slice(start, end));
  }

  spaces(): void {
    while (this.s.charCodeAt(this.p) === SPACE) this.p++;
  }

  scalar(): string | boolean | undefined {
    const s = this.s;
    const c = s.charCodeAt(this.p);
    if (c === 0x22 || c === 0x27) {
      const end = s.indexOf(c === 0x22 ? '"' : "'", this.p + 1);
      // Escapes (`\` in "", '' in '') and control characters: left to the full parser.
      if (end < 0 || s.charCodeAt(end + 1) === c) return undefined;
      for (let i = this.p + 1; i < end; i++) {
        const d = s.charCodeAt(i);
        if ((d < SPACE && d !== 0x09) || d === 0x5c || d === 0x7f) return undefined;
      }
      const v = this.text(this.p + 1, end);
      this.p = end + 1;
      return v;
    }
    if (!isWord(c)) return undefined;
    const start = this.p;
    while (isPlain(s.charCodeAt(this.p))) this.p++;
    return plainValue(this.text(start, this.p));
  }

  /** After an entry: true for `,` (more follow), false for the closing bracket. */
  next(close: number): boolean | undefined {
    this.spaces();
    const c = this.s.charCodeAt(this.p++);
    if (c === close) return false;
    if (c !== COMMA) return undefined;
    this.spaces();
    return this.s.charCodeAt(this.p) === close ? undefined : true; // a trailing comma: full parser
  }

  sequence(): unknown[] | undefined {
    this.p++; // [
    this.spaces();
    const seq: unknown[] = [];
    if (this.s.charCodeAt(this.p) === 0x5d) {
      this.p++;
      return seq;
    }
    for (;;) {
      const v = this.scalar();
      if (v === undefined) return undefined;
      seq.push(v);
      const more = this.next(0x5d);
      if (more === undefined) return undefined;
      if (!more) return seq;
    }
  }

  /** `- { key: value, ... }` and an optional comment: the mapping. */
  item(): Record<string, unknown> | undefined {
    const s = this.s;
    if (s.charCodeAt(0) !== 0x2d || s.charCodeAt(1) !== SPACE) return undefined;
    this.p = 1;
    this.spaces();
    if (s.charCodeAt(this.p++) !== 0x7b) return undefined;
    const item: Record<string, unknown> = {};
    this.spaces();
    if (s.charCodeAt(this.p) === 0x7d) this.p++;
    else {
      for (let more = true; more; ) {
        const k0 = this.p;
        while (isWord(s.charCodeAt(this.p))) this.p++;
        if (this.p === k0 || s.charCodeAt(this.p) !== 0x3a || s.charCodeAt(this.p + 1) !== SPACE) return undefined;
        const key = this.text(k0, this.p);
        if (key === '__proto__' || plainValue(key) !== key || Object.hasOwn(item, key)) return undefined;
        this.p += 2;
        this.spaces();
        const value = s.charCodeAt(this.p) === 0x5b ? this.sequence() : this.scalar();
        if (value === undefined) return undefined;
        item[key] = value;
        const n = this.next(0x7d);
        if (n === undefined) return undefined;
        more = n;
      }
    }
    // After the mapping: nothing, or a comment after a space.
    const rest = this.p;
    this.spaces();
    return this.p === s.length || (s.charCodeAt(this.p) === HASH && this.p > rest) ? item : undefined;
  }
}

/**
 * The fast path of `readYamlList`, or undefined when a line is outside its subset (then the
 * full parser decides, errors included).
 */
export function parseFlowList(text: string, known?: KnownLine): FlowList | undefined {
  const list: FlowList = { items: [], lines: [], starts: [], lengths: [], parsed: [] };
  const parser = new FlowParser();
  let line = 0;
  for (let at = 0; at < text.length; ) {
    let end = text.indexOf('\n', at);
    if (end < 0) end = text.length;
    const start = at;
    const stop = text.charCodeAt(end - 1) === 0x0d ? end - 1 : end;
    at = end + 1;
    line++;
    let p = start;
    while (text.charCodeAt(p) === SPACE) p++;
    if (p === stop || text.charCodeAt(p) === HASH) continue; // blank or comment line
    let item = known?.(start, stop, list.items.length);
    if (!item) {
      parser.reset(text.slice(start, stop));
      item = parser.item();
      if (!item) return undefined;
      list.parsed.push(list.items.length);
    }
    list.items.push(item);
    list.lines.push(line);
    list.starts.push(start);
    list.lengths.push(stop - start);
  }
  return list.items.length ? list : undefined;
}

/** JSON pointer `/a/0/b` -> ['a', 0, 'b']. */
export function pointerToPath(pointer: string): (string | number)[] {
  if (!pointer) return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

/** Describes one ajv error in words an operator can act on. */
export function describeAjvError(e: ErrorObject): string {
  switch (e.keyword) {
    case 'additionalProperties':
      return `unknown property "${(e.params as { additionalProperty: string }).additionalProperty}"`;
    case 'required':
      return `missing required property "${(e.params as { missingProperty: string }).missingProperty}"`;
    case 'enum':
      return `must be one of ${JSON.stringify((e.params as { allowedValues: unknown[] }).allowedValues)}`;
    default:
      return e.message ?? e.keyword;
  }
}

/** Validates a parsed file; the first error becomes a ConfigError naming file, path and line. */
export function validateYaml<T>(yaml: YamlFile, validate: ValidateFunction, value: unknown = yaml.value): T {
  if (!validate(value)) {
    const e = validate.errors![0];
    const path = pointerToPath(e.instancePath);
    throw new ConfigError(yaml.file, e.instancePath || '/', describeAjvError(e), yaml.lineOf(path));
  }
  return value as T;
}
