// The shell: applies one rendered transaction atomically with `nft -f -`
// (optionally inside a named network namespace, via `ip netns exec`), maps
// nft's `/dev/stdin:LINE:COL-COL: Error: …` back to the rendered line and the
// operation behind it, and lists the names a table holds (for the full sync
// of a new process, which adopts what an earlier run left).
import { runToExit } from '../core/command.ts';
import { assertNetnsName } from './names.ts';
import { assertTable, type TableId } from './model.ts';
import type { RenderedTransaction } from './transaction.ts';
import { parseListing, type TableListing } from './listing.ts';

/** What applies transactions: the real `nft` (NftCommandRunner) or the in-memory fake (FakeNft). */
export interface NftRunner {
  /** Apply all of `tx` or nothing; throws NftApplyError. */
  apply(tx: RenderedTransaction): Promise<void>;
  /** Chain, set and map names in `table`; null when there is no such table. */
  list(table: TableId): Promise<TableListing | null>;
}

export interface NftLineError {
  /** 1-based line of the rendered transaction. */
  line: number;
  column?: number;
  message: string;
  /** That line's text, and the index of the operation that rendered it. */
  text?: string;
  op?: number;
}

export class NftApplyError extends Error {
  override name = 'NftApplyError';
  constructor(
    message: string,
    readonly errors: readonly NftLineError[],
    readonly stderr: string,
  ) {
    super(message);
  }
}

/** Parse nft's stderr for `/dev/stdin:L:C-C: Error: …` and attach the rendered lines they name. */
export function parseNftErrors(stderr: string, tx: RenderedTransaction): NftLineError[] {
  const out: NftLineError[] = [];
  for (const m of stderr.matchAll(/^(?:\/dev\/stdin|-):(\d+):(\d+)(?:-\d+)?: Error: (.*)$/gm)) {
    const line = Number(m[1]);
    const at = tx.lines[line - 1];
    out.push({ line, column: Number(m[2]), message: m[3], ...(at ? { text: at.text, op: at.op } : {}) });
  }
  return out;
}

export function applyErrorFor(stderr: string, code: number | string, tx: RenderedTransaction): NftApplyError {
  const errors = parseNftErrors(stderr, tx);
  const summary = errors.length
    ? errors.map((e) => `line ${e.line}${e.op !== undefined ? ` (operation ${e.op + 1} ${tx.ops[e.op]?.kind})` : ''}: ${e.message}${e.text ? `: ${e.text}` : ''}`).join('; ')
    : stderr.trim() || `exit ${code}`;
  return new NftApplyError(`nft transaction of ${tx.owner} failed, nothing applied: ${summary}`, errors, stderr);
}

export interface NftCommandOptions {
  /** Run inside this named network namespace (`ip netns exec <netns> nft …`); tests use this. */
  netns?: string;
  /** The nft binary (default `nft` from PATH). */
  nft?: string;
  timeoutMs?: number;
}

// nft through the one command wrapper (src/core/command.ts). A spawn failure
// (no nft, no ip) throws; an exit code and stderr are the caller's to read.
async function run(argv: string[], input: string | undefined, timeoutMs: number): Promise<{ code: number; stdout: string; stderr: string }> {
  // Listings of proxy-scale sets run to megabytes: a generous bound.
  const r = await runToExit(argv[0], argv.slice(1), { input, timeoutMs, maxOutputBytes: 256 * 1024 * 1024 });
  if (r.code === null && r.signal === null) throw new Error(`${argv[0]} could not run: ${r.error ?? 'unknown error'}`);
  const stderr = r.error !== undefined ? [r.stderr.trim(), r.error].filter(Boolean).join('; ') : r.stderr;
  return { code: r.code ?? 1, stdout: r.stdout, stderr };
}

/** The real runner. */
export class NftCommandRunner implements NftRunner {
  private readonly prefix: string[];
  private readonly timeoutMs: number;

  constructor(opts: NftCommandOptions = {}) {
    if (opts.netns !== undefined) assertNetnsName(opts.netns);
    const nft = opts.nft ?? 'nft';
    if (!/^[a-zA-Z0-9_./-]+$/.test(nft)) throw new Error(`invalid nft path ${JSON.stringify(nft)}`);
    this.prefix = opts.netns !== undefined ? ['ip', 'netns', 'exec', opts.netns, nft] : [nft];
    this.timeoutMs = opts.timeoutMs ?? 60_000;
  }

  async apply(tx: RenderedTransaction): Promise<void> {
    if (tx.lines.length === 0) return;
    const r = await run([...this.prefix, '-f', '-'], tx.text, this.timeoutMs);
    if (r.code !== 0) throw applyErrorFor(r.stderr, r.code, tx);
  }

  async list(table: TableId): Promise<TableListing | null> {
    assertTable(table);
    const json = async (...what: string[]): Promise<string> => {
      const r = await run([...this.prefix, '-j', 'list', ...what], undefined, this.timeoutMs);
      if (r.code !== 0) throw new Error(`nft list ${what.join(' ')} exited ${r.code}: ${r.stderr.trim()}`);
      return r.stdout;
    };
    const tables = JSON.parse(await json('tables', table.family)) as { nftables?: { table?: { name?: string } }[] };
    if (!(tables.nftables ?? []).some((o) => o.table?.name === table.name)) return null;
    // Chains without their rules; sets and maps with their elements.
    return parseListing(table, await json('chains', table.family), await json('sets', table.family), await json('maps', table.family));
  }
}
