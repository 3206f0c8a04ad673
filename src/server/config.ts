/**
 * Every setting of `sealpost serve`: a command-line flag, each also settable by an environment
 * variable (`--base-url` ⇔ `SEALPOST_BASE_URL`), validated with zod at start. A bad value stops the
 * server with a sentence that names the flag, the variable and what is expected.
 */
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { parseNetworks, type Networks } from './relay/networks.ts';

export interface ServerConfig {
  data: string;
  /** postgres:// URL of a shared PostgreSQL store (scale-out); null = the embedded SQLite store in `data`. */
  database: string | null;
  /** Connections each node keeps to PostgreSQL. */
  databasePool: number;
  port: number;
  host: string;
  /** Public base URL used in links (no trailing slash); derived from host and port when absent. */
  baseUrl: string | null;
  /** SMTP relay port; null = no relay ("off"). */
  smtpPort: number | null;
  /** Address the relay listens on; null = the same as `host`. */
  smtpHost: string | null;
  /**
   * smtp:// or smtps:// URL of the upstream mail server: notifications, and the mail the relay
   * forwards; null = the built-in outbox (and the relay forwards nothing).
   */
  smtpUpstream: string | null;
  /** Clients that may relay without AUTH. */
  smtpTrustedNetworks: Networks;
  /** AUTH without STARTTLS (for loopback tests only). */
  smtpAllowInsecureAuth: boolean;
  /** Divert signed-only (readable) messages too, not only encrypted ones. */
  divertSigned: boolean;
  /** How long the relay's forward queue keeps trying before it bounces a message. */
  smtpQueueLifetimeMs: number;
  smtpRetryBaseMs: number;
  smtpRetryMaxMs: number;
  smtpMaxConnections: number;
  smtpMaxConnectionsPerIp: number;
  /** Idle time allowed between commands (and while a message streams). */
  smtpCommandTimeoutMs: number;
  /** Longest a whole message transfer (DATA) may take. */
  smtpDataTimeoutMs: number;
  trustAnchors: string | null;
  tlsCert: string | null;
  tlsKey: string | null;
  maxMessageSize: number;
  maxRecipients: number;
  acceptPlain: boolean;
  defaultExpiryMs: number;
  maxExpiryMs: number;
  mailFrom: string | null;
  brandName: string;
  brandLogoUrl: string | null;
  brandColor: string;
  brandFooter: string | null;
  /** Receipt mail (MDN) to the sender: never, when the message asks for it, or always. */
  receipts: 'off' | 'requested' | 'always';
  receiverDir: string | null;
  /** Requests per minute per client address (all routes). */
  rateLimit: number;
  /** Submissions per minute per sender. */
  senderRateLimit: number;
  /** Wrong secrets per client address per 15 minutes before 429. */
  badSecretIpLimit: number;
  /** Wrong secrets per delivery per hour before 429. */
  badSecretDeliveryLimit: number;
  trustProxy: boolean;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  metrics: 'loopback' | 'public' | 'off';
  shutdownTimeoutMs: number;
  notifyRetryBaseMs: number;
  notifyRetryMaxMs: number;
  /** How long a node owns a notification it is sending; another node may resend it after that. */
  notifyLeaseMs: number;
  purgeIntervalMs: number;
  /**
   * Days finished queue history is kept: sent, failed and cancelled notification mails, sent and
   * failed relay forwards; the purge pass deletes older rows.
   */
  historyDays: number;
  /** base64 32-byte key sealing queued notification links; default: a key file in the data folder. */
  sealingKey: string | null;
}

export class ConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`Invalid settings:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

const SIZE_UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  kb: 1000,
  mb: 1000 ** 2,
  gb: 1000 ** 3,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
  k: 1024,
  m: 1024 ** 2,
  g: 1024 ** 3,
};

/** "100MB", "64 KiB", "1048576" → bytes; null when unreadable. */
export function parseSize(text: string): number | null {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  if (!m) return null;
  const unit = SIZE_UNITS[(m[2] ?? '').toLowerCase()];
  if (unit === undefined) return null;
  return Math.floor(Number(m[1]) * unit);
}

const DURATION_UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  min: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 7 * 86_400_000,
};

/** "28d", "12h", "90s", "500ms" → milliseconds; null when unreadable. */
export function parseDuration(text: string): number | null {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|min|m|h|d|w)\s*$/i.exec(text);
  if (!m) return null;
  return Math.round(Number(m[1]) * (DURATION_UNITS[(m[2] ?? '').toLowerCase()] ?? NaN));
}

interface Setting {
  flag: string;
  type: 'string' | 'boolean';
  schema: z.ZodType;
  defaultValue?: string;
  help: string;
}

const port = z
  .string()
  .regex(/^\d+$/, 'must be a port number (0–65535)')
  .transform(Number)
  .pipe(z.number().int().min(0, 'must be 0–65535').max(65535, 'must be 0–65535'));
const positiveInt = z
  .string()
  .regex(/^\d+$/, 'must be a whole number')
  .transform(Number)
  .pipe(z.number().int().min(1, 'must be at least 1'));
const size = z.string().transform((s, ctx) => {
  const n = parseSize(s);
  if (n === null || n < 1) {
    ctx.addIssue({ code: 'custom', message: 'must be a size such as 100MB, 512KiB or 1048576' });
    return z.NEVER;
  }
  return n;
});
const duration = z.string().transform((s, ctx) => {
  const n = parseDuration(s);
  if (n === null || n < 1) {
    ctx.addIssue({ code: 'custom', message: 'must be a duration such as 28d, 12h, 30s or 500ms' });
    return z.NEVER;
  }
  return n;
});
const bool = z.union([z.boolean(), z.string()]).transform((v, ctx) => {
  if (typeof v === 'boolean') return v;
  const s = v.toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(s)) return true;
  if (['0', 'false', 'no', 'off', ''].includes(s)) return false;
  ctx.addIssue({ code: 'custom', message: 'must be true or false' });
  return z.NEVER;
});
const optionalText = z
  .string()
  .optional()
  .transform((s) => (s === undefined || s.trim() === '' ? null : s));
const httpUrl = (what: string) =>
  optionalText.refine(
    (s) => {
      if (s === null) return true;
      try {
        const u = new URL(s);
        return (u.protocol === 'http:' || u.protocol === 'https:') && !u.search && !u.hash;
      } catch {
        return false;
      }
    },
    { message: `must be an http:// or https:// URL ${what}` },
  );

const SETTINGS: Record<string, Setting> = {
  data: {
    flag: 'data',
    type: 'string',
    defaultValue: './data',
    schema: z.string().min(1, 'must name a folder'),
    help: 'data folder (SQLite database and message files)',
  },
  database: {
    flag: 'database',
    type: 'string',
    schema: optionalText.refine(
      (s) => {
        if (s === null) return true;
        try {
          const u = new URL(s);
          return (u.protocol === 'postgres:' || u.protocol === 'postgresql:') && u.pathname.length > 1;
        } catch {
          return false;
        }
      },
      { message: 'must be a postgres://user@host:5432/database URL' },
    ),
    help: 'shared PostgreSQL store for several nodes (default: SQLite and files in --data)',
  },
  databasePool: {
    flag: 'database-pool',
    type: 'string',
    defaultValue: '10',
    schema: positiveInt,
    help: 'PostgreSQL connections per node',
  },
  port: { flag: 'port', type: 'string', defaultValue: '8080', schema: port, help: 'HTTP port' },
  host: {
    flag: 'host',
    type: 'string',
    defaultValue: '127.0.0.1',
    schema: z.string().min(1, 'must be a host name or address'),
    help: 'address to listen on',
  },
  baseUrl: {
    flag: 'base-url',
    type: 'string',
    schema: httpUrl('without query or fragment, e.g. https://sealpost.example.org'),
    help: 'public URL used in links (default: http://HOST:PORT)',
  },
  smtpPort: {
    flag: 'smtp-port',
    type: 'string',
    defaultValue: '2525',
    schema: z.union([z.literal('off').transform(() => null), port], {
      message: 'must be a port number (0–65535) or off',
    }),
    help: 'SMTP relay port, or off',
  },
  smtpHost: {
    flag: 'smtp-host',
    type: 'string',
    schema: optionalText,
    help: 'address the SMTP relay listens on (default: --host)',
  },
  smtpUpstream: {
    flag: 'smtp-upstream',
    type: 'string',
    schema: optionalText.refine(
      (s) => {
        if (s === null) return true;
        try {
          const u = new URL(s);
          return (u.protocol === 'smtp:' || u.protocol === 'smtps:') && u.hostname !== '';
        } catch {
          return false;
        }
      },
      { message: 'must be an smtp://host:port or smtps://host:port URL (user:password@ allowed)' },
    ),
    help: 'mail server for notifications and relayed plain mail (default: the built-in outbox at /outbox)',
  },
  smtpTrustedNetworks: {
    flag: 'smtp-trusted-networks',
    type: 'string',
    defaultValue: '',
    schema: z.string().transform((s, ctx) => {
      try {
        return parseNetworks(s);
      } catch (e) {
        ctx.addIssue({ code: 'custom', message: (e as Error).message });
        return z.NEVER;
      }
    }),
    help: 'CIDR list of clients that may relay without AUTH (default: none, not even loopback)',
  },
  smtpAllowInsecureAuth: {
    flag: 'smtp-allow-insecure-auth',
    type: 'boolean',
    defaultValue: 'false',
    schema: bool,
    help: 'allow SMTP AUTH before STARTTLS (loopback tests only)',
  },
  divertSigned: {
    flag: 'divert-signed',
    type: 'boolean',
    defaultValue: 'false',
    schema: bool,
    help: 'divert signed-only messages to web delivery too (default: forward them)',
  },
  smtpQueueLifetimeMs: {
    flag: 'smtp-queue-lifetime',
    type: 'string',
    defaultValue: '5d',
    schema: duration,
    help: 'how long the relay retries a forward before bouncing it',
  },
  smtpRetryBaseMs: {
    flag: 'smtp-retry-base',
    type: 'string',
    defaultValue: '1m',
    schema: duration,
    help: 'first retry delay of a forward (doubles each time)',
  },
  smtpRetryMaxMs: {
    flag: 'smtp-retry-max',
    type: 'string',
    defaultValue: '1h',
    schema: duration,
    help: 'longest delay between forward retries',
  },
  smtpMaxConnections: {
    flag: 'smtp-max-connections',
    type: 'string',
    defaultValue: '200',
    schema: positiveInt,
    help: 'concurrent SMTP connections',
  },
  smtpMaxConnectionsPerIp: {
    flag: 'smtp-max-connections-per-ip',
    type: 'string',
    defaultValue: '20',
    schema: positiveInt,
    help: 'concurrent SMTP connections per client address',
  },
  smtpCommandTimeoutMs: {
    flag: 'smtp-command-timeout',
    type: 'string',
    defaultValue: '5m',
    schema: duration,
    help: 'idle time allowed in an SMTP session',
  },
  smtpDataTimeoutMs: {
    flag: 'smtp-data-timeout',
    type: 'string',
    defaultValue: '10m',
    schema: duration,
    help: 'longest an SMTP message transfer (DATA) may take',
  },
  trustAnchors: {
    flag: 'trust-anchors',
    type: 'string',
    schema: optionalText,
    help: 'PEM file of CA certificates handed to receivers',
  },
  tlsCert: { flag: 'tls-cert', type: 'string', schema: optionalText, help: 'TLS certificate (PEM)' },
  tlsKey: { flag: 'tls-key', type: 'string', schema: optionalText, help: 'TLS private key (PEM)' },
  maxMessageSize: {
    flag: 'max-message-size',
    type: 'string',
    defaultValue: '100MB',
    schema: size,
    help: 'largest accepted message',
  },
  maxRecipients: {
    flag: 'max-recipients',
    type: 'string',
    defaultValue: '100',
    schema: positiveInt,
    help: 'recipients per message',
  },
  acceptPlain: {
    flag: 'accept-plain',
    type: 'boolean',
    defaultValue: 'false',
    schema: bool,
    help: 'accept messages that are not S/MIME or OpenPGP',
  },
  defaultExpiryMs: {
    flag: 'default-expiry',
    type: 'string',
    defaultValue: '28d',
    schema: duration,
    help: 'how long a link works',
  },
  maxExpiryMs: {
    flag: 'max-expiry',
    type: 'string',
    defaultValue: '365d',
    schema: duration,
    help: 'longest expiry a sender may ask for',
  },
  mailFrom: {
    flag: 'mail-from',
    type: 'string',
    schema: optionalText,
    help: 'From address of notifications (default: sealpost@<base-url host>)',
  },
  brandName: {
    flag: 'brand-name',
    type: 'string',
    defaultValue: 'Sealpost',
    schema: z.string().min(1).max(100, 'must be at most 100 characters'),
    help: 'name shown in notifications and pages',
  },
  brandLogoUrl: {
    flag: 'brand-logo-url',
    type: 'string',
    schema: optionalText.refine((s) => s === null || /^https:\/\/[^\s"'<>]+$/.test(s), {
      message: 'must be an https:// URL',
    }),
    help: 'logo shown in the HTML notification',
  },
  brandColor: {
    flag: 'brand-color',
    type: 'string',
    defaultValue: '#1f4e79',
    schema: z.string().regex(/^#[0-9a-fA-F]{6}$/, 'must be a colour such as #1f4e79'),
    help: 'accent colour of notifications and pages',
  },
  brandFooter: {
    flag: 'brand-footer',
    type: 'string',
    schema: optionalText.refine((s) => s === null || s.length <= 500, {
      message: 'must be at most 500 characters',
    }),
    help: 'footer line of notifications',
  },
  receipts: {
    flag: 'receipts',
    type: 'string',
    defaultValue: 'requested',
    schema: z.enum(['off', 'requested', 'always'], { message: 'must be off, requested or always' }),
    help: 'receipt mail (MDN) to the sender: off, requested (Disposition-Notification-To or ?receipt=1), always',
  },
  receiverDir: {
    flag: 'receiver-dir',
    type: 'string',
    schema: optionalText,
    help: 'built receiver app to serve at /m/:id (default: dist/receiver if it exists)',
  },
  rateLimit: {
    flag: 'rate-limit',
    type: 'string',
    defaultValue: '600',
    schema: positiveInt,
    help: 'requests per minute per client address',
  },
  senderRateLimit: {
    flag: 'sender-rate-limit',
    type: 'string',
    defaultValue: '120',
    schema: positiveInt,
    help: 'submissions per minute per sender',
  },
  badSecretIpLimit: {
    flag: 'bad-secret-ip-limit',
    type: 'string',
    defaultValue: '20',
    schema: positiveInt,
    help: 'wrong link secrets per client address per 15 minutes',
  },
  badSecretDeliveryLimit: {
    flag: 'bad-secret-delivery-limit',
    type: 'string',
    defaultValue: '10',
    schema: positiveInt,
    help: 'wrong link secrets per delivery per hour',
  },
  trustProxy: {
    flag: 'trust-proxy',
    type: 'boolean',
    defaultValue: 'false',
    schema: bool,
    help: 'take the client address from X-Forwarded-For (behind a reverse proxy)',
  },
  logLevel: {
    flag: 'log-level',
    type: 'string',
    defaultValue: 'info',
    schema: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
      message: 'must be one of fatal, error, warn, info, debug, trace, silent',
    }),
    help: 'log level',
  },
  metrics: {
    flag: 'metrics',
    type: 'string',
    defaultValue: 'loopback',
    schema: z.enum(['loopback', 'public', 'off'], { message: 'must be loopback, public or off' }),
    help: 'who may read /metrics',
  },
  shutdownTimeoutMs: {
    flag: 'shutdown-timeout',
    type: 'string',
    defaultValue: '30s',
    schema: duration,
    help: 'how long a shutdown waits for in-flight requests',
  },
  notifyRetryBaseMs: {
    flag: 'notify-retry-base',
    type: 'string',
    defaultValue: '5s',
    schema: duration,
    help: 'first retry delay of a failed notification (doubles each time)',
  },
  notifyRetryMaxMs: {
    flag: 'notify-retry-max',
    type: 'string',
    defaultValue: '15m',
    schema: duration,
    help: 'longest delay between notification retries',
  },
  notifyLeaseMs: {
    flag: 'notify-lease',
    type: 'string',
    defaultValue: '5m',
    schema: duration,
    help: 'how long a node owns a notification it sends before another may retry it',
  },
  purgeIntervalMs: {
    flag: 'purge-interval',
    type: 'string',
    defaultValue: '1m',
    schema: duration,
    help: 'how often expired messages are looked for and removed',
  },
  historyDays: {
    flag: 'history-days',
    type: 'string',
    defaultValue: '30',
    schema: z
      .string()
      .regex(/^\d+$/, 'must be a whole number of days')
      .transform(Number)
      .pipe(z.number().int().min(1, 'must be at least 1').max(36500, 'must be at most 36500')),
    help: 'days sent, failed and cancelled notification mails and relay forwards are kept',
  },
  sealingKey: {
    flag: 'sealing-key',
    type: 'string',
    schema: optionalText.refine((s) => s === null || Buffer.from(s, 'base64').length === 32, {
      message: 'must be 32 bytes in base64 (openssl rand -base64 32)',
    }),
    help: 'key sealing queued notification links (default: a key file in the data folder)',
  },
};

export function envName(flag: string): string {
  return `SEALPOST_${flag.toUpperCase().replace(/-/g, '_')}`;
}

/** One line per flag, for `sealpost serve --help`. */
export function configHelp(): string {
  const rows = Object.values(SETTINGS).map((s) => {
    const left = `--${s.flag}${s.type === 'string' ? ' VALUE' : ''}`;
    const def = s.defaultValue !== undefined && s.type === 'string' ? ` (default ${s.defaultValue})` : '';
    return `  ${left.padEnd(34)} ${envName(s.flag).padEnd(34)} ${s.help}${def}`;
  });
  return rows.join('\n');
}

/**
 * Reads flags, then environment variables, then defaults, and validates them all; throws a
 * ConfigError listing every problem at once.
 */
export function loadConfig(argv: string[], env: NodeJS.ProcessEnv = process.env): ServerConfig {
  let values: Record<string, string | boolean | undefined>;
  try {
    const options: Record<string, { type: 'string' | 'boolean' }> = {};
    for (const s of Object.values(SETTINGS)) options[s.flag] = { type: s.type };
    values = parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values as Record<
      string,
      string | boolean | undefined
    >;
  } catch (e) {
    throw new ConfigError([(e as Error).message]);
  }
  const problems: string[] = [];
  const out: Record<string, unknown> = {};
  for (const [key, s] of Object.entries(SETTINGS)) {
    const fromFlag = values[s.flag];
    const fromEnv = env[envName(s.flag)];
    const raw = fromFlag ?? fromEnv ?? s.defaultValue;
    const result = s.schema.safeParse(raw);
    if (result.success) out[key] = result.data;
    else {
      const source =
        fromFlag !== undefined ? `--${s.flag}` : fromEnv !== undefined ? envName(s.flag) : 'default';
      const shown =
        typeof raw === 'string' && key !== 'sealingKey' && key !== 'database' ? ` (got "${raw}")` : '';
      problems.push(
        `--${s.flag} / ${envName(s.flag)}: ${result.error.issues.map((i) => i.message).join('; ')}${shown} [from ${source}]`,
      );
    }
  }
  if (problems.length === 0) {
    const c = out as unknown as ServerConfig;
    if ((c.tlsCert === null) !== (c.tlsKey === null))
      problems.push('--tls-cert and --tls-key go together: give both or neither.');
    if (c.smtpRetryBaseMs > c.smtpRetryMaxMs)
      problems.push('--smtp-retry-base must not be longer than --smtp-retry-max.');
    if (c.database && !c.sealingKey)
      problems.push(
        '--database needs --sealing-key (SEALPOST_SEALING_KEY), the same on every node: make one with openssl rand -base64 32.',
      );
    if (c.database && !c.baseUrl)
      problems.push('--database needs --base-url: every node must write the same public URL into links.');
    if (c.defaultExpiryMs > c.maxExpiryMs)
      problems.push('--default-expiry must not be longer than --max-expiry.');
    if (c.baseUrl) c.baseUrl = c.baseUrl.replace(/\/+$/, '');
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return out as unknown as ServerConfig;
}
