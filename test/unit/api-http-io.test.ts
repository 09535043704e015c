import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import type { IncomingMessage } from 'node:http';
import { decodeBody, includeObjectParam, mediaType, readBody, wantsTable } from '../../src/api/http-io.ts';
import { isKubeError } from '../../src/core/errors.ts';

const KUBECTL_ACCEPT = 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json';

test('Table negotiation', () => {
  assert.equal(wantsTable(KUBECTL_ACCEPT), true);
  assert.equal(wantsTable('application/json'), false);
  assert.equal(wantsTable(undefined), false);
  assert.equal(wantsTable('application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json'), false);
  assert.equal(includeObjectParam(new URLSearchParams()), 'Metadata');
  assert.equal(includeObjectParam(new URLSearchParams('includeObject=Object')), 'Object');
  assert.throws(() => includeObjectParam(new URLSearchParams('includeObject=All')), (e) => isKubeError(e, 'BadRequest'));
});

test('decoding JSON, YAML, apply-patch bodies; errors are 400 / 415', () => {
  assert.equal(mediaType('Application/JSON; charset=utf-8'), 'application/json');
  assert.deepEqual(decodeBody(Buffer.from('{"a":1}'), 'application/json'), { a: 1 });
  assert.deepEqual(decodeBody(Buffer.from('a: 1\nb: [x]\n'), 'application/yaml'), { a: 1, b: ['x'] });
  assert.deepEqual(decodeBody(Buffer.from('{"a":1}'), 'application/apply-patch+yaml'), { a: 1 });
  assert.equal(decodeBody(Buffer.from('  '), 'application/json'), undefined);
  assert.throws(() => decodeBody(Buffer.from('{"a":'), 'application/json'), (e) => isKubeError(e, 'BadRequest'));
  assert.throws(() => decodeBody(Buffer.from('a: [1\n'), 'application/yaml'), (e) => isKubeError(e, 'BadRequest'));
  assert.throws(() => decodeBody(Buffer.from('k8s\u0000'), 'application/vnd.kubernetes.protobuf'), (e) => isKubeError(e, 'BadRequest') && e.code === 400);
  assert.throws(() => decodeBody(Buffer.from('{}'), 'application/vnd.kubernetes.protobuf', { protobuf: false }), (e) => isKubeError(e, 'UnsupportedMediaType') && e.code === 415);
});

function fakeRequest(chunks: string[], headers: Record<string, string> = {}): IncomingMessage {
  const stream = Readable.from(chunks.map((c) => Buffer.from(c)));
  return Object.assign(stream, { headers }) as unknown as IncomingMessage;
}

test('readBody enforces the limit, by header and while streaming', async () => {
  assert.equal((await readBody(fakeRequest(['ab', 'cd']), 10)).toString(), 'abcd');
  await assert.rejects(readBody(fakeRequest(['x'], { 'content-length': '100' }), 10), (e) => isKubeError(e, 'RequestEntityTooLarge') && e.code === 413);
  await assert.rejects(readBody(fakeRequest(['123456', '789012']), 10), (e) => isKubeError(e, 'RequestEntityTooLarge'));
});
