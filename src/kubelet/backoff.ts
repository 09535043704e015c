// Container restart back-off (CrashLoopBackOff), as the kubelet does it:
// the first restart is immediate, then 10 s, doubling up to 5 min; a run that
// lasted 10 min or more resets the count. Pure.

export interface RunRecord {
  /** ms since the epoch. */
  startedAt: number;
  finishedAt: number;
}

export interface BackoffOptions {
  baseMs: number;
  maxMs: number;
  /** A run at least this long resets the back-off. */
  resetAfterMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 10_000, maxMs: 300_000, resetAfterMs: 600_000 };

/** How many of the most recent runs in a row ended before the reset period (they count as crashes). */
export function consecutiveShortRuns(history: readonly RunRecord[], resetAfterMs: number): number {
  let n = 0;
  for (let i = history.length - 1; i >= 0; i--) {
    const r = history[i];
    if (r.finishedAt - r.startedAt >= resetAfterMs) break;
    n++;
  }
  return n;
}

/** The back-off owed after `crashes` short runs in a row: 0, base, 2·base, … capped at max. */
export function backoffFor(crashes: number, opts: BackoffOptions = DEFAULT_BACKOFF): number {
  if (crashes <= 1) return 0;
  return Math.min(opts.maxMs, opts.baseMs * 2 ** Math.min(crashes - 2, 30));
}

/**
 * Milliseconds from `now` until the container may start again, given its
 * finished runs oldest first (0: now). A container with no history starts at once.
 */
export function nextRestartDelay(history: readonly RunRecord[], now: number, opts: BackoffOptions = DEFAULT_BACKOFF): number {
  if (history.length === 0) return 0;
  const last = history[history.length - 1];
  const delay = backoffFor(consecutiveShortRuns(history, opts.resetAfterMs), opts);
  return Math.max(0, last.finishedAt + delay - now);
}
