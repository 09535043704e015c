// kubectl exec, attach, cp, port-forward and run, with the real kubectl v1.32
// against a one-node lab (root: real namespaces, a real agent and kubelet).
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseTokenFile } from '../../src/api/auth.ts';
import { KUBECTL, runMeshlet, runProcess, type RunResult } from '../helpers/run.ts';

const root = mkdtempSync(join(tmpdir(), 'mlt-exec-'));
const lab = `exect${randomBytes(2).toString('hex')}`;
const kubeconfig = join(root, lab, 'kubeconfig');
const env = { ...process.env, MESHLET_LAB_ROOT: root };
const kubectlArgs = (args: string[]): string[] => ['--kubeconfig', kubeconfig, '--cache-dir', join(root, '.kube-cache'), ...args];

function kubectl(args: string[], input = '', extraEnv: NodeJS.ProcessEnv = {}): Promise<RunResult> {
  return runProcess(KUBECTL, kubectlArgs(args), { input, env: { ...env, ...extraEnv }, timeoutMs: 60_000 });
}

async function ok(args: string[], input = ''): Promise<string> {
  const r = await kubectl(args, input);
  assert.equal(r.code, 0, `kubectl ${args.join(' ')} exited ${r.code}\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** kubectl on a terminal (util-linux script gives it one), for -t. */
function onTerminal(args: string[], input = ''): Promise<RunResult> {
  const cmd = [KUBECTL, ...kubectlArgs(args)].map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' ');
  return runProcess('script', ['-qec', cmd, '/dev/null'], { input, env, timeoutMs: 60_000 });
}

async function waitFor(what: string, check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (await check()) return;
    await sleep(100);
  }
  assert.fail(`timed out waiting for ${what}`);
}

async function podPhase(name: string): Promise<string> {
  return (await kubectl(['get', 'pod', name, '-o', 'jsonpath={.status.phase}'])).stdout;
}

const podYaml = `apiVersion: v1
kind: Pod
metadata: {name: p, namespace: default}
spec:
  containers:
  - name: web
    image: busybox
    command: [/usr/bin/python3, -m, http.server, "8080", --bind, 127.0.0.1, --directory, /usr/share/doc]
---
apiVersion: v1
kind: Pod
metadata: {name: echo, namespace: default}
spec:
  restartPolicy: Never
  containers:
  - {name: c, image: busybox, stdin: true, stdinOnce: true, command: [sh, -c, 'while read l; do echo "got $l"; done; echo bye']}
`;

before(async () => {
  const up = await runMeshlet(['lab', 'up', '--nodes', '1', '--name', lab], { env });
  assert.equal(up.code, 0, `lab up: ${up.stdout}\n${up.stderr}`);
  const file = join(root, 'pods.yaml');
  writeFileSync(file, podYaml);
  await ok(['apply', '-f', file]);
  await waitFor('pods running', async () => (await podPhase('p')) === 'Running' && (await podPhase('echo')) === 'Running');
});

after(async () => {
  await runMeshlet(['lab', 'down', '--name', lab], { env });
  rmSync(root, { recursive: true, force: true });
});

test('exec: stdout and stderr apart, the exit code passed through', async () => {
  const r = await kubectl(['exec', 'p', '--', 'sh', '-c', 'echo out; echo err >&2; exit 3']);
  assert.equal(r.code, 3, r.stderr);
  assert.equal(r.stdout, 'out\n');
  assert.match(r.stderr, /^err\n/);
  assert.match(r.stderr, /command terminated with exit code 3/);
  const fine = await kubectl(['exec', 'p', '-c', 'web', '--', 'hostname']);
  assert.deepEqual([fine.code, fine.stdout], [0, 'p\n']);
  const missing = await kubectl(['exec', 'p', '--', 'no-such-command-mlt']);
  assert.equal(missing.code, 127, missing.stderr);
});

test('exec over the SPDY fallback (KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false): streams, stdin, the exit code', async () => {
  const spdy = { KUBECTL_REMOTE_COMMAND_WEBSOCKETS: 'false' };
  const r = await kubectl(['exec', '-i', 'p', '--', 'sh', '-c', 'cat; echo err >&2; exit 6'], 'via-spdy\n', spdy);
  assert.equal(r.code, 6, r.stderr);
  assert.equal(r.stdout, 'via-spdy\n');
  assert.match(r.stderr, /^err\n/);
  const fine = await kubectl(['exec', 'p', '--', 'echo', 'ok'], '', spdy);
  assert.deepEqual([fine.code, fine.stdout], [0, 'ok\n']);
});

test('exec from the Python client (python3-kubernetes, v4.channel.k8s.io): output and the exit code', async () => {
  const script = [
    'import sys',
    'from kubernetes import client, config',
    'from kubernetes.stream import stream',
    `config.load_kube_config(config_file=${JSON.stringify(kubeconfig)})`,
    // Plain http (the API port answers both): over TLS this client may leave frames unread in the SSL
    // buffer and wait forever (kubernetes-client/python#2414), whatever the server does.
    'c = client.Configuration.get_default_copy()',
    "c.host = c.host.replace('https://', 'http://')",
    'api = client.CoreV1Api(client.ApiClient(c))',
    "ws = stream(api.connect_get_namespaced_pod_exec, 'p', 'default', command=['sh', '-c', 'echo py-out; echo py-err >&2; exit 5'], stdout=True, stderr=True, stdin=False, tty=False, _preload_content=False)",
    'ws.run_forever(timeout=20)',
    "print(repr(ws.read_stdout()), repr(ws.read_stderr()), ws.returncode)",
  ].join('\n');
  const r = await runProcess('/usr/bin/python3', ['-c', script], { env, timeoutMs: 60_000 });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), "'py-out\\n' 'py-err\\n' 5");
});

test('exec -i: stdin reaches the command and its end closes it', async () => {
  const r = await kubectl(['exec', '-i', 'p', '--', 'sh', '-c', 'wc -c; cat /proc/1/cmdline | tr "\\0" " "'], 'x'.repeat(100_000));
  assert.equal(r.code, 0, r.stderr);
  const [count, cmdline] = r.stdout.split('\n');
  assert.equal(count.trim(), '100000');
  assert.match(cmdline, /http\.server/, 'the exec sees the container\'s PID namespace');
});

test('exec -it: a real terminal in the container, sized by the client', async () => {
  const r = await onTerminal(['exec', '-it', 'p', '--', 'sh', '-c', 'tty; test -t 0 && echo stdin-is-a-tty; echo "TERM=$TERM"; exit 4']);
  assert.equal(r.code, 4, r.stdout);
  assert.match(r.stdout, /\/dev\/pts\/\d+/);
  assert.match(r.stdout, /stdin-is-a-tty/);
  assert.match(r.stdout, /TERM=xterm/);
});

test('cp: a directory into the pod and back', async () => {
  const src = join(root, 'src');
  mkdirSync(join(src, 'sub'), { recursive: true });
  writeFileSync(join(src, 'a.txt'), 'alpha\n');
  // Larger than what the agent lets be in flight (4 MiB): back-pressure both ways.
  writeFileSync(join(src, 'sub', 'b.bin'), randomBytes(6_000_000));
  await ok(['cp', src, 'p:/tmp/mlt-exec-cp']);
  assert.equal(await ok(['exec', 'p', '--', 'cat', '/tmp/mlt-exec-cp/a.txt']), 'alpha\n');
  const back = join(root, 'back');
  await ok(['cp', 'p:/tmp/mlt-exec-cp', back]);
  await ok(['exec', 'p', '--', 'rm', '-r', '/tmp/mlt-exec-cp']);
  assert.equal(readFileSync(join(back, 'a.txt'), 'utf8'), 'alpha\n');
  assert.deepEqual(readFileSync(join(back, 'sub', 'b.bin')), readFileSync(join(src, 'sub', 'b.bin')));
});

function httpGet(port: number, path: string): Promise<{ code: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d));
      res.on('end', () => resolve({ code: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Starts `kubectl port-forward` on a free local port; resolves with the port once it listens. */
async function portForward(extraEnv: NodeJS.ProcessEnv): Promise<{ port: number; child: ChildProcess; output: () => string }> {
  const child = spawn(KUBECTL, kubectlArgs(['port-forward', 'pod/p', ':8080', '--address', '127.0.0.1']), { env: { ...env, ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d));
  child.stderr.on('data', (d: Buffer) => (out += d));
  let port = 0;
  await waitFor('port-forward listening', async () => {
    const m = /Forwarding from 127\.0\.0\.1:(\d+) -> 8080/.exec(out);
    if (m) port = Number(m[1]);
    return port > 0 || child.exitCode !== null;
  });
  assert.ok(port > 0, `port-forward did not start: ${out}`);
  return { port, child, output: () => out };
}

for (const [name, extraEnv] of [['WebSocket-tunnelled SPDY', {}], ['plain SPDY fallback', { KUBECTL_PORT_FORWARD_WEBSOCKETS: 'false' }]] as const) {
  test(`port-forward over ${name}: HTTP requests reach the pod's 127.0.0.1`, async () => {
    const pf = await portForward(extraEnv);
    try {
      const first = await httpGet(pf.port, '/');
      assert.equal(first.code, 200);
      assert.match(first.body, /Directory listing/);
      const second = await httpGet(pf.port, '/no-such-file-mlt');
      assert.equal(second.code, 404, 'a second connection over the same session');
    } finally {
      pf.child.kill('SIGTERM');
    }
  });
}

test('run: args without command run as the command; logs show them', async () => {
  await ok(['run', 'r', '--image=busybox', '--restart=Never', '--', 'echo', 'hello']);
  await waitFor('pod r completed', async () => (await podPhase('r')) === 'Succeeded');
  assert.equal(await ok(['logs', 'r']), 'hello\n');
  await ok(['delete', 'pod', 'r', '--grace-period=1']);
});

test('attach -i: stdin to a stdin container, its output back; stdinOnce ends it', async () => {
  const r = await kubectl(['attach', '-i', 'echo'], 'one\ntwo\n');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /got one\ngot two\nbye\n/);
  await waitFor('pod echo done', async () => (await podPhase('echo')) === 'Succeeded');
});

test('run -it --rm: a shell on a terminal, attached, then the pod deleted', async () => {
  const r = await onTerminal(['run', '-it', '--rm', 'r2', '--image=busybox', '--restart=Never', '--', 'sh', '-c', 'read x; tty; echo "said $x"'], 'hi\r');
  assert.match(r.stdout, /\/dev\/pts\/\d+/, r.stdout);
  assert.match(r.stdout, /said hi/);
  assert.match(r.stdout, /pod "r2" deleted/);
  assert.equal(r.code, 0, r.stdout);
});

test('a node identity cannot exec, attach or port-forward (403); the admin can', async () => {
  const tokens = parseTokenFile(readFileSync(join(root, lab, 'tokens.csv'), 'utf8'));
  const nodeToken = [...tokens].find(([, id]) => id.user === 'system:node:node-1')?.[0];
  assert.ok(nodeToken, 'the lab has a node token');
  // The node may read the pod (kubectl GETs it first), so what is refused is the exec itself.
  await ok(['--token', nodeToken, 'get', 'pod', 'p']);
  const r = await kubectl(['--token', nodeToken, 'exec', 'p', '--', 'true']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /forbidden.*system:node:node-1.*cannot create resource "pods\/exec"/i);
  const pf = await kubectl(['--token', nodeToken, 'port-forward', 'pod/p', ':8080']);
  assert.notEqual(pf.code, 0);
  assert.match(pf.stderr, /forbidden|403/i);
  const at = await kubectl(['--token', nodeToken, 'attach', 'p']);
  assert.notEqual(at.code, 0);
  assert.match(at.stderr, /forbidden|403/i);
  assert.equal((await kubectl(['exec', 'p', '--', 'true'])).code, 0);
});
