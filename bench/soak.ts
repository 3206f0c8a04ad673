/**
 * `npm run soak` — the crash soak for operators: `sealpost serve` is killed with SIGKILL at random
 * moments under a stream of submissions, SOAK_TRIALS times (default 1000) per store, and every
 * acknowledged message is checked afterwards (test/helpers/crash-trials.ts says how). Prints, per
 * store: trials, attempts, acknowledged, lost, truncated, duplicated, leftover; exits 1 when a
 * message was lost or truncated, or something was left over.
 *
 *   SOAK_STORES   sqlite,postgres (default both, one after the other)
 *   SOAK_TRIALS   kills per store (default 1000)
 *   SOAK_CLIENTS  concurrent clients (default 4)
 *   SOAK_SEGMENT  trials per store instance (default 100): each segment runs on a fresh store and is
 *                 checked at its end, and the totals are printed after each, so a run stopped early
 *                 still reports every finished segment
 *   SOAK_DATABASE PostgreSQL server (default postgres://postgres@127.0.0.1:5432/test; a database is
 *                 created for the run and dropped)
 *
 * Results also go to bench/out/soak-<store>.json; record them in docs/performance.md.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCrashTrials, type CrashTrialReport } from '../test/helpers/crash-trials.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const stores = (process.env.SOAK_STORES ?? 'sqlite,postgres').split(',').map((s) => s.trim());
const trials = Number(process.env.SOAK_TRIALS ?? 1000);
const clients = Number(process.env.SOAK_CLIENTS ?? 4);
const segment = Number(process.env.SOAK_SEGMENT ?? 100);
const pgUrl = process.env.SOAK_DATABASE ?? 'postgres://postgres@127.0.0.1:5432/test';

const line = (r: CrashTrialReport): string =>
  `${r.store}: trials=${r.trials} attempts=${r.attempts} acknowledged=${r.acknowledged} lost=${r.lost} ` +
  `truncated=${r.truncated} duplicated=${r.duplicated} stored-unacknowledged=${r.storedUnacknowledged} ` +
  `leftover=${r.leftover} seconds=${r.seconds}`;

let failed = false;
await mkdir(join(ROOT, 'bench/out'), { recursive: true });
for (const store of stores) {
  if (store !== 'sqlite' && store !== 'postgres') throw new Error(`SOAK_STORES: unknown store ${store}`);
  const t0 = Date.now();
  console.log(`soak ${store}: ${trials} kill -9 trials in segments of ${segment}, ${clients} clients`);
  const total: CrashTrialReport = {
    store,
    trials: 0,
    attempts: 0,
    acknowledged: 0,
    lost: 0,
    truncated: 0,
    duplicated: 0,
    storedUnacknowledged: 0,
    leftover: 0,
    seconds: 0,
  };
  while (total.trials < trials) {
    const r = await runCrashTrials({
      store,
      trials: Math.min(segment, trials - total.trials),
      clients,
      pgUrl,
    });
    for (const k of ['trials', 'attempts', 'acknowledged', 'lost', 'truncated', 'duplicated'] as const)
      total[k] += r[k];
    total.storedUnacknowledged += r.storedUnacknowledged;
    total.leftover += r.leftover;
    total.seconds = Math.round((Date.now() - t0) / 1000);
    console.log(`  segment: ${line(r)}`);
    console.log(`  total:   ${line(total)}`);
    await writeFile(
      join(ROOT, `bench/out/soak-${store}.json`),
      `${JSON.stringify({ ...total, at: new Date().toISOString() }, null, 2)}\n`,
    );
  }
  console.log(line(total));
  if (total.lost > 0 || total.truncated > 0 || total.leftover > 0) failed = true;
}
process.exitCode = failed ? 1 : 0;
