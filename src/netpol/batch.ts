// `meshlet netpol connect --batch`: probe targets read as JSON lines from a
// stream, each started as soon as its line arrives (so all run in parallel),
// each result written as one JSON line when it settles. A runner keeps one
// such process per client pod and feeds it every round of probes.
import { createInterface } from 'node:readline';
import { probe } from './probe.ts';
import { formatBatchResult, NetpolInputError, parseBatchLine } from './wire.ts';

export async function runBatch(input: NodeJS.ReadableStream, output: NodeJS.WritableStream, defaultTimeoutMs: number): Promise<void> {
  const pending = new Set<Promise<void>>();
  const lines = createInterface({ input, crlfDelay: Infinity });
  for await (const raw of lines) {
    const line = raw.trim();
    if (!line) continue;
    let req;
    try {
      req = parseBatchLine(line, defaultTimeoutMs);
    } catch (err) {
      const id = /"id"\s*:\s*"([^"]{1,200})"/.exec(line)?.[1] ?? '';
      output.write(formatBatchResult(id, { outcome: 'error', ms: 0, error: err instanceof NetpolInputError ? err.message : String(err) }) + '\n');
      continue;
    }
    const { id, target } = req;
    const p: Promise<void> = probe(target).then((r) => {
      output.write(formatBatchResult(id, r) + '\n');
      pending.delete(p);
    });
    pending.add(p);
  }
  await Promise.all(pending);
}
