/** Shared by the benchmarks: a test message of a given size, and a measured run of a peer program. */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync, statSync, writeSync } from 'node:fs';

/** A MIME entity with a text part and a random base64 attachment, about `mb` megabytes (kept when it exists). */
export function makeBenchMime(path: string, mb: number): void {
  if (existsSync(path) && Math.abs(statSync(path).size - mb * 1e6) < mb * 1e5) return;
  const fd = openSync(path, 'w');
  const w = (s: string): void => void writeSync(fd, s);
  w('Content-Type: multipart/mixed; boundary="bench-boundary"\r\n\r\n--bench-boundary\r\n');
  w(
    'Content-Type: text/plain; charset=utf-8\r\n\r\nThe benchmark message. MARK-bench\r\n--bench-boundary\r\n',
  );
  w('Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename="data.bin"\r\n');
  w('Content-Transfer-Encoding: base64\r\n\r\n');
  const rawBytes = Math.floor((mb * 1e6 * 0.74) / 57) * 57;
  for (let done = 0; done < rawBytes;) {
    const n = Math.min(57 * 16384, rawBytes - done);
    const b64 = randomBytes(n).toString('base64');
    const lines: string[] = [];
    for (let i = 0; i < b64.length; i += 76) lines.push(b64.slice(i, i + 76));
    w(`${lines.join('\r\n')}\r\n`);
    done += n;
  }
  w('--bench-boundary--\r\n');
  closeSync(fd);
}

export interface Measure {
  ms: number;
  maxRssMb: number;
}

/** Runs a program under /usr/bin/time: wall time and peak RSS. */
export function timed(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Measure {
  const r = spawnSync('/usr/bin/time', ['-f', '%e %M', cmd, ...args], {
    env,
    encoding: 'utf8',
    maxBuffer: 1 << 20,
  });
  if (r.status !== 0) throw new Error(`${cmd} failed: ${r.stderr.slice(-500)}`);
  const [secs, kb] = r.stderr.trim().split('\n').pop()!.split(' ').map(Number);
  return { ms: Math.round(secs! * 1000), maxRssMb: Math.round(kb! / 1024) };
}
