import { test } from 'node:test';
import assert from 'node:assert/strict';
import { route, type ResourceRoute } from '../../src/api/router.ts';
import { isKubeError } from '../../src/core/errors.ts';

const q = (s = '') => new URLSearchParams(s);
const res = (method: string, path: string, query = ''): ResourceRoute => {
  const r = route(method, path, q(query));
  assert.equal(r.type, 'resource');
  return r as ResourceRoute;
};

test('namespaced item, collection and cluster-wide list', () => {
  const item = res('GET', '/api/v1/namespaces/ns1/pods/web');
  assert.equal(item.gr, 'pods');
  assert.equal(item.namespace, 'ns1');
  assert.equal(item.name, 'web');
  assert.equal(item.verb, 'get');
  const list = res('GET', '/api/v1/namespaces/ns1/pods');
  assert.equal(list.verb, 'list');
  assert.equal(list.name, undefined);
  const all = res('GET', '/api/v1/pods');
  assert.equal(all.namespace, undefined);
  assert.equal(all.verb, 'list');
  const deps = res('GET', '/apis/apps/v1/namespaces/x/deployments/d/scale');
  assert.equal(deps.gr, 'deployments.apps');
  assert.equal(deps.subresource, 'scale');
});

test('namespaces themselves, their status and finalize', () => {
  const ns = res('GET', '/api/v1/namespaces/foo');
  assert.equal(ns.gr, 'namespaces');
  assert.equal(ns.name, 'foo');
  assert.equal(ns.namespace, undefined);
  assert.equal(res('PUT', '/api/v1/namespaces/foo/finalize').subresource, 'finalize');
  assert.equal(res('PUT', '/api/v1/namespaces/foo/status').subresource, 'status');
  assert.equal(res('GET', '/api/v1/namespaces').verb, 'list');
});

test('verbs from method and watch', () => {
  assert.equal(res('GET', '/api/v1/namespaces/a/pods', 'watch=true').verb, 'watch');
  assert.equal(res('GET', '/api/v1/namespaces/a/pods', 'watch=1').verb, 'watch');
  // As apimachinery converts booleans: the Python client sends watch=True.
  assert.equal(res('GET', '/api/v1/namespaces/a/pods', 'watch=True').verb, 'watch');
  assert.equal(res('GET', '/api/v1/namespaces/a/pods', 'watch=FALSE').verb, 'list');
  assert.equal(res('GET', '/api/v1/namespaces/a/pods', 'watch=0').verb, 'list');
  assert.equal(res('GET', '/api/v1/watch/namespaces/a/pods').verb, 'watch');
  assert.equal(res('POST', '/api/v1/namespaces/a/pods').verb, 'create');
  assert.equal(res('POST', '/api/v1/namespaces/a/pods/p/binding').verb, 'create');
  assert.equal(res('PUT', '/api/v1/namespaces/a/pods/p').verb, 'update');
  assert.equal(res('PATCH', '/api/v1/namespaces/a/pods/p/status').verb, 'patch');
  assert.equal(res('DELETE', '/api/v1/namespaces/a/pods/p').verb, 'delete');
  assert.equal(res('DELETE', '/api/v1/namespaces/a/pods').verb, 'deletecollection');
});

test('discovery and non-resource routes', () => {
  assert.deepEqual(route('GET', '/api', q()), { type: 'apiVersions' });
  assert.deepEqual(route('GET', '/apis', q()), { type: 'apiGroupList' });
  assert.deepEqual(route('GET', '/apis/apps', q()), { type: 'apiGroup', group: 'apps' });
  assert.deepEqual(route('GET', '/apis/apps/v1', q()), { type: 'apiResourceList', group: 'apps', version: 'v1' });
  assert.deepEqual(route('GET', '/api/v1', q()), { type: 'apiResourceList', group: '', version: 'v1' });
  assert.deepEqual(route('GET', '/openapi/v3/apis/apps/v1', q('hash=x')), { type: 'openapiV3Document', group: 'apps', version: 'v1' });
  assert.deepEqual(route('GET', '/openapi/v3/api/v1', q()), { type: 'openapiV3Document', group: '', version: 'v1' });
  assert.deepEqual(route('GET', '/readyz', q()), { type: 'health', check: 'readyz' });
  assert.deepEqual(route('GET', '/openapi/v2', q()), { type: 'openapiV2' });
});

test('unknown paths are NotFound, wrong methods MethodNotAllowed', () => {
  const reason = (fn: () => unknown) => {
    try {
      fn();
    } catch (err) {
      assert.ok(isKubeError(err));
      return err.reason;
    }
    assert.fail('expected an error');
  };
  assert.equal(reason(() => route('GET', '/api/v1/namespaces/a/widgets', q())), 'NotFound');
  assert.equal(reason(() => route('GET', '/apis/apps/v2/deployments', q())), 'NotFound');
  assert.equal(reason(() => route('GET', '/api/v1/namespaces/a/pods/p/proxy', q())), 'NotFound');
  assert.equal(reason(() => route('GET', '/api/v1/namespaces/a/services/s/exec', q())), 'NotFound');
  assert.equal(reason(() => route('GET', '/openapi/v1', q())), 'NotFound');
  assert.equal(reason(() => route('GET', '/api/v1/pods/p', q())), 'NotFound');
  assert.equal(reason(() => route('GET', '/api/v1/namespaces/a/nodes', q())), 'NotFound');
  assert.equal(reason(() => route('POST', '/api/v1/namespaces/a/pods/p', q())), 'MethodNotAllowed');
  assert.equal(reason(() => route('PUT', '/api/v1/namespaces/a/pods', q())), 'MethodNotAllowed');
  assert.equal(reason(() => route('POST', '/api', q())), 'MethodNotAllowed');
  assert.equal(reason(() => route('OPTIONS', '/api/v1/pods', q())), 'MethodNotAllowed');
});
