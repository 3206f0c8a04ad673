/**
 * Settings: flags, environment variables, defaults, and clear errors for bad values; the CLI stops
 * with exit status 78 and names the setting.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, parseDuration, parseSize } from '../../src/server/config.ts';
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
