// Every kind of bad request gets the right Status code and reason, and nothing is half-written.
import { before, after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { apiRequest, startTestApiServer, type TestApiServer } from '../helpers/api-server.ts';
import { encodeContinue } from '../../src/api/list-pages.ts';

let api: TestApiServer;
const req = (method: string, path: string, opts: Parameters<typeof apiRequest>[3] = {}) => apiRequest(api, method, path, opts);
const MAX = 64 * 1024;

function assertStatus(reply: { status: number; body: any }, code: number, reason: string): void {
  assert.equal(reply.status, code, JSON.stringify(reply.body));
  assert.equal(reply.body.kind, 'Status');
  assert.equal(reply.body.apiVersion, 'v1');
  assert.equal(reply.body.status, 'Failure');
  assert.equal(reply.body.code, code);
  assert.equal(reply.body.reason, reason);
}

before(async () => {
  api = await startTestApiServer({ nodes: ['node-1'], maxBodyBytes: MAX });
});
after(async () => {
  await api?.stop();
});

describe('api bad input', () => {
  test('malformed JSON and YAML are 400', async () => {
    assertStatus(await req('POST', '/api/v1/namespaces/default/configmaps', { rawBody: '{"apiVersion": "v1", "kind": ' }), 400, 'BadRequest');
    assertStatus(await req('POST', '/api/v1/namespaces/default/configmaps', { rawBody: 'kind: [unclosed\n  : -', contentType: 'application/yaml' }), 400, 'BadRequest');
    assertStatus(await req('POST', '/api/v1/namespaces/default/configmaps', { rawBody: '[1,2,3]' }), 400, 'BadRequest');
    assertStatus(await req('POST', '/api/v1/namespaces/default/configmaps', { rawBody: '' }), 400, 'BadRequest');
    const yamlOk = await req('POST', '/api/v1/namespaces/default/configmaps', {
      rawBody: 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-yaml\ndata:\n  a: "1"\n',
      contentType: 'application/yaml',
    });
    assert.equal(yamlOk.status, 201);
  });

  test('body must match the URL: kind, apiVersion, namespace', async () => {
    assertStatus(await req('POST', '/api/v1/namespaces/default/configmaps', { body: { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'x' } } }), 400, 'BadRequest');
    assertStatus(await req('POST', '/api/v1/namespaces/default/configmaps', { body: { apiVersion: 'apps/v1', kind: 'ConfigMap', metadata: { name: 'x' } } }), 400, 'BadRequest');
    const ns = await req('POST', '/api/v1/namespaces/default/configmaps', { body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x', namespace: 'kube-system' } } });
    assertStatus(ns, 400, 'BadRequest');
    assert.equal(ns.body.message, 'the namespace of the provided object does not match the namespace sent on the request');
    assert.equal((await req('GET', '/api/v1/namespaces/default/configmaps/x')).status, 404);
  });

  test('strict field validation rejects unknown top-level fields', async () => {
    const r = await req('POST', '/api/v1/namespaces/default/configmaps?fieldValidation=Strict', {
      body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'strict' }, data: {}, bogus: 1 },
    });
    assertStatus(r, 400, 'BadRequest');
    assert.match(r.body.message, /strict decoding error: unknown field "bogus"/);
  });

  test('invalid names are 422 with causes; a missing name is 422', async () => {
    const bad = await req('POST', '/api/v1/namespaces/default/configmaps', { body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'Bad_Name!' } } });
    assertStatus(bad, 422, 'Invalid');
    assert.ok(bad.body.details.causes.some((c: any) => c.field === 'metadata.name'));
    const noName = await req('POST', '/api/v1/namespaces/default/configmaps', { body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: {} } });
    assertStatus(noName, 422, 'Invalid');
    const badNs = await req('POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'has.dots' } } });
    assertStatus(badNs, 422, 'Invalid');
  });

  test('unknown kinds and paths are 404, wrong methods 405', async () => {
    assertStatus(await req('GET', '/api/v1/namespaces/default/widgets'), 404, 'NotFound');
    assertStatus(await req('GET', '/apis/example.com/v1/things'), 404, 'NotFound');
    assertStatus(await req('GET', '/nope'), 404, 'NotFound');
    assertStatus(await req('GET', '/openapi/v1'), 404, 'NotFound');
    assertStatus(await req('GET', '/api/v1/namespaces/default/configmaps/absent'), 404, 'NotFound');
    assertStatus(await req('PUT', '/api/v1/namespaces/default/configmaps', { body: {} }), 405, 'MethodNotAllowed');
  });

  test('oversized body is 413 and nothing is stored', async () => {
    const big = JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'big' }, data: { x: 'y'.repeat(MAX * 4) } });
    assertStatus(await req('POST', '/api/v1/namespaces/default/configmaps', { rawBody: big }), 413, 'RequestEntityTooLarge');
    // Chunked upload with no Content-Length: cut off while streaming.
    const chunked = await new Promise<{ status: number; body: any }>((resolve, reject) => {
      const r = request(
        `${api.url}/api/v1/namespaces/default/configmaps`,
        { method: 'POST', headers: { authorization: `Bearer ${api.token}`, 'content-type': 'application/json' } },
        (res) => {
          let text = '';
          res.on('data', (c) => (text += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
        },
      );
      r.on('error', (err) => {
        // The server may close the connection while we are still writing; the reply already came.
        if ((err as NodeJS.ErrnoException).code !== 'EPIPE' && (err as NodeJS.ErrnoException).code !== 'ECONNRESET') reject(err);
      });
      for (let i = 0; i < 8; i++) r.write(big.slice(i * (big.length / 8), (i + 1) * (big.length / 8)));
      r.end();
    });
    assertStatus(chunked, 413, 'RequestEntityTooLarge');
    assert.equal((await req('GET', '/api/v1/namespaces/default/configmaps/big')).status, 404);
  });

  test('no or unknown token is 401; a node may not write deployments (403)', async () => {
    assertStatus(await req('GET', '/api/v1/namespaces', { token: null }), 401, 'Unauthorized');
    assertStatus(await req('GET', '/api/v1/namespaces', { token: 'wrong' }), 401, 'Unauthorized');
    assertStatus(await req('GET', '/api', { token: null }), 401, 'Unauthorized');
    const nodeToken = api.nodeTokens.get('node-1')!;
    const dep = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'by-node' },
      spec: { selector: { matchLabels: { a: 'b' } }, template: { metadata: { labels: { a: 'b' } }, spec: { containers: [{ name: 'c', image: 'i' }] } } },
    };
    assertStatus(await req('POST', '/apis/apps/v1/namespaces/default/deployments', { body: dep, token: nodeToken }), 403, 'Forbidden');
    assert.equal((await req('GET', '/apis/apps/v1/namespaces/default/deployments', { token: nodeToken })).status, 200);
    const node = await req('POST', '/api/v1/nodes', { body: { apiVersion: 'v1', kind: 'Node', metadata: { name: 'node-1' } }, token: nodeToken });
    assert.equal(node.status, 201);
    assertStatus(await req('DELETE', '/api/v1/nodes/node-1', { token: nodeToken }), 403, 'Forbidden');
    assertStatus(await req('GET', '/metrics', { token: nodeToken }), 403, 'Forbidden');
    // NodeRestriction: another node's Node is off limits; so are pods bound to another node.
    assertStatus(
      await req('PATCH', '/api/v1/nodes/node-2', { body: { metadata: { labels: { x: 'y' } } }, contentType: 'application/merge-patch+json', token: nodeToken }),
      403,
      'Forbidden',
    );
    const pod = (name: string, nodeName: string) => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name },
      spec: { nodeName, containers: [{ name: 'c', image: 'i', command: ['true'] }] },
    });
    assert.equal((await req('POST', '/api/v1/namespaces/default/pods', { body: pod('mine', 'node-1') })).status, 201);
    assert.equal((await req('POST', '/api/v1/namespaces/default/pods', { body: pod('theirs', 'node-2') })).status, 201);
    const status = { status: { phase: 'Running' } };
    const patchStatus = (name: string) =>
      req('PATCH', `/api/v1/namespaces/default/pods/${name}/status`, { body: status, contentType: 'application/merge-patch+json', token: nodeToken });
    assert.equal((await patchStatus('mine')).status, 200);
    assertStatus(await patchStatus('theirs'), 403, 'Forbidden');
    assertStatus(await req('DELETE', '/api/v1/namespaces/default/pods/theirs', { token: nodeToken }), 403, 'Forbidden');
    assert.equal((await req('GET', '/api/v1/namespaces/default/pods/theirs')).status, 200, 'nothing happened to it');
    assert.equal((await req('DELETE', '/api/v1/namespaces/default/pods/mine?gracePeriodSeconds=0', { token: nodeToken })).status, 200);
  });

  test('stale resourceVersion is 409 Conflict; duplicate create 409 AlreadyExists', async () => {
    const created = await req('POST', '/api/v1/namespaces/default/configmaps', { body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cc' }, data: { v: '1' } } });
    const first = await req('PUT', '/api/v1/namespaces/default/configmaps/cc', { body: { ...created.body, data: { v: '2' } } });
    assert.equal(first.status, 200);
    assertStatus(await req('PUT', '/api/v1/namespaces/default/configmaps/cc', { body: { ...created.body, data: { v: '3' } } }), 409, 'Conflict');
    assertStatus(
      await req('PATCH', '/api/v1/namespaces/default/configmaps/cc', {
        body: { metadata: { resourceVersion: created.body.metadata.resourceVersion }, data: { v: '4' } },
        contentType: 'application/merge-patch+json',
      }),
      409,
      'Conflict',
    );
    assertStatus(
      await req('DELETE', '/api/v1/namespaces/default/configmaps/cc', { body: { preconditions: { resourceVersion: created.body.metadata.resourceVersion } } }),
      409,
      'Conflict',
    );
    assert.equal((await req('GET', '/api/v1/namespaces/default/configmaps/cc')).body.data.v, '2');
    assertStatus(await req('POST', '/api/v1/namespaces/default/configmaps', { body: created.body }), 409, 'AlreadyExists');
  });

  test('garbled continue token is 400, one for a version the store lacks is 410; bad selectors and too-old watch', async () => {
    // As kube-apiserver: a token that does not decode is "invalid continue token" (400).
    assertStatus(await req('GET', '/api/v1/namespaces/default/configmaps?limit=1&continue=abc'), 400, 'BadRequest');
    const lost = encodeContinue({ resourceVersion: '999999999', start: 'default/x' });
    assertStatus(await req('GET', `/api/v1/namespaces/default/configmaps?limit=1&continue=${lost}`), 410, 'Expired');
    assertStatus(await req('GET', '/api/v1/namespaces/default/configmaps?labelSelector=a%20in%20(b'), 400, 'BadRequest');
    assertStatus(await req('GET', '/api/v1/namespaces/default/configmaps?limit=-3'), 400, 'BadRequest');
    assertStatus(await req('GET', '/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=abc'), 400, 'BadRequest');
  });
});
