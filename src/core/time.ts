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
