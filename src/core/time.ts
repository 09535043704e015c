// Timestamps as Kubernetes writes them: metav1.Time is RFC 3339 to the second
// ("2026-01-02T03:04:05Z"), metav1.MicroTime RFC 3339 with microseconds
// ("2026-01-02T03:04:05.678000Z", leases' renewTime, events' eventTime). Pure.

/** metav1.Time: RFC 3339, UTC, to the second. */
export function kubeTime(at: Date | number): string {
  return new Date(at).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** metav1.MicroTime: RFC 3339, UTC, with six fractional digits. */
export function kubeMicroTime(at: Date | number): string {
  return new Date(at).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

/**
 * metav1.Duration as Go's time.Duration prints it: "10.062s", "1m30s",
 * "1h0m0s", "500ms", "0s". Pure; seconds are rounded to the nanosecond.
 */
export function goDuration(seconds: number): string {
  let ns = Math.round(seconds * 1e9);
  if (!Number.isFinite(ns)) throw new RangeError(`not a duration: ${seconds}`);
  if (ns === 0) return '0s';
  const sign = ns < 0 ? '-' : '';
  ns = Math.abs(ns);
  const fraction = (value: number, digits: number): string => {
    const whole = Math.floor(value / 10 ** digits);
    const rest = String(value % 10 ** digits).padStart(digits, '0').replace(/0+$/, '');
    return rest ? `${whole}.${rest}` : String(whole);
  };
  if (ns < 1e3) return `${sign}${ns}ns`;
  if (ns < 1e6) return `${sign}${fraction(ns, 3)}µs`;
  if (ns < 1e9) return `${sign}${fraction(ns, 6)}ms`;
  const totalSeconds = Math.floor(ns / 1e9);
  const secondsPart = fraction(ns % 6e10, 9);
  const minutes = Math.floor(totalSeconds / 60) % 60;
  const hours = Math.floor(totalSeconds / 3600);
  if (hours > 0) return `${sign}${hours}h${minutes}m${secondsPart}s`;
  if (minutes > 0) return `${sign}${minutes}m${secondsPart}s`;
  return `${sign}${secondsPart}s`;
}
