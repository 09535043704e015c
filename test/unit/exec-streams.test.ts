// The pure parts of exec, attach and port-forward: subprotocols, channel
// frames, the error-channel Status, query and path parsing, argv building,
// the API server's routing, authorization and relay plan.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CHANNEL, decodeFrame, encodeFrame, errorChannelPayload, exitCodeStatus, negotiateChannelProtocol, offeredProtocols,
  parseExecRequest, parseGoBool, parseResize, parseStreamOptions, statusForExit, successStatus,
} from '../../src/kubelet/remote-command.ts';
import { consoleArgv, consoleSocketPath, execArgv, execEnv, needsConsole, parseEnviron, podConnectArgv, PYTHON } from '../../src/kubelet/exec-plan.ts';
import { consoleFrame, splitConsoleFrames } from '../../src/agent/exec-session.ts';
import { parseStreamPath } from '../../src/agent/streaming.ts';
import { parseForwardPort } from '../../src/agent/port-forward.ts';
import { planStreamProxy, upgradeErrorResponse, upstreamRequestHead } from '../../src/api/stream-proxy.ts';
import { route } from '../../src/api/router.ts';
import { isAllowed, type Identity } from '../../src/api/auth.ts';
import { KUBELET_ENDPOINT_ANNOTATION } from '../../src/core/well-known.ts';
import { KubeError } from '../../src/core/errors.ts';
import type { KubeObject } from '../../src/core/types.ts';

test('subprotocol negotiation: the client\'s first one we speak', () => {
  assert.deepEqual(offeredProtocols('v5.channel.k8s.io, v4.channel.k8s.io'), ['v5.channel.k8s.io', 'v4.channel.k8s.io']);
  assert.deepEqual(offeredProtocols(['a', 'b, c']), ['a', 'b', 'c']);
  assert.equal(negotiateChannelProtocol(['v5.channel.k8s.io'])?.version, 5);
  assert.deepEqual(negotiateChannelProtocol(['x.k8s.io', 'v4.channel.k8s.io', 'v5.channel.k8s.io']), { name: 'v4.channel.k8s.io', version: 4, base64: false });
  assert.deepEqual(negotiateChannelProtocol(['base64.channel.k8s.io']), { name: 'base64.channel.k8s.io', version: 1, base64: true });
  assert.equal(negotiateChannelProtocol(['base64.v5.channel.k8s.io']), undefined, 'v5 has no base64 form');
  assert.equal(negotiateChannelProtocol(['SPDY/3.1+portforward.k8s.io']), undefined);
  assert.equal(negotiateChannelProtocol([]), undefined);
});

test('channel frames: byte 0 the channel (binary), or an ASCII digit and base64 (text)', () => {
  const v5 = negotiateChannelProtocol(['v5.channel.k8s.io'])!;
  assert.deepEqual(encodeFrame(v5, CHANNEL.stdout, Buffer.from('hi')), Buffer.from([1, 0x68, 0x69]));
  assert.deepEqual(decodeFrame(v5, Buffer.from([0, 0x61]), false), { channel: 0, payload: Buffer.from('a') });
  assert.deepEqual(decodeFrame(v5, Buffer.from([0xff, 0x00]), false), { channel: CHANNEL.close, payload: Buffer.from([0]) });
  assert.equal(decodeFrame(v5, Buffer.alloc(0), false), undefined);
  const b64 = negotiateChannelProtocol(['base64.v4.channel.k8s.io'])!;
  assert.equal(encodeFrame(b64, CHANNEL.stderr, Buffer.from('hi')), '2aGk=');
  assert.deepEqual(decodeFrame(b64, Buffer.from('0aGk='), true), { channel: 0, payload: Buffer.from('hi') });
  assert.throws(() => decodeFrame(b64, Buffer.from('xaGk='), true), /bad channel/);
});

test('resize messages', () => {
  assert.deepEqual(parseResize(Buffer.from('{"Width":100,"Height":30}')), { width: 100, height: 30 });
  assert.equal(parseResize(Buffer.from('{"Width":-1,"Height":30}')), undefined);
  assert.equal(parseResize(Buffer.from('{"Width":"1"}')), undefined);
  assert.equal(parseResize(Buffer.from('nope')), undefined);
});

test('the error channel: Success, or NonZeroExitCode with the code as kubectl reads it; text before v4', () => {
  assert.deepEqual(successStatus(), { metadata: {}, status: 'Success' });
  const s = exitCodeStatus(['sh', '-c', 'exit 3'], 3);
  assert.equal(s.status, 'Failure');
  assert.equal(s.reason, 'NonZeroExitCode');
  assert.deepEqual(s.details?.causes, [{ reason: 'ExitCode', message: '3' }]);
  assert.match(s.message ?? '', /exit code 3/);
  assert.deepEqual(statusForExit(['true'], 0), successStatus());
  const v4 = negotiateChannelProtocol(['v4.channel.k8s.io'])!;
  const v3 = negotiateChannelProtocol(['v3.channel.k8s.io'])!;
  assert.deepEqual(JSON.parse(errorChannelPayload(v4, s)!.toString()), s);
  assert.deepEqual(JSON.parse(errorChannelPayload(v4, successStatus())!.toString()), { metadata: {}, status: 'Success' });
  assert.equal(errorChannelPayload(v3, successStatus()), undefined);
  assert.match(errorChannelPayload(v3, s)!.toString(), /exit code 3/);
});

test('exec and attach queries: Go booleans, at least one stream, no stderr with a tty, argv checked', () => {
  for (const t of ['1', 't', 'T', 'TRUE', 'true', 'True']) assert.equal(parseGoBool(t), true);
  for (const f of ['0', 'f', 'F', 'FALSE', 'false', 'False']) assert.equal(parseGoBool(f), false);
  assert.equal(parseGoBool('yes'), undefined);
  const q = new URLSearchParams('command=sh&command=-c&command=echo%20a&stdin=true&stdout=1&stderr=true&tty=True');
  assert.deepEqual(parseExecRequest(q), { command: ['sh', '-c', 'echo a'], stdin: true, stdout: true, stderr: false, tty: true });
  assert.throws(() => parseExecRequest(new URLSearchParams('stdout=true')), /at least one command/);
  assert.throws(() => parseExecRequest(new URLSearchParams('command=true')), /at least 1 of stdin, stdout, stderr/);
  assert.throws(() => parseExecRequest(new URLSearchParams('command=true&stdout=yes')), /stdout: invalid boolean "yes"/);
  assert.throws(() => parseExecRequest(new URLSearchParams('command=a%00b&stdout=1')), /NUL/);
  assert.deepEqual(parseStreamOptions(new URLSearchParams('stdout=true&stderr=true')), { stdin: false, stdout: true, stderr: true, tty: false });
});

test('exec argv: nsenter into the container\'s namespaces and working directory; -t under the pty helper inside it', () => {
  assert.deepEqual(execArgv(42, ['net', 'uts', 'mount', 'pid'], ['ls', '-l'], false), ['nsenter', '--target', '42', '--wd', '--net', '--uts', '--mount', '--pid', '--', 'ls', '-l']);
  const tty = execArgv(42, ['net'], ['sh'], true);
  assert.deepEqual(tty.slice(0, 6), ['nsenter', '--target', '42', '--wd', '--net', '--']);
  assert.deepEqual(tty.slice(6, 7), [PYTHON]);
  assert.deepEqual(tty.slice(-3), ['pty', '--', 'sh']);
  assert.throws(() => execArgv(0, ['net'], ['sh'], false), /invalid container pid/);
  assert.deepEqual(execEnv({ PATH: '/bin' }, true), { PATH: '/bin', TERM: 'xterm' });
  assert.deepEqual(execEnv({ PATH: '/bin', TERM: 'vt100' }, true), { PATH: '/bin', TERM: 'vt100' });
  assert.deepEqual(execEnv({ PATH: '/bin' }, false), { PATH: '/bin' });
  assert.deepEqual(parseEnviron('PATH=/bin\0A=b=c\0\0junk\0'), { PATH: '/bin', A: 'b=c' });
});

test('consoles: only for stdin or tty containers, short socket paths, the helper wrapping the command', () => {
  assert.equal(needsConsole({}), false);
  assert.equal(needsConsole({ stdin: true }), true);
  assert.equal(needsConsole({ tty: true }), true);
  const long = `/tmp/${'x'.repeat(200)}/pods/uid/c`;
  const sock = consoleSocketPath(long, 3);
  assert.ok(sock.length < 100, sock);
  assert.notEqual(sock, consoleSocketPath(long, 4), 'one socket per run');
  assert.deepEqual(consoleArgv('/run/s.sock', { tty: true, stdinOnce: true }, ['sh']).slice(2), ['serve', '/run/s.sock', '--tty', '--stdin-once', '--', 'sh']);
  assert.deepEqual(consoleArgv('/run/s.sock', { stdin: true }, ['cat']).slice(2), ['serve', '/run/s.sock', '--', 'cat']);
  const f = Buffer.concat([consoleFrame(1, Buffer.from('ab')), consoleFrame(255, Buffer.alloc(0)), consoleFrame(2, Buffer.from('xyz')).subarray(0, 6)]);
  const { frames, rest } = splitConsoleFrames(f);
  assert.deepEqual(frames, [{ channel: 1, payload: Buffer.from('ab') }, { channel: 255, payload: Buffer.alloc(0) }]);
  assert.equal(rest.length, 6);
});

test('port-forward: ports and the connector in the pod\'s netns', () => {
  assert.equal(parseForwardPort('8080'), 8080);
  for (const bad of [undefined, '', '0', '65536', '80a', '-1']) assert.throws(() => parseForwardPort(bad), /invalid port/);
  assert.deepEqual(podConnectArgv('ml-p-1234', 80).slice(0, 5), ['ip', 'netns', 'exec', 'ml-p-1234', PYTHON]);
  assert.throws(() => podConnectArgv('bad name', 80), /invalid network namespace/);
  assert.throws(() => podConnectArgv('ml-p', 0), /invalid port/);
});

test('kubelet streaming paths', () => {
  assert.deepEqual(parseStreamPath('/exec/default/p/c'), { kind: 'exec', namespace: 'default', pod: 'p', container: 'c' });
  assert.deepEqual(parseStreamPath('/attach/ns/p/c'), { kind: 'attach', namespace: 'ns', pod: 'p', container: 'c' });
  assert.deepEqual(parseStreamPath('/portForward/ns/p'), { kind: 'portForward', namespace: 'ns', pod: 'p' });
  assert.equal(parseStreamPath('/exec/ns/p'), undefined);
  assert.equal(parseStreamPath('/containerLogs/ns/p/c'), undefined);
  assert.throws(() => parseStreamPath('/exec/ns/P_x/c'), /invalid pod name/);
});

test('API: streaming subresources are "create", refused to nodes, allowed to admins', () => {
  for (const m of ['GET', 'POST']) {
    const r = route(m, '/api/v1/namespaces/default/pods/p/exec', new URLSearchParams('command=true'));
    assert.equal(r.type === 'resource' && r.verb, 'create');
    assert.equal(r.type === 'resource' && r.subresource, 'exec');
  }
  const node: Identity = { user: 'system:node:n1', uid: 'n1', groups: ['system:nodes'] };
  const admin: Identity = { user: 'admin', uid: 'a', groups: ['system:masters'] };
  for (const sub of ['exec', 'attach', 'portforward']) {
    const attrs = { verb: 'create', resource: 'pods', subresource: sub, namespace: 'default', name: 'p' };
    assert.equal(isAllowed(node, attrs), false, `node ${sub}`);
    assert.equal(isAllowed(admin, attrs), true, `admin ${sub}`);
  }
});

const pod = (extra: Partial<KubeObject> = {}): KubeObject => ({
  apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'default' },
  spec: { nodeName: 'n1', containers: [{ name: 'c' }] }, status: { phase: 'Running' }, ...extra,
});
const nodeObj: KubeObject = { apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1', annotations: { [KUBELET_ENDPOINT_ANNOTATION]: 'unix:///run/k.sock' } } };
const tokens = new Map<string, Identity>([['tok-n1', { user: 'system:node:n1', uid: 'n1', groups: ['system:nodes'] }]]);
const at = { namespace: 'default', name: 'p' };

test('API relay plan: the kubelet path, only the stream options forwarded, the node\'s token', () => {
  const q = new URLSearchParams('command=sh&command=-c&command=x&stdout=true&container=c&other=1');
  assert.deepEqual(planStreamProxy('exec', pod(), nodeObj, q, tokens, at), {
    target: { socketPath: '/run/k.sock' }, path: '/exec/default/p/c?command=sh&command=-c&command=x&stdout=true', token: 'tok-n1',
  });
  assert.equal(planStreamProxy('portforward', pod(), nodeObj, new URLSearchParams('ports=80'), tokens, at).path, '/portForward/default/p?ports=80');
  assert.throws(() => planStreamProxy('exec', undefined, nodeObj, q, tokens, at), (e: unknown) => e instanceof KubeError && e.code === 404);
  assert.throws(() => planStreamProxy('exec', pod({ status: { phase: 'Succeeded' } }), nodeObj, q, tokens, at), /completed pod; current phase is Succeeded/);
  assert.throws(() => planStreamProxy('attach', pod(), nodeObj, new URLSearchParams('container=zz'), tokens, at), /container zz is not valid/);
  assert.throws(() => planStreamProxy('exec', pod(), nodeObj, q, new Map(), at), /no credential for node "n1"/);
  assert.throws(() => planStreamProxy('exec', pod({ spec: { containers: [{ name: 'c' }] } }), nodeObj, q, tokens, at), /does not have a host assigned/);
});

test('API relay head: the client\'s headers, its credential replaced by the node\'s', () => {
  const head = upstreamRequestHead('GET', '/exec/default/p/c?command=true', [
    'Host', 'api:6443', 'Authorization', 'Bearer admin-token', 'Upgrade', 'websocket', 'Connection', 'Upgrade',
    'Sec-WebSocket-Protocol', 'v5.channel.k8s.io', 'Impersonate-User', 'x', 'X-Bad', 'a\r\nInjected: 1',
  ], 'tok-n1');
  assert.equal(head, [
    'GET /exec/default/p/c?command=true HTTP/1.1', 'Host: kubelet', 'Upgrade: websocket', 'Connection: Upgrade',
    'Sec-WebSocket-Protocol: v5.channel.k8s.io', 'Authorization: Bearer tok-n1', '', '',
  ].join('\r\n'));
  const err = upgradeErrorResponse(new KubeError('Forbidden', 'no').toStatus());
  assert.match(err, /^HTTP\/1\.1 403 Forbidden\r\n/);
  assert.match(err, /"reason":"Forbidden"/);
});
