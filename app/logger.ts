import { pino, type DestinationStream, type Logger } from 'pino';

/**
 * Fields that hold a secret wherever they appear in a log object (up to four levels deep):
 * a device's signing keys, passwords, tokens. The code does not log them; this is the guard
 * that keeps a future `log.info({ device })` from writing a key into the logs.
 */
const SECRET_FIELDS = ['key', 'previousKey', 'password', 'token', 'pseudonymKey', 'sig', 'secret', 'authorization'];
/** Each field at the top level, in objects up to three levels down, and in arrays' items there. */
export const REDACT_PATHS = SECRET_FIELDS.flatMap((f) => [f, `*.${f}`, `*.*.${f}`, `*.*.*.${f}`, `*[*].${f}`, `*.*[*].${f}`]);

/** The pipeline's logger (pino, JSON lines) with secrets censored. */
export function makeLogger(level: string, base?: Record<string, unknown>, dest?: DestinationStream): Logger {
  const opts = { level, ...(base ? { base } : {}), redact: { paths: REDACT_PATHS, censor: '***' } };
  return dest ? pino(opts, dest) : pino(opts);
}
