/**
 * Settings: flags, environment variables, defaults, and clear errors for bad values; the CLI stops
 * with exit status 78 and names the setting.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import {
  ConfigError,
  configHelp,
  loadConfig,
  parseDuration,
  parseSize,
  Settings,
} from '../../src/server/config.ts';
import { createLogger } from '../../src/server/log.ts';
import { redactSecrets } from '../../src/server/redact.ts';
import { ROOT } from '../helpers/paths.ts';

describe('serve settings', () => {
  it('has the documented defaults', () => {
    const c = loadConfig([], {});
    expect(c).toMatchObject({
      data: './data',
      port: 8080,
      host: '127.0.0.1',
      baseUrl: null,
      smtpPort: 2525,
      smtpUpstream: null,
      maxMessageSize: 100_000_000,
      acceptPlain: false,
      defaultExpiryMs: 28 * 86_400_000,
      receipts: 'requested',
    });
  });

  it('reads flags first, then SEALPOST_* variables', () => {
    const c = loadConfig(['--port', '9000', '--base-url', 'https://mail.example.org/'], {
      SEALPOST_PORT: '1234',
      SEALPOST_HOST: '0.0.0.0',
      SEALPOST_SMTP_UPSTREAM: 'smtp://user:pw@relay.example.org:587',
      SEALPOST_ACCEPT_PLAIN: 'true',
      SEALPOST_MAX_MESSAGE_SIZE: '10MiB',
      SEALPOST_DEFAULT_EXPIRY: '7d',
    });
    expect(c.port).toBe(9000);
    expect(c.host).toBe('0.0.0.0');
    expect(c.baseUrl).toBe('https://mail.example.org');
    expect(c.smtpUpstream).toBe('smtp://user:pw@relay.example.org:587');
    expect(c.acceptPlain).toBe(true);
    expect(c.maxMessageSize).toBe(10 * 1024 * 1024);
    expect(c.defaultExpiryMs).toBe(7 * 86_400_000);
  });

  it('lists every bad value with the flag, the variable and what is expected', () => {
    try {
      loadConfig(['--port', 'http', '--tls-cert', 'c.pem'], {
        SEALPOST_SMTP_UPSTREAM: 'mail.example.org',
        SEALPOST_MAX_MESSAGE_SIZE: 'lots',
      });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      const text = (e as ConfigError).message;
      expect(text).toContain('--port / SEALPOST_PORT: must be a port number');
      expect(text).toContain('--smtp-upstream / SEALPOST_SMTP_UPSTREAM: must be an smtp://');
      expect(text).toContain('--max-message-size / SEALPOST_MAX_MESSAGE_SIZE');
    }
    expect(() => loadConfig(['--tls-cert', 'c.pem'], {})).toThrow(/--tls-cert and --tls-key go together/);
    expect(() => loadConfig(['--no-such-flag'], {})).toThrow(ConfigError);
    expect(() => loadConfig(['--base-url', 'ftp://x'], {})).toThrow(/http:\/\/ or https:\/\//);
  });

  it('parses sizes and durations', () => {
    expect(parseSize('100MB')).toBe(100_000_000);
    expect(parseSize('1 KiB')).toBe(1024);
    expect(parseSize('x')).toBeNull();
    expect(parseDuration('28d')).toBe(28 * 86_400_000);
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('5')).toBeNull();
  });

  it('stops `sealpost serve` with status 78 and a clear message', () => {
    const r = spawnSync(process.execPath, [join(ROOT, 'bin/sealpost.mjs'), 'serve', '--port', 'abc'], {
      encoding: 'utf8',
      env: { ...process.env, SEALPOST_DATA: '/nonexistent-never-created' },
      timeout: 30_000,
    });
    expect(r.status).toBe(78);
    expect(r.stderr).toContain('--port / SEALPOST_PORT');
  });
});

describe('secrets in settings', () => {
  it('never prints the password of a malformed --smtp-upstream URL', () => {
    // A typo (no host) makes the URL malformed; the error must still not echo the password.
    for (const bad of [
      'smtp://mailer:hunter2-secret@:587',
      'smtp//mailer:hunter2-secret@relay.example.org',
    ]) {
      let err: unknown;
      try {
        loadConfig(['--smtp-upstream', bad], {});
      } catch (e) {
        err = e;
      }
      expect(err, bad).toBeInstanceOf(ConfigError);
      const text = (err as ConfigError).message;
      expect(text).toContain('--smtp-upstream / SEALPOST_SMTP_UPSTREAM');
      expect(text).not.toContain('hunter2');
      expect(text).toContain('mailer:***@');
    }
  });
});

describe('the one rule for secrets (errors, --help, logs)', () => {
  it('hides URL passwords, also in malformed URLs, and API keys; leaves the rest alone', () => {
    const key = `sp_${'A1b2_-'.repeat(7)}x`;
    const cases: [string, string][] = [
      [
        'postgres://sp:hunter2@db.example.org:5432/sealpost',
        'postgres://sp:***@db.example.org:5432/sealpost',
      ],
      ['smtp://mailer:p@ss@relay.example.org:587', 'smtp://mailer:***@relay.example.org:587'],
      ['smtp://mailer:hunter2@:587', 'smtp://mailer:***@:587'],
      ['smtp:mailer:hunter2@relay', 'smtp:mailer:***@relay'],
      [`Authorization: Bearer ${key}`, 'Authorization: Bearer sp_***'],
      ['postgres://sp@db.example.org/sealpost', 'postgres://sp@db.example.org/sealpost'],
      ['mail alice@example.org at 10:30', 'mail alice@example.org at 10:30'],
    ];
    for (const [text, want] of cases) expect(redactSecrets(text), text).toBe(want);
  });

  it('shows what the environment sets in --help, redacted, and never the sealing key', () => {
    const help = configHelp({
      SEALPOST_SMTP_UPSTREAM: 'smtp://mailer:hunter2@relay.example.org:587',
      SEALPOST_SEALING_KEY: 'c2VjcmV0LXNlYWxpbmcta2V5LTMyLWJ5dGVzLWxvbmc=',
      SEALPOST_PORT: '9000',
    });
    expect(help).toContain('[now "smtp://mailer:***@relay.example.org:587"]');
    expect(help).toContain('[now "9000"]');
    expect(help).not.toContain('hunter2');
    expect(help).not.toContain('c2VjcmV0');
    // One line per setting, each with its flag and variable.
    for (const line of help.split('\n')) expect(line).toMatch(/^ {2}--[a-z-]+( VALUE)? +SEALPOST_[A-Z_]+ /);
    expect(help.split('\n')).toHaveLength(Object.keys(Settings.shape).length);
  });

  it('never echoes a bad sealing key, and redacts secrets in logged errors', async () => {
    expect(() => loadConfig(['--sealing-key', 'not-32-bytes-hunter2'], {})).toThrow(
      /^(?![\s\S]*hunter2)[\s\S]*--sealing-key[\s\S]*\(got \(hidden\)\)/,
    );
    const lines: string[] = [];
    const logger = createLogger(
      'info',
      new Writable({
        write(chunk: Buffer, _enc, done) {
          lines.push(chunk.toString());
          done();
        },
      }),
    );
    logger.warn({ err: new Error('cannot connect to postgres://sp:hunter2@db/sealpost') }, 'failed');
    await new Promise((r) => setImmediate(r));
    expect(lines.join('')).toContain('postgres://sp:***@db/sealpost');
    expect(lines.join('')).not.toContain('hunter2');
  });
});
