/**
 * JSON logs with pino. Nothing secret may reach a log line: request logs carry the method, the path
 * without its query string, the status and the client address; headers that can hold a secret or a
 * key are redacted anyway, should anything log them.
 */
import pino, { type DestinationStream, type Logger } from 'pino';
import { redactSecrets } from './redact.ts';

export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers["x-sealpost-secret"]',
  'req.headers.cookie',
  'headers.authorization',
  'headers["x-sealpost-secret"]',
  '*.secret',
  '*.apiKey',
  '*.password',
  '*.link',
  'secret',
  'apiKey',
  'password',
  'link',
];

/** pino's error serializer, with the secret rule (redact.ts) over the message and the stack. */
function serializeError(err: Error): ReturnType<typeof pino.stdSerializers.err> {
  const s = pino.stdSerializers.err(err);
  s.message = redactSecrets(s.message);
  s.stack = redactSecrets(s.stack);
  return s;
}

export function createLogger(level: string, destination?: DestinationStream): Logger {
  const options = {
    level,
    base: { service: 'sealpost' },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    serializers: { err: serializeError },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  return destination ? pino(options, destination) : pino(options);
}

/**
 * The path of a URL without its query string (which may carry anything a client put there) and
 * without a fragment: browsers never send one, but a careless client (a link scanner, a script)
 * may send `/m/<id>#<secret>` as it is, and the secret must not reach the log.
 */
export function pathOnly(url: string): string {
  const end = url.search(/[?#]/);
  return end < 0 ? url : url.slice(0, end);
}
