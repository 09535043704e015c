// Go's time.Duration text form ("1h0m0s", "1.5s", "300ms"), which
// metav1.Duration uses in JSON; protobuf carries nanoseconds.
import { KubeError } from '../../core/errors.ts';

const UNIT_NS: Readonly<Record<string, number>> = { ns: 1, us: 1e3, 'µs': 1e3, 'μs': 1e3, ms: 1e6, s: 1e9, m: 6e10, h: 3.6e12 };

function trimmed(value: number): string {
  return String(Number(value.toFixed(9)));
}

/** Nanoseconds → Go's Duration.String(). */
export function goDuration(ns: number): string {
  if (ns === 0) return '0s';
  const sign = ns < 0 ? '-' : '';
  const u = Math.abs(ns);
  if (u < 1e3) return `${sign}${u}ns`;
  if (u < 1e6) return `${sign}${trimmed(u / 1e3)}µs`;
  if (u < 1e9) return `${sign}${trimmed(u / 1e6)}ms`;
  const h = Math.floor(u / 3.6e12);
  const m = Math.floor((u % 3.6e12) / 6e10);
  const s = (u % 6e10) / 1e9;
  return `${sign}${h > 0 ? `${h}h` : ''}${h > 0 || m > 0 ? `${m}m` : ''}${trimmed(s)}s`;
}

/** Go's time.ParseDuration → nanoseconds. */
export function parseGoDuration(text: string): number {
  const m = /^([-+]?)((?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+$/.exec(text);
  if (!m && text !== '0') throw new KubeError('BadRequest', `invalid duration "${text}"`);
  if (text === '0') return 0;
  let total = 0;
  for (const part of text.matchAll(/(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/g)) total += Number(part[1]) * UNIT_NS[part[2]];
  return Math.round(m![1] === '-' ? -total : total);
}
