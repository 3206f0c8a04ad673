/**
 * Every setting of `sealpost serve`, declared once in `Settings` below: its zod schema, its flag,
 * its default (as it would be typed), its help line, and whether it is secret. The environment
 * variable is the flag's name (`--base-url` ⇔ `SEALPOST_BASE_URL`), the `ServerConfig` type is
 * inferred from the schemas, and one rule (redact.ts) hides secrets wherever a value is shown:
 * in settings errors, in `--help` and in the start banner. A bad value stops the server with a
 * sentence that names the flag, the variable and what is expected.
 */
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { redactSecrets } from './redact.ts';
import { parseNetworks } from './relay/networks.ts';

/** What `Settings` says about a setting besides its schema. */
interface SettingMeta {
  flag: string;
  help: string;
  /** The default, as it would be typed: it is parsed like any other value. */
  default?: string;
  /** A switch (`--flag` alone means true). */
  boolean?: true;
  /** Never shown, not even redacted (the whole value is the secret). */
  secret?: true;
  /** May be given more than once; the values reach the schema joined by commas (as the variable has them). */
  multiple?: true;
}

const meta = z.registry<SettingMeta>();

/** A setting: its schema with its flag, default and help registered beside it. */
function setting<S extends z.ZodType>(schema: S, m: SettingMeta): S {
  meta.add(schema, m);
  return schema;
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

const port = () =>
  z
    .string()
    .regex(/^\d+$/, 'must be a port number (0–65535)')
    .transform(Number)
    .pipe(z.number().int().min(0, 'must be 0–65535').max(65535, 'must be 0–65535'));
const positiveInt = () =>
  z
    .string()
    .regex(/^\d+$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().int().min(1, 'must be at least 1'));
const size = () =>
  z.string().transform((s, ctx) => {
    const n = parseSize(s);
    if (n === null || n < 1) {
      ctx.addIssue({ code: 'custom', message: 'must be a size such as 100MB, 512KiB or 1048576' });
      return z.NEVER;
    }
    return n;
  });
const duration = () =>
  z.string().transform((s, ctx) => {
    const n = parseDuration(s);
    if (n === null || n < 1) {
      ctx.addIssue({ code: 'custom', message: 'must be a duration such as 28d, 12h, 30s or 500ms' });
      return z.NEVER;
    }
    return n;
  });
const bool = () =>
  z.union([z.boolean(), z.string()]).transform((v, ctx) => {
    if (typeof v === 'boolean') return v;
    const s = v.toLowerCase();
    if (['1', 'true', 'yes', 'on'].includes(s)) return true;
    if (['0', 'false', 'no', 'off', ''].includes(s)) return false;
    ctx.addIssue({ code: 'custom', message: 'must be true or false' });
    return z.NEVER;
  });
const optionalText = () =>
  z
    .string()
    .optional()
    .transform((s) => (s === undefined || s.trim() === '' ? null : s));
const httpUrl = (what: string) =>
  optionalText()
    .refine(
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
    )
    // Links are built as base + path: no trailing slash.
    .transform((s) => (s === null ? null : s.replace(/\/+$/, '')));

export const Settings = z.object({
  data: setting(z.string().min(1, 'must name a folder'), {
    flag: 'data',
    default: './data',
    help: 'data folder (SQLite database and message files)',
  }),
  database: setting(
    optionalText().refine(
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
    {
      flag: 'database',
      help: 'shared PostgreSQL store for several nodes (default: SQLite and files in --data)',
    },
  ),
  databasePool: setting(positiveInt(), {
    flag: 'database-pool',
    default: '10',
    help: 'PostgreSQL connections per node',
  }),
  port: setting(port(), { flag: 'port', default: '8080', help: 'HTTP port' }),
  host: setting(z.string().min(1, 'must be a host name or address'), {
    flag: 'host',
    default: '127.0.0.1',
    help: 'address to listen on',
  }),
  baseUrl: setting(httpUrl('without query or fragment, e.g. https://sealpost.example.org'), {
    flag: 'base-url',
    help: 'public URL used in links (default: http://HOST:PORT)',
  }),
  smtpPort: setting(
    z.union([z.literal('off').transform(() => null), port()], {
      message: 'must be a port number (0–65535) or off',
    }),
    { flag: 'smtp-port', default: '2525', help: 'SMTP relay port, or off' },
  ),
  smtpHost: setting(optionalText(), {
    flag: 'smtp-host',
    help: 'address the SMTP relay listens on (default: --host)',
  }),
  smtpUpstream: setting(
    optionalText().refine(
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
    {
      flag: 'smtp-upstream',
      help: 'mail server for notifications and relayed plain mail (default: the built-in outbox at /outbox)',
    },
  ),
  smtpTrustedNetworks: setting(
    z.string().transform((s, ctx) => {
      try {
        return parseNetworks(s);
      } catch (e) {
        ctx.addIssue({ code: 'custom', message: (e as Error).message });
        return z.NEVER;
      }
    }),
    {
      flag: 'smtp-trusted-networks',
      default: '',
      help: 'CIDR list of clients that may relay without AUTH (default: none, not even loopback)',
    },
  ),
  smtpAuthIpLimit: setting(positiveInt(), {
    flag: 'smtp-auth-ip-limit',
    default: '10',
    help: 'failed SMTP logins per client address per 15 minutes before logins are refused',
  }),
  smtpAuthAccountLimit: setting(positiveInt(), {
    flag: 'smtp-auth-account-limit',
    default: '20',
    help: 'failed SMTP logins per sender address per hour before its logins are refused',
  }),
  smtpFromCheck: setting(bool(), {
    flag: 'smtp-from-check',
    default: 'true',
    help: "forward an authenticated sender's plain mail only when its header From is the sender's address (false: the envelope only)",
  }),
  uploadIdleTimeoutMs: setting(duration(), {
    flag: 'upload-idle-timeout',
    default: '60s',
    help: 'an HTTP upload that sends nothing this long is dropped (SMTP: --smtp-command-timeout)',
  }),
  uploadTimeoutMs: setting(duration(), {
    flag: 'upload-timeout',
    default: '30m',
    help: 'longest an HTTP upload may take (SMTP: --smtp-data-timeout)',
  }),
  maxConnectionsPerIp: setting(positiveInt(), {
    flag: 'max-connections-per-ip',
    default: '64',
    help: 'concurrent HTTP connections per client address (loopback exempt, for health checks; not with --trust-proxy)',
  }),
  smtpAllowInsecureAuth: setting(bool(), {
    flag: 'smtp-allow-insecure-auth',
    boolean: true,
    default: 'false',
    help: 'allow SMTP AUTH before STARTTLS (loopback tests only)',
  }),
  divertSigned: setting(bool(), {
    flag: 'divert-signed',
    boolean: true,
    default: 'false',
    help: 'divert signed-only messages to web delivery too (default: forward them)',
  }),
  smtpQueueLifetimeMs: setting(duration(), {
    flag: 'smtp-queue-lifetime',
    default: '5d',
    help: 'how long the relay retries a forward before bouncing it',
  }),
  smtpRetryBaseMs: setting(duration(), {
    flag: 'smtp-retry-base',
    default: '1m',
    help: 'first retry delay of a forward (doubles each time)',
  }),
  smtpRetryMaxMs: setting(duration(), {
    flag: 'smtp-retry-max',
    default: '1h',
    help: 'longest delay between forward retries',
  }),
  smtpMaxConnections: setting(positiveInt(), {
    flag: 'smtp-max-connections',
    default: '200',
    help: 'concurrent SMTP connections',
  }),
  smtpMaxConnectionsPerIp: setting(positiveInt(), {
    flag: 'smtp-max-connections-per-ip',
    default: '20',
    help: 'concurrent SMTP connections per client address',
  }),
  smtpCommandTimeoutMs: setting(duration(), {
    flag: 'smtp-command-timeout',
    default: '5m',
    help: 'idle time allowed in an SMTP session',
  }),
  smtpDataTimeoutMs: setting(duration(), {
    flag: 'smtp-data-timeout',
    default: '10m',
    help: 'longest an SMTP message transfer (DATA) may take',
  }),
  wkdDomains: setting(
    z.string().transform((s, ctx) => {
      const out: string[] = [];
      for (const part of s.split(/[\s,]+/).filter((p) => p !== '')) {
        const d = part.toLowerCase().replace(/\.$/, '');
        if (!/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$/.test(d)) {
          ctx.addIssue({ code: 'custom', message: `"${part}" is not a domain name such as example.org` });
          return z.NEVER;
        }
        if (!out.includes(d)) out.push(d);
      }
      return out;
    }),
    {
      flag: 'wkd-domain',
      default: '',
      multiple: true,
      help: 'mail domain whose published OpenPGP keys are served by Web Key Directory (repeatable, or comma-separated)',
    },
  ),
  trustAnchors: setting(optionalText(), {
    flag: 'trust-anchors',
    help: 'PEM file of CA certificates handed to receivers',
  }),
  tlsCert: setting(optionalText(), { flag: 'tls-cert', help: 'TLS certificate (PEM)' }),
  tlsKey: setting(optionalText(), { flag: 'tls-key', help: 'TLS private key (PEM)' }),
  maxMessageSize: setting(size(), {
    flag: 'max-message-size',
    default: '100MB',
    help: 'largest accepted message',
  }),
  minFreeSpace: setting(
    z.string().transform((s, ctx) => {
      const n = parseSize(s);
      if (n === null) {
        ctx.addIssue({ code: 'custom', message: 'must be a size such as 1GB, 256MiB, or 0 to turn it off' });
        return z.NEVER;
      }
      return n;
    }),
    {
      flag: 'min-free-space',
      default: '256MB',
      help: 'free space kept in the data folder: below it uploads get 507 and /readyz says not ready (0 = off)',
    },
  ),
  maxRecipients: setting(positiveInt(), {
    flag: 'max-recipients',
    default: '100',
    help: 'recipients per message',
  }),
  acceptPlain: setting(bool(), {
    flag: 'accept-plain',
    boolean: true,
    default: 'false',
    help: 'accept messages that are not S/MIME or OpenPGP',
  }),
  defaultExpiryMs: setting(duration(), {
    flag: 'default-expiry',
    default: '28d',
    help: 'how long a link works',
  }),
  maxExpiryMs: setting(duration(), {
    flag: 'max-expiry',
    default: '365d',
    help: 'longest expiry a sender may ask for',
  }),
  mailFrom: setting(optionalText(), {
    flag: 'mail-from',
    help: 'From address of notifications (default: sealpost@<base-url host>)',
  }),
  brandName: setting(z.string().min(1).max(100, 'must be at most 100 characters'), {
    flag: 'brand-name',
    default: 'Sealpost',
    help: 'name shown in notifications and pages',
  }),
  brandLogoUrl: setting(
    optionalText().refine((s) => s === null || /^https:\/\/[^\s"'<>]+$/.test(s), {
      message: 'must be an https:// URL',
    }),
    { flag: 'brand-logo-url', help: 'logo shown in the HTML notification' },
  ),
  brandColor: setting(z.string().regex(/^#[0-9a-fA-F]{6}$/, 'must be a colour such as #1f4e79'), {
    flag: 'brand-color',
    default: '#1f4e79',
    help: 'accent colour of notifications and pages',
  }),
  brandFooter: setting(
    optionalText().refine((s) => s === null || s.length <= 500, {
      message: 'must be at most 500 characters',
    }),
    { flag: 'brand-footer', help: 'footer line of notifications' },
  ),
  receipts: setting(z.enum(['off', 'requested', 'always'], { message: 'must be off, requested or always' }), {
    flag: 'receipts',
    default: 'requested',
    help: 'receipt mail (MDN) to the sender: off, requested (Disposition-Notification-To or ?receipt=1), always',
  }),
  receiverDir: setting(optionalText(), {
    flag: 'receiver-dir',
    help: 'built receiver app to serve at /m/:id (default: dist/receiver if it exists)',
  }),
  rateLimit: setting(positiveInt(), {
    flag: 'rate-limit',
    default: '600',
    help: 'requests per minute per client address',
  }),
  senderRateLimit: setting(positiveInt(), {
    flag: 'sender-rate-limit',
    default: '120',
    help: 'submissions per minute per sender',
  }),
  badSecretIpLimit: setting(positiveInt(), {
    flag: 'bad-secret-ip-limit',
    default: '20',
    help: 'wrong link secrets per client address (IPv6: /64) per 15 minutes',
  }),
  badSecretDeliveryLimit: setting(positiveInt(), {
    flag: 'bad-secret-delivery-limit',
    default: '10',
    help: 'wrong link secrets per client address and delivery per hour',
  }),
  trustProxy: setting(bool(), {
    flag: 'trust-proxy',
    boolean: true,
    default: 'false',
    help: 'take the client address from X-Forwarded-For (behind a reverse proxy)',
  }),
  logLevel: setting(
    z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
      message: 'must be one of fatal, error, warn, info, debug, trace, silent',
    }),
    { flag: 'log-level', default: 'info', help: 'log level' },
  ),
  metrics: setting(z.enum(['loopback', 'public', 'off'], { message: 'must be loopback, public or off' }), {
    flag: 'metrics',
    default: 'loopback',
    help: 'who may read /metrics',
  }),
  shutdownTimeoutMs: setting(duration(), {
    flag: 'shutdown-timeout',
    default: '30s',
    help: 'how long a shutdown waits for in-flight requests',
  }),
  notifyRetryBaseMs: setting(duration(), {
    flag: 'notify-retry-base',
    default: '5s',
    help: 'first retry delay of a failed notification (doubles each time)',
  }),
  notifyRetryMaxMs: setting(duration(), {
    flag: 'notify-retry-max',
    default: '15m',
    help: 'longest delay between notification retries',
  }),
  notifyLeaseMs: setting(duration(), {
    flag: 'notify-lease',
    default: '5m',
    help: 'how long a node owns a notification it sends before another may retry it',
  }),
  purgeIntervalMs: setting(duration(), {
    flag: 'purge-interval',
    default: '1m',
    help: 'how often expired messages are looked for and removed',
  }),
  historyDays: setting(
    z
      .string()
      .regex(/^\d+$/, 'must be a whole number of days')
      .transform(Number)
      .pipe(z.number().int().min(1, 'must be at least 1').max(36500, 'must be at most 36500')),
    {
      flag: 'history-days',
      default: '30',
      help: 'days sent, failed and cancelled notification mails and relay forwards are kept',
    },
  ),
  sealingKey: setting(
    optionalText().refine((s) => s === null || Buffer.from(s, 'base64').length === 32, {
      message: 'must be 32 bytes in base64 (openssl rand -base64 32)',
    }),
    {
      flag: 'sealing-key',
      secret: true,
      help: 'key sealing queued notification links (default: a key file in the data folder)',
    },
  ),
});

export type ServerConfig = z.output<typeof Settings>;
export type SettingName = keyof ServerConfig;

function metaOf(name: SettingName): SettingMeta {
  const m = meta.get(Settings.shape[name]);
  if (!m) throw new Error(`The setting ${name} has no flag.`); // every entry of Settings is a setting()
  return m;
}

const NAMES = Object.keys(Settings.shape).filter((k): k is SettingName => k in Settings.shape);

export function envName(flag: string): string {
  return `SEALPOST_${flag.toUpperCase().replace(/-/g, '_')}`;
}

/** A setting's value as it may be shown (errors, --help): secrets redacted, whole secrets hidden. */
export function shownValue(name: SettingName, raw: string): string {
  return metaOf(name).secret ? '(hidden)' : `"${redactSecrets(raw)}"`;
}

/**
 * One line per flag, for `sealpost serve --help`: the flag, its variable, what it does, its
 * default, and the value the environment sets now (secrets redacted).
 */
export function configHelp(env: NodeJS.ProcessEnv = {}): string {
  const rows = NAMES.map((name) => {
    const m = metaOf(name);
    const left = `--${m.flag}${m.boolean ? '' : ' VALUE'}`;
    const def = m.default !== undefined && !m.boolean && m.default !== '' ? ` (default ${m.default})` : '';
    const fromEnv = env[envName(m.flag)];
    const now = fromEnv === undefined ? '' : ` [now ${shownValue(name, fromEnv)}]`;
    return `  ${left.padEnd(34)} ${envName(m.flag).padEnd(34)} ${m.help}${def}${now}`;
  });
  return rows.join('\n');
}

/** Rules between settings, checked once each setting is valid on its own. */
function crossProblems(c: ServerConfig): string[] {
  const problems: string[] = [];
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
  return problems;
}

/**
 * Reads flags, then environment variables, then defaults, and validates them all; throws a
 * ConfigError listing every problem at once.
 */
export function loadConfig(argv: string[], env: NodeJS.ProcessEnv = process.env): ServerConfig {
  const options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean }> = {};
  for (const name of NAMES) {
    const m = metaOf(name);
    options[m.flag] = { type: m.boolean ? 'boolean' : 'string', ...(m.multiple ? { multiple: true } : {}) };
  }
  let flags: Record<string, string | boolean | (string | boolean)[] | undefined>;
  try {
    flags = parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values;
  } catch (e) {
    throw new ConfigError([redactSecrets((e as Error).message)]);
  }
  const raw: Record<string, string | boolean | undefined> = {};
  const source: Record<string, string> = {};
  for (const name of NAMES) {
    const m = metaOf(name);
    const given = flags[m.flag];
    const fromFlag = Array.isArray(given) ? given.join(',') : given;
    const fromEnv = env[envName(m.flag)];
    raw[name] = fromFlag ?? fromEnv ?? m.default;
    source[name] =
      fromFlag !== undefined ? `--${m.flag}` : fromEnv !== undefined ? envName(m.flag) : 'default';
  }
  const parsed = Settings.safeParse(raw);
  if (!parsed.success) {
    const byName = new Map<SettingName, string[]>();
    for (const issue of parsed.error.issues) {
      const key = issue.path[0];
      const name = NAMES.find((n) => n === key);
      if (!name) throw new ConfigError([issue.message]);
      byName.set(name, [...(byName.get(name) ?? []), issue.message]);
    }
    throw new ConfigError(
      [...byName].map(([name, messages]) => {
        const m = metaOf(name);
        const value = raw[name];
        const shown = typeof value === 'string' ? ` (got ${shownValue(name, value)})` : '';
        return `--${m.flag} / ${envName(m.flag)}: ${messages.join('; ')}${shown} [from ${source[name]}]`;
      }),
    );
  }
  const problems = crossProblems(parsed.data);
  if (problems.length > 0) throw new ConfigError(problems);
  return parsed.data;
}
