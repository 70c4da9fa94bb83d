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
export function readYamlFile(file: string): YamlFile {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
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
