import { Ajv, type Options } from 'ajv';
import addFormatsModule from 'ajv-formats';

// ajv-formats is CommonJS; under NodeNext its default export arrives one level down.
type AddFormats = (ajv: Ajv) => Ajv;
const addFormats = ((addFormatsModule as unknown as { default?: AddFormats }).default ?? addFormatsModule) as AddFormats;

/** Keywords that document a schema without constraining it (units of a field). */
const ANNOTATIONS = ['x-unit'];

/**
 * An ajv instance in strict mode with formats and the project's annotation keywords.
 * `useDefaults` is for config files only: message data is never completed or coerced.
 */
export function makeAjv(options: Options = {}): Ajv {
  const ajv = new Ajv({ strict: true, allErrors: false, coerceTypes: false, ...options });
  addFormats(ajv);
  ajv.addVocabulary(ANNOTATIONS);
  return ajv;
}
