import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LineSplitter, errorFromStatus, parseServer, resourcePath } from '../../src/client/http-client.ts';
import { parseKubeconfig, loadKubeconfig } from '../../src/client/kubeconfig.ts';
import { resourceByGroupResource } from '../../src/core/resources.ts';
import { KubeError } from '../../src/core/errors.ts';

test('resourcePath: core, groups, cluster-scoped, subresources', () => {
  const pods = resourceByGroupResource('pods')!;
  const deps = resourceByGroupResource('deployments.apps')!;
  const nodes = resourceByGroupResource('nodes')!;
  assert.equal(resourcePath(pods), '/api/v1/pods');
  assert.equal(resourcePath(pods, 'default'), '/api/v1/namespaces/default/pods');
  assert.equal(resourcePath(pods, 'default', 'web-1', 'status'), '/api/v1/namespaces/default/pods/web-1/status');
  assert.equal(resourcePath(deps, 'prod', 'web', 'scale'), '/apis/apps/v1/namespaces/prod/deployments/web/scale');
  assert.equal(resourcePath(nodes, 'ignored', 'n1'), '/api/v1/nodes/n1');
  assert.equal(resourcePath(resourceByGroupResource('namespaces')!, undefined, 'x', 'finalize' as never), '/api/v1/namespaces/x/finalize');
});

test('parseServer: http and unix', () => {
  assert.deepEqual(parseServer('http://127.0.0.1:6443'), { host: '127.0.0.1', port: 6443 });
  assert.deepEqual(parseServer('http://[::1]:8080'), { host: '::1', port: 8080 });
  assert.deepEqual(parseServer('unix:///run/meshlet/api.sock'), { socketPath: '/run/meshlet/api.sock' });
  assert.deepEqual(parseServer('https://x:1'), { host: 'x', port: 1, secure: true });
  assert.throws(() => parseServer('ftp://x:1'));
});

test('errorFromStatus rebuilds reason, message and details', () => {
  const err = errorFromStatus(409, {
    kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure',
    message: 'pods "a" already exists', reason: 'AlreadyExists', code: 409,
    details: { name: 'a', kind: 'pods' },
  });
  assert.ok(err instanceof KubeError);
  assert.equal(err.reason, 'AlreadyExists');
  assert.equal(err.code, 409);
  assert.equal(err.message, 'pods "a" already exists');
  assert.equal(err.details?.name, 'a');
  const gone = errorFromStatus(410, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'too old', reason: 'Expired', code: 410 });
  assert.equal(gone.code, 410);
  const bare = errorFromStatus(404, 'page not found');
  assert.equal(bare.reason, 'NotFound');
  assert.equal(errorFromStatus(502, '').reason, 'InternalError');
});

test('LineSplitter joins lines however chunks split them, including multi-byte characters', () => {
  const s = new LineSplitter();
  const text = '{"a":"é"}\n{"b":2}\n{"c":3}';
  const bytes = Buffer.from(text);
  const out: string[] = [];
  for (let i = 0; i < bytes.length; i += 3) out.push(...s.push(bytes.subarray(i, i + 3)));
  out.push(...s.flush());
  assert.deepEqual(out.map((l) => JSON.parse(l)), [{ a: 'é' }, { b: 2 }, { c: 3 }]);
});

test('kubeconfig: current context, token and relative tokenFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mlt-kc-'));
  try {
    writeFileSync(join(dir, 'token'), 'secret-2\n');
    const text = `
apiVersion: v1
kind: Config
current-context: b
clusters:
- name: c1
  cluster: { server: http://127.0.0.1:1 }
- name: c2
  cluster: { server: unix:///tmp/api.sock }
contexts:
- name: a
  context: { cluster: c1, user: u1 }
- name: b
  context: { cluster: c2, user: u2 }
users:
- name: u1
  user: { token: secret-1 }
- name: u2
  user: { tokenFile: token }
`;
    writeFileSync(join(dir, 'config'), text);
    assert.deepEqual(loadKubeconfig(join(dir, 'config')), { server: 'unix:///tmp/api.sock', token: 'secret-2' });
    assert.deepEqual(parseKubeconfig(text, dir, 'a'), { server: 'http://127.0.0.1:1', token: 'secret-1' });
    assert.throws(() => parseKubeconfig(text, dir, 'zzz'), /not found/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
