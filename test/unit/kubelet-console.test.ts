// The console helper (src/kubelet/console.py) on its own, without root: its
// pty mode (exec -t) and its serve mode (attach), driven as the agent drives them.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CONSOLE_HELPER, PYTHON, consoleArgv } from '../../src/kubelet/exec-plan.ts';
import { consoleFrame, splitConsoleFrames } from '../../src/agent/exec-session.ts';

const dir = mkdtempSync(join(tmpdir(), 'mlt-exec-console-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function exited(child: ReturnType<typeof spawn>): Promise<number | null> {
  return new Promise((resolve) => child.once('close', (code) => resolve(code)));
}

test('pty mode: a terminal sized through fd 3, stdin to it, the exit code back', async () => {
  const child = spawn(PYTHON, [CONSOLE_HELPER, 'pty', '--', 'sh', '-c', 'read x; tty; stty size; echo "got $x"; exit 7'], { stdio: ['pipe', 'pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d));
  const control = child.stdio[3] as NodeJS.WritableStream;
  control.write('100 30\n');
  await sleep(100);
  child.stdin!.write('hello\r');
  assert.equal(await exited(child), 7);
  assert.match(out, /\/dev\/pts\/\d+/);
  assert.match(out, /30 100/);
  assert.match(out, /got hello/);
});

test('serve mode: output to the log and to an attached client, stdin from it, stdinOnce closes it', async (t) => {
  const sock = join(dir, 's.sock');
  const argv = consoleArgv(sock, { stdin: true, stdinOnce: true }, ['sh', '-c', 'while read l; do echo "out $l"; echo "err $l" >&2; done; exit 3']);
  const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let log = '';
  child.stdout!.on('data', (d: Buffer) => (log += d));
  child.stderr!.on('data', (d: Buffer) => (log += d));
  for (let i = 0; i < 100 && !existsSync(sock); i++) await sleep(20);
  const c = connect(sock);
  let buf: Buffer = Buffer.alloc(0);
  const got: { channel: number; text: string }[] = [];
  c.on('data', (d: Buffer) => {
    const { frames, rest } = splitConsoleFrames(Buffer.concat([buf, d]));
    buf = rest;
    for (const f of frames) got.push({ channel: f.channel, text: f.payload.toString() });
  });
  await new Promise((resolve) => c.once('connect', resolve));
  c.write(consoleFrame(0, Buffer.from('a\n')));
  c.write(consoleFrame(255, Buffer.alloc(0)));
  const closed = new Promise((resolve) => c.once('close', resolve));
  assert.equal(await exited(child), 3);
  await closed;
  assert.deepEqual(got.filter((f) => f.channel === 1).map((f) => f.text).join(''), 'out a\n');
  assert.deepEqual(got.filter((f) => f.channel === 2).map((f) => f.text).join(''), 'err a\n');
  assert.match(log, /out a/);
  assert.match(log, /err a/);
  assert.equal(existsSync(sock), false, 'the socket is removed at exit');
});
