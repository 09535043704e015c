// `meshlet netpol serve` and `meshlet netpol connect [--batch]`: option handling around src/netpol.
import { isIP } from 'node:net';
import { runBatch } from '../netpol/batch.ts';
import { probe } from '../netpol/probe.ts';
import { serve } from '../netpol/serve.ts';
import { describeResult, NetpolInputError, parseAddressPort, parseDurationMs, parsePort, parseProtocol, type NetpolProtocol } from '../netpol/wire.ts';
import { UsageError, booleanOption, listOption, stringOption, type RunCommand } from './args.ts';
import { createLogger, exitOnSignals } from './runtime.ts';

function usage<T>(f: () => T): T {
  try {
    return f();
  } catch (err) {
    if (err instanceof NetpolInputError) throw new UsageError(err.message);
    throw err;
  }
}

/** "80,81" and repeated flags: a sorted list without duplicates. */
function portList(values: string[]): number[] {
  return [...new Set(values.flatMap((v) => v.split(',')).filter(Boolean).map(parsePort))].sort((a, b) => a - b);
}

export async function runNetpolServe(cmd: RunCommand): Promise<number | undefined> {
  const ports = usage(() => portList(listOption(cmd.options, 'port')));
  if (ports.length === 0) throw new UsageError('--port is required (e.g. --port 80,81)');
  const protocols = usage(() => [...new Set((listOption(cmd.options, 'protocol').length ? listOption(cmd.options, 'protocol') : ['tcp', 'udp']).flatMap((p) => p.split(',')).map(parseProtocol))]) as NetpolProtocol[];
  const host = stringOption(cmd.options, 'listen') ?? '0.0.0.0';
  if (!isIP(host)) throw new UsageError(`--listen "${host}": an IP address`);
  const reply = stringOption(cmd.options, 'reply') ?? '';
  if (reply.length > 100 || /[\n\r]/.test(reply)) throw new UsageError('--reply: one line of at most 100 characters');
  const logger = createLogger('netpol-serve');
  const running = await serve({ ports, protocols, reply, host }, logger);
  exitOnSignals(logger, () => running.stop());
  return undefined;
}

export async function runNetpolConnect(cmd: RunCommand): Promise<number> {
  const timeoutMs = usage(() => parseDurationMs(stringOption(cmd.options, 'timeout') ?? '1s'));
  if (booleanOption(cmd.options, 'batch')) {
    if (cmd.positionals.length) throw new UsageError('--batch reads its targets from stdin: no IP:PORT argument');
    await runBatch(process.stdin, process.stdout, timeoutMs);
    return 0;
  }
  const text = cmd.positionals[0];
  if (!text) throw new UsageError('IP:PORT is required (or --batch)');
  const { host, port } = usage(() => parseAddressPort(text));
  const protocol = usage(() => parseProtocol(stringOption(cmd.options, 'protocol') ?? 'tcp'));
  const target = { host, port, protocol, timeoutMs };
  const r = await probe(target);
  process.stdout.write(describeResult(target, r) + '\n');
  return r.outcome === 'connected' ? 0 : r.outcome === 'unsupported' ? 2 : 1;
}
