// Pure command-line parsing against the command table (no I/O).
import { parseArgs } from 'node:util';
import { COMMANDS, commandHelp, findCommand, groupHelp, mainHelp, type CommandSpec } from './commands.ts';

export type OptionValues = Record<string, string | boolean | string[] | undefined>;

export interface RunCommand {
  kind: 'run';
  command: string;
  options: OptionValues;
  positionals: string[];
  /** Everything after `--`. */
  rest: string[];
}

export type ParsedCommandLine =
  | RunCommand
  /** Print text to stdout and exit 0. */
  | { kind: 'help'; text: string }
  /** Print message and usage to stderr and exit 2. */
  | { kind: 'usage-error'; message: string; usage: string };

const GROUPS = [...new Set(COMMANDS.filter((c) => c.name.includes(' ')).map((c) => c.name.split(' ')[0]))];

const isHelpFlag = (a: string | undefined): boolean => a === '--help' || a === '-h';

export function parseCommandLine(argv: readonly string[]): ParsedCommandLine {
  const [first, ...afterFirst] = argv;
  if (first === undefined || isHelpFlag(first)) return { kind: 'help', text: mainHelp() };
  if (first === 'help') {
    const target = afterFirst.join(' ');
    if (!target) return { kind: 'help', text: mainHelp() };
    const spec = findCommand(target);
    if (spec) return { kind: 'help', text: commandHelp(spec) };
    if (GROUPS.includes(target)) return { kind: 'help', text: groupHelp(target) };
    return { kind: 'usage-error', message: `unknown command "${target}"`, usage: mainHelp() };
  }

  let spec: CommandSpec | undefined;
  let args: string[];
  if (GROUPS.includes(first)) {
    const [sub, ...afterSub] = afterFirst;
    if (sub === undefined || isHelpFlag(sub)) {
      return sub === undefined
        ? { kind: 'usage-error', message: `"${first}" needs a subcommand`, usage: groupHelp(first) }
        : { kind: 'help', text: groupHelp(first) };
    }
    spec = findCommand(`${first} ${sub}`);
    if (!spec) {
      return { kind: 'usage-error', message: `unknown command "${first} ${sub}"`, usage: groupHelp(first) };
    }
    args = afterSub;
  } else {
    spec = findCommand(first);
    if (!spec || spec.name.includes(' ')) {
      return { kind: 'usage-error', message: `unknown command "${first}"`, usage: mainHelp() };
    }
    args = afterFirst;
  }
  return parseCommandArgs(spec, args);
}

export function parseCommandArgs(spec: CommandSpec, args: readonly string[]): ParsedCommandLine {
  const dashDash = args.indexOf('--');
  const own = dashDash >= 0 ? args.slice(0, dashDash) : [...args];
  const rest = dashDash >= 0 ? args.slice(dashDash + 1) : [];
  if (own.some(isHelpFlag)) return { kind: 'help', text: commandHelp(spec) };
  const usage = commandHelp(spec);
  if (dashDash >= 0 && !spec.rest) {
    return { kind: 'usage-error', message: `"${spec.name}" takes no arguments after --`, usage };
  }

  let parsed: { values: OptionValues; positionals: string[] };
  try {
    parsed = parseArgs({
      args: own,
      options: Object.fromEntries(
        Object.entries(spec.options).map(([name, o]) => [
          name,
          { type: o.type, ...(o.short ? { short: o.short } : {}), ...(o.multiple ? { multiple: true } : {}) },
        ]),
      ),
      allowPositionals: true,
      strict: true,
    }) as { values: OptionValues; positionals: string[] };
  } catch (err) {
    return { kind: 'usage-error', message: (err as Error).message, usage };
  }
  const { values, positionals } = parsed;
  if (positionals.length < spec.minPositionals) {
    return { kind: 'usage-error', message: `"${spec.name}" needs more arguments`, usage };
  }
  if (positionals.length > spec.maxPositionals) {
    return {
      kind: 'usage-error',
      message: `unexpected argument "${positionals[spec.maxPositionals]}"`,
      usage,
    };
  }
  if (spec.rest && rest.length === 0) {
    return { kind: 'usage-error', message: `"${spec.name}" needs a command after --`, usage };
  }
  return { kind: 'run', command: spec.name, options: { ...values }, positionals, rest };
}

/** Thrown by commands for bad option values: main prints it with the usage and exits 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export function stringOption(options: OptionValues, name: string): string | undefined {
  const v = options[name];
  return typeof v === 'string' ? v : undefined;
}

export function requiredString(options: OptionValues, name: string): string {
  const v = stringOption(options, name);
  if (v === undefined || v === '') throw new UsageError(`--${name} is required`);
  return v;
}

export function booleanOption(options: OptionValues, name: string): boolean {
  return options[name] === true;
}

export function listOption(options: OptionValues, name: string): string[] {
  const v = options[name];
  return Array.isArray(v) ? v : typeof v === 'string' ? [v] : [];
}

export function integerOption(options: OptionValues, name: string, min: number, max: number, fallback: number): number {
  const v = stringOption(options, name);
  if (v === undefined) return fallback;
  if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) {
    throw new UsageError(`--${name} must be an integer from ${min} to ${max}, got "${v}"`);
  }
  return Number(v);
}

/** A decimal number (0.1, 5, 0.55) from min to max. */
export function numberOption(options: OptionValues, name: string, min: number, max: number, fallback: number): number {
  const v = stringOption(options, name);
  if (v === undefined) return fallback;
  if (!/^\d+(\.\d+)?$/.test(v) || Number(v) < min || Number(v) > max) {
    throw new UsageError(`--${name} must be a number from ${min} to ${max}, got "${v}"`);
  }
  return Number(v);
}

export interface HostPort {
  host: string;
  port: number;
}

/** "127.0.0.1:6443", "[::1]:6443", ":6443" (host defaults to 127.0.0.1). */
export function parseHostPort(text: string): HostPort {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(text);
  if (!m) throw new UsageError(`"${text}" is not HOST:PORT`);
  const port = Number(m[3]);
  if (port > 65535) throw new UsageError(`port ${port} is out of range`);
  return { host: m[1] ?? (m[2] || '127.0.0.1'), port };
}

/** A health/metrics listener: HOST:PORT is TCP; anything with a slash (or unix://) is a unix socket path. */
export function parseHealthListen(text: string): HostPort | { socketPath: string } {
  if (text.startsWith('unix://')) return { socketPath: text.slice('unix://'.length) };
  if (text.includes('/')) return { socketPath: text };
  return parseHostPort(text);
}
