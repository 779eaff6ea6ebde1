import { logLevel } from '../config/env';

/**
 * Structured JSON logs, one object per line, so CloudWatch Logs Insights can query them.
 * Values under keys that look secret are masked: a token must never reach a log.
 */
type Level = 'debug' | 'info' | 'warn' | 'error';
const LEVELS: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };
const SECRET_KEY = /token|secret|password|signature|authorization|credential/i;
const SLACK_TOKEN = /xox[abposr]-[\w-]+/g;

function threshold(): number {
  const level = logLevel();
  if (level === 'silent') return Number.POSITIVE_INFINITY;
  return LEVELS[level as Level] ?? LEVELS.info;
}

export function redact(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return value.replace(SLACK_TOKEN, 'xox*-[redacted]');
  if (value instanceof Error) return { name: value.name, message: redact(value.message) };
  if (depth > 6 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    out[key] = SECRET_KEY.test(key) && v !== undefined ? '[redacted]' : redact(v, depth + 1);
  }
  return out;
}

export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

export function createLogger(base: Record<string, unknown> = {}, sink: (line: string) => void = (l) => process.stdout.write(`${l}\n`)): Logger {
  const emit = (level: Level, message: string, fields?: Record<string, unknown>) => {
    if (LEVELS[level] < threshold()) return;
    sink(JSON.stringify({ level, time: new Date().toISOString(), message, ...(redact({ ...base, ...fields }) as object) }));
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (fields) => createLogger({ ...base, ...fields }, sink),
  };
}

export const log = createLogger({ service: 'ecs-chatops' });
