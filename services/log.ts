/**
 * The process's structured log: JSON lines on stderr (pino, the logger
 * fastify uses), one logger shared by the HTTP layer and every part of a
 * node. Parts log what an operator must know, each event once: start-up,
 * faults with their cause, recoveries, role changes, pushback episodes. No
 * line per request (the metrics count those).
 */
import pino from 'pino';

export type Logger = Pick<
  pino.Logger,
  'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'child' | 'level'
>;

/** Levels `--log-level` takes. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/**
 * A logger writing JSON lines to stderr, synchronously (a line written
 * before a crash or a kill is not lost in a buffer; the log is quiet
 * enough for that to cost nothing).
 */
export function createLogger(level: LogLevel = 'info', bindings: Record<string, unknown> = {}): Logger {
  return pino(
    { level, base: { pid: process.pid, ...bindings }, timestamp: pino.stdTimeFunctions.isoTime },
    pino.destination({ fd: 2, sync: true }),
  );
}

/** A logger that drops everything (tests, library use). */
export const silentLogger: Logger = pino({ level: 'silent' });

/** The message of an error, for log lines and error bodies. */
export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
