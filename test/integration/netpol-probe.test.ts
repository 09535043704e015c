// `meshlet netpol serve` and `connect` on their own, on 127.0.0.1: the CLI's
// one-line output and exit codes (0 connected, 1 refused or timed out, 2
// unsupported), UDP answered, a closed port refused, a silent UDP peer timing
// out, SCTP measured or reported unsupported, and --batch probing many
// targets in parallel with JSON lines.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { createServer } from 'node:net';
import { MESHLET_BIN } from '../../src/lab/paths.ts';
import { parseBatchResult, type BatchResult } from '../../src/netpol/wire.ts';

let server: ChildProcess;
let silent: Socket;
let ports: { serve: number; closed: number; silent: number };

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

function meshlet(args: string[], input?: string): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [MESHLET_BIN, ...args], (err, stdout) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout }));
    if (input !== undefined) child.stdin!.end(input);
  });
}

before(async () => {
  ports = { serve: await freePort(), closed: await freePort(), silent: 0 };
  // A UDP socket that never answers: what a dropped datagram looks like.
  silent = createSocket('udp4');
  await new Promise<void>((r) => silent.bind(0, '127.0.0.1', () => r()));
  ports.silent = silent.address().port;
  server = spawn(process.execPath, [MESHLET_BIN, 'netpol', 'serve', '--listen', '127.0.0.1', '--port', String(ports.serve), '--protocol', 'tcp,udp', '--reply', 'x/a'], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    server.stdout!.on('data', (b: Buffer) => b.toString().includes('"serving"') && resolve());
    server.once('exit', (code) => reject(new Error(`serve exited ${code}`)));
  });
});

after(() => {
  server?.kill('SIGTERM');
  silent?.close();
});

test('connect: one line and the exit code per outcome', async () => {
  const tcp = await meshlet(['netpol', 'connect', `127.0.0.1:${ports.serve}`]);
  assert.equal(tcp.code, 0);
  assert.match(tcp.stdout, new RegExp(`^connected 127\\.0\\.0\\.1:${ports.serve}/TCP in \\d+ ms reply "meshlet-netpol x/a"\\n$`));
  const udp = await meshlet(['netpol', 'connect', `127.0.0.1:${ports.serve}`, '--protocol', 'udp']);
  assert.equal(udp.code, 0);
  assert.match(udp.stdout, /^connected .*\/UDP .*reply "meshlet-netpol x\/a"/);
  const refused = await meshlet(['netpol', 'connect', `127.0.0.1:${ports.closed}`]);
  assert.equal(refused.code, 1);
  assert.match(refused.stdout, /^refused .*ECONNREFUSED/);
  const timeout = await meshlet(['netpol', 'connect', `127.0.0.1:${ports.silent}`, '--protocol', 'udp', '--timeout', '300ms']);
  assert.equal(timeout.code, 1);
  assert.match(timeout.stdout, /^timeout 127\.0\.0\.1:\d+\/UDP/);
  const sctp = await meshlet(['netpol', 'connect', `127.0.0.1:${ports.closed}`, '--protocol', 'sctp', '--timeout', '300ms']);
  if (/^unsupported/.test(sctp.stdout)) {
    assert.equal(sctp.code, 2);
    assert.match(sctp.stdout, /this kernel has no SCTP/);
  } else {
    assert.equal(sctp.code, 1, 'nothing serves SCTP there');
  }
  const bad = await meshlet(['netpol', 'connect', 'web:80']);
  assert.equal(bad.code, 2, 'a name, not an IP, is a usage error');
});

test('connect --batch: every line probed, one JSON result per id, bad lines answered with an error', async () => {
  const lines = [
    ...Array.from({ length: 20 }, (_, i) => ({ id: `t${i}`, host: '127.0.0.1', port: ports.serve, protocol: i % 2 ? 'UDP' : 'TCP' })),
    { id: 'closed', host: '127.0.0.1', port: ports.closed },
    { id: 'silent', host: '127.0.0.1', port: ports.silent, protocol: 'UDP', timeoutMs: 800 },
    { id: 'bad', host: 'web', port: 80 },
  ];
  const run = await meshlet(['netpol', 'connect', '--batch', '--timeout', '800ms'], lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
  assert.equal(run.code, 0);
  const results = new Map<string, BatchResult>(run.stdout.trim().split('\n').map((l) => { const r = parseBatchResult(l); return [r.id, r]; }));
  assert.equal(results.size, lines.length);
  for (let i = 0; i < 20; i++) {
    assert.equal(results.get(`t${i}`)?.outcome, 'connected', `t${i}`);
    assert.equal(results.get(`t${i}`)?.reply, 'meshlet-netpol x/a');
  }
  assert.equal(results.get('closed')?.outcome, 'refused');
  assert.equal(results.get('silent')?.outcome, 'timeout');
  assert.equal(results.get('bad')?.outcome, 'error');
  assert.match(results.get('bad')?.error ?? '', /IP address/);
});
