// Every served kind has all that serving it takes: a strategy module
// (src/api/kinds/), protobuf message data (src/api/protobuf/k8s-types.json)
// and OpenAPI schemas (v2 and v3). Adding a kind to RESOURCES without all
// three fails here.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { strategies, strategyCoverage, strategyFor } from '../../src/api/kinds/index.ts';
import { openApiV2Document, openApiV3Document } from '../../src/api/openapi.ts';
import { schemaName } from '../../src/api/openapi-schemas.ts';
import { message, messageForKind } from '../../src/api/protobuf/type-data.ts';
import { RESOURCES, apiVersionOf, groupResource } from '../../src/core/resources.ts';
import type { JsonObject } from '../../src/core/types.ts';

const obj = (v: unknown): JsonObject => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as JsonObject) : {});

describe('served kinds', () => {
  it('each has exactly one strategy module, and no module serves an unknown resource', () => {
    assert.deepEqual(strategyCoverage(), { missing: [], unserved: [] });
    for (const info of RESOURCES) assert.equal(strategyFor(info).groupResource, groupResource(info));
    assert.equal(new Set(strategies()).size, RESOURCES.length, 'one strategy per resource');
  });

  it('each kind and its list have protobuf message data', () => {
    for (const info of RESOURCES) {
      for (const kind of [info.kind, info.listKind]) {
        const name = messageForKind(apiVersionOf(info), kind);
        assert.ok(name, `${apiVersionOf(info)} ${kind}: no message in k8s-types.json (regenerate with scripts/gen-k8s-types.ts)`);
        assert.ok(message(name).fields.length > 0, `${name} has fields`);
      }
    }
  });

  it('each kind has an OpenAPI v3 schema with its GVK, and a v2 definition', () => {
    const v2 = obj(openApiV2Document().definitions);
    for (const info of RESOURCES) {
      const doc = obj(openApiV3Document(info.group, info.version));
      const schema = obj(obj(obj(doc.components).schemas)[schemaName(messageForKind(apiVersionOf(info), info.kind) ?? '')]);
      const gvks = schema['x-kubernetes-group-version-kind'];
      assert.ok(Array.isArray(gvks), `${info.kind}: no v3 schema with x-kubernetes-group-version-kind`);
      assert.ok(gvks.some((g) => obj(g).kind === info.kind && obj(g).group === info.group && obj(g).version === info.version), `${info.kind}: GVK`);
      assert.ok(Object.keys(obj(schema.properties)).includes('metadata'), `${info.kind}: schema has properties`);
      const defined = Object.values(v2).some((d) => (obj(d)['x-kubernetes-group-version-kind'] as unknown[] | undefined)?.some((g) => obj(g).kind === info.kind && obj(g).group === info.group));
      assert.ok(defined, `${info.kind}: no v2 definition`);
    }
  });

  it('strict top-level fields and list keys name only fields the kind has', () => {
    for (const info of RESOURCES) {
      const s = strategyFor(info);
      const fields = new Set(message(messageForKind(apiVersionOf(info), info.kind) ?? '').fields.map((f) => f.json));
      for (const f of s.topLevelFields) assert.ok(fields.has(f), `${info.kind}.${f} is in the type data`);
      for (const path of Object.keys(s.listStrategies ?? {})) assert.ok(fields.has(path.split('.')[0]), `${info.kind}: list key path ${path}`);
    }
  });
});
