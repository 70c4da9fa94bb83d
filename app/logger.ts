import { pino, type DestinationStream, type Logger } from 'pino';
import pretty from 'pino-pretty';

/**
 * Fields that hold a secret wherever they appear in a log object (up to four levels deep):
 * a device's signing keys, passwords, tokens. The code does not log them; this is the guard
 * that keeps a future `log.info({ device })` from writing a key into the logs.
 */
const SECRET_FIELDS = ['key', 'previousKey', 'password', 'token', 'pseudonymKey', 'sig', 'secret', 'authorization'];
/** Each field at the top level, in objects up to three levels down, and in arrays' items there. */
export const REDACT_PATHS = SECRET_FIELDS.flatMap((f) => [f, `*.${f}`, `*.*.${f}`, `*.*.*.${f}`, `*[*].${f}`, `*.*[*].${f}`]);

/**
 * The pipeline's logger (pino) with secrets censored: JSON lines, or, when stdout is a terminal
 * (and JL_LOG_JSON is not set), lines a person reads: local time, level, message, fields.
 */
export function makeLogger(level: string, base?: Record<string, unknown>, dest?: DestinationStream, env: NodeJS.ProcessEnv = process.env): Logger {
  const opts = { level, ...(base ? { base } : {}), redact: { paths: REDACT_PATHS, censor: '***' } };
  if (dest) return pino(opts, dest);
  if (process.stdout.isTTY && !env.JL_LOG_JSON) return pino(opts, prettyStream());
  return pino(opts);
}

/** The terminal form: synchronous (no worker thread), local time, no pid or hostname. */
export function prettyStream(destination: DestinationStream | NodeJS.WritableStream = process.stdout, colorize = true): DestinationStream {
  return pretty({ destination, colorize, sync: true, translateTime: 'SYS:yyyy-mm-dd HH:MM:ss.l', ignore: 'pid,hostname,svc' });
}
