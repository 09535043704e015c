// Polling for integration tests: the one waitFor every test file uses.
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Polls fn until it returns something truthy, and returns that. A throw counts
 * as "not yet" (the last one is named if time runs out). The limit only bounds
 * a hang: no test asserts on how long anything took.
 */
export async function waitFor<T>(what: string, fn: () => T | undefined | false | Promise<T | undefined | false>, ms = 30_000, everyMs = 100): Promise<T> {
  const end = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > end) throw new Error(`timed out after ${ms / 1000} s waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await sleep(everyMs);
  }
}
