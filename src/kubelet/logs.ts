// Container logs as a stream: the run's log file, optionally its last lines,
// optionally followed as it grows until the run ends or the reader goes away.
//
// The container writes its log file directly (no logging process that could
// die with the agent), so lines carry no time of their own. sinceSeconds
// therefore works per file (a run whose log was last written before the cut
// is skipped whole), and `timestamps` prefixes lines already written with the
// file's modification time and followed lines with the time they were read.
import { Readable } from 'node:stream';
import { open, stat } from 'node:fs/promises';
import type { ContainerRuntime } from './containers.ts';

export interface LogOptions {
  tailLines?: number;
  follow?: boolean;
  previous?: boolean;
  sinceSeconds?: number;
  timestamps?: boolean;
  /** Follow poll period (default 200 ms). */
  pollMs?: number;
}

export class LogNotFoundError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LogNotFoundError';
  }
}

/** Byte offset where the last `n` lines of `buf` start (a trailing newline does not open a line). Pure. */
export function tailStart(buf: Buffer, n: number): number {
  if (n <= 0) return buf.length;
  let end = buf.length;
  if (end > 0 && buf[end - 1] === 0x0a) end--;
  let seen = 0;
  for (let i = end - 1; i >= 0; i--) {
    if (buf[i] === 0x0a) {
      seen++;
      if (seen === n) return i + 1;
    }
  }
  return 0;
}

/** Prefixes each complete line with a timestamp; returns the text and the unfinished rest. Pure. */
export function stampLines(text: string, stamp: string): { out: string; rest: string } {
  const lines = text.split('\n');
  const rest = lines.pop() ?? '';
  return { out: lines.map((l) => `${stamp} ${l}\n`).join(''), rest };
}

async function tailOffset(path: string, size: number, n: number): Promise<number> {
  const fh = await open(path, 'r');
  try {
    const chunk = 64 * 1024;
    let start = size;
    let acc = Buffer.alloc(0);
    while (start > 0) {
      const from = Math.max(0, start - chunk);
      const buf = Buffer.alloc(start - from);
      await fh.read(buf, 0, buf.length, from);
      acc = Buffer.concat([buf, acc]);
      start = from;
      const off = tailStart(acc, n);
      if (off > 0 || start === 0) return start + off;
    }
    return 0;
  } finally {
    await fh.close();
  }
}

async function readRange(path: string, from: number, to: number): Promise<Buffer> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(to - from);
    const { bytesRead } = await fh.read(buf, 0, buf.length, from);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

export function readLogs(runtime: ContainerRuntime, podUid: string, container: string, opts: LogOptions = {}): Readable {
  const obs = runtime.observe(podUid, container);
  if (!obs?.current) throw new LogNotFoundError(`container "${container}" in pod ${podUid} has not started`);
  const restart = opts.previous ? obs.restartCount - 1 : obs.restartCount;
  if (restart < 0 || (opts.previous && !obs.previous)) {
    throw new LogNotFoundError(`previous terminated container "${container}" in pod ${podUid} not found`);
  }
  const path = runtime.logPath(podUid, container, restart);
  const follow = !!opts.follow && !opts.previous;
  const pollMs = opts.pollMs ?? 200;
  let pos = 0;
  let rest = '';
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  const stream = new Readable({
    read() {},
    destroy(err, cb) {
      closed = true;
      if (timer) clearTimeout(timer);
      cb(err);
    },
  });

  const emit = (buf: Buffer, stamp: string | undefined, final: boolean) => {
    if (buf.length === 0 && !final) return;
    if (!opts.timestamps) {
      if (buf.length > 0) stream.push(buf);
      return;
    }
    const { out, rest: r } = stampLines(rest + buf.toString('utf8'), stamp ?? new Date().toISOString());
    rest = r;
    let text = out;
    if (final && rest) {
      text += `${stamp ?? new Date().toISOString()} ${rest}\n`;
      rest = '';
    }
    if (text) stream.push(text);
  };

  const isRunning = () => {
    const o = runtime.observe(podUid, container);
    return !!o?.current && o.current.restart === restart && o.current.running;
  };

  const poll = async () => {
    timer = undefined;
    if (closed) return;
    try {
      const running = isRunning();
      const size = (await stat(path).catch(() => undefined))?.size ?? 0;
      if (size > pos) {
        emit(await readRange(path, pos, size), undefined, false);
        pos = size;
      }
      if (!running) {
        // Drain what the run wrote after our last look, then end.
        const last = (await stat(path).catch(() => undefined))?.size ?? 0;
        if (last > pos) emit(await readRange(path, pos, last), undefined, false);
        emit(Buffer.alloc(0), undefined, true);
        stream.push(null);
        return;
      }
      if (!closed) timer = setTimeout(() => void poll(), pollMs);
    } catch (err) {
      stream.destroy(err as Error);
    }
  };

  void (async () => {
    try {
      const st = await stat(path).catch(() => undefined);
      const size = st?.size ?? 0;
      const mtime = st?.mtimeMs ?? Date.now();
      const tooOld = opts.sinceSeconds !== undefined && mtime < Date.now() - opts.sinceSeconds * 1000;
      pos = tooOld ? size : opts.tailLines !== undefined ? await tailOffset(path, size, opts.tailLines) : 0;
      if (size > pos) emit(await readRange(path, pos, size), new Date(mtime).toISOString(), !follow);
      pos = size;
      if (follow) await poll();
      else stream.push(null);
    } catch (err) {
      stream.destroy(err as Error);
    }
  })();
  return stream;
}
