// The Node/V8 options `meshlet dns` is started with (by the agent, and by the
// tests and benches that start it). A young generation of 1 MiB semi-spaces
// instead of V8's default (up to 16 MiB each on 64-bit): the DNS allocates little
// per query (a reply buffer), a snapshot's parse promotes what it keeps, and the
// default leaves tens of MiB of young-generation pages resident after a load.
// --expose-gc: after a snapshot, the parse's garbage (the feed line, replaced
// objects: as much again as the zone) is collected at once; an idle DNS
// allocates too little for V8 to do it on its own, and it would stay resident.
export const DNS_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=1', '--expose-gc'];

/** A full collection, when the process was started with --expose-gc (a no-op otherwise). */
export function collectGarbage(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

/** execArgv plus the DNS's options that it does not already set. */
export function withDnsNodeFlags(execArgv: readonly string[]): string[] {
  const name = (f: string): string => f.split('=')[0];
  return [...execArgv, ...DNS_NODE_FLAGS.filter((f) => !execArgv.some((a) => name(a) === name(f)))];
}
