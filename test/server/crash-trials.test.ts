/**
 * The crash soak at CI size (`npm run soak` runs it by the thousand): kill -9 trials on each store
 * with clients that resend what got no 201 — no acknowledged message lost or truncated, nothing
 * staged or orphaned left after the restart's recovery. SEALPOST_CRASH_TRIALS sets the trials per
 * store (default 6 on the embedded store, half that on PostgreSQL).
 */
import { describe, expect, it } from 'vitest';
import { runCrashTrials } from '../helpers/crash-trials.ts';
import { PG_URL, requirePostgres } from './pg.ts';

const trials = Number(process.env.SEALPOST_CRASH_TRIALS ?? 6);
const hasPg = await requirePostgres('kill -9 trials on the PostgreSQL store');

describe('kill -9 trials', () => {
  it('embedded store: nothing acknowledged is lost or truncated, nothing is left over', async () => {
    const r = await runCrashTrials({ store: 'sqlite', trials, largeShare: 0.15 });
    expect(r.trials).toBe(trials);
    expect(r.acknowledged).toBeGreaterThan(0);
    expect({ lost: r.lost, truncated: r.truncated, leftover: r.leftover }).toEqual({
      lost: 0,
      truncated: 0,
      leftover: 0,
    });
  }, 600_000);

  it.skipIf(!hasPg)(
    'PostgreSQL store: the same',
    async () => {
      const r = await runCrashTrials({
        store: 'postgres',
        trials: Math.max(2, Math.floor(trials / 2)),
        largeShare: 0.15,
        pgUrl: PG_URL,
      });
      expect(r.acknowledged).toBeGreaterThan(0);
      expect({ lost: r.lost, truncated: r.truncated, leftover: r.leftover }).toEqual({
        lost: 0,
        truncated: 0,
        leftover: 0,
      });
    },
    600_000,
  );
});
