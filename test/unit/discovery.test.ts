import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  AGGREGATED_DISCOVERY_CONTENT_TYPE,
  aggregatedDiscovery,
  apiGroup,
  apiGroupList,
  apiResourceList,
  apiVersions,
  versionInfo,
  wantsAggregatedDiscovery,
} from '../../src/api/discovery.ts';
import { openApiV3Document, openApiV3Root } from '../../src/api/openapi.ts';
import { RESOURCES, RESOURCE_VERBS, apiVersionOf } from '../../src/core/resources.ts';
import { METRICS_RESOURCES } from '../../src/core/metrics-resources.ts';
import type { Json } from '../../src/core/types.ts';

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => v as Obj;

function listFor(group: string, version: string): Obj[] {
  const list = obj(apiResourceList(group, version));
  return list.resources as Obj[];
}

describe('version and group discovery', () => {
  it('serves /version', () => {
    const v = obj(versionInfo());
    assert.equal(v.major, '1');
    assert.equal(v.minor, '32');
    assert.equal(v.gitVersion, 'v1.32.0-meshlet');
    assert.match(String(v.platform), /^[a-z0-9]+\/[a-z0-9]+$/);
  });

  it('serves /api', () => {
    assert.deepEqual(apiVersions('127.0.0.1:6443'), {
      kind: 'APIVersions',
      versions: ['v1'],
      serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: '127.0.0.1:6443' }],
    });
  });

  it('lists every named group of RESOURCES with its preferred version', () => {
    const list = obj(apiGroupList());
    assert.equal(list.kind, 'APIGroupList');
    assert.equal(list.apiVersion, 'v1');
    const groups = list.groups as Obj[];
    const served = [...RESOURCES, ...METRICS_RESOURCES];
    const expected = [...new Set(served.filter((r) => r.group).map((r) => r.group))];
    assert.deepEqual(groups.map((g) => g.name), expected);
    for (const g of groups) {
      const r = served.find((x) => x.group === g.name)!;
      const gv = { groupVersion: apiVersionOf(r), version: r.version };
      assert.deepEqual(g.preferredVersion, gv);
      assert.deepEqual(g.versions, [gv]);
      assert.deepEqual(apiGroup(String(g.name)), { kind: 'APIGroup', apiVersion: 'v1', ...g });
    }
    assert.equal(apiGroup('rbac.authorization.k8s.io'), undefined);
    assert.equal(apiGroup(''), undefined);
  });
});

describe('APIResourceList', () => {
  it('has every RESOURCES entry with verbs, names and its subresources', () => {
    for (const r of RESOURCES) {
      const list = obj(apiResourceList(r.group, r.version));
      assert.equal(list.kind, 'APIResourceList');
      assert.equal(list.groupVersion, apiVersionOf(r));
      const entries = list.resources as Obj[];
      const main = entries.find((e) => e.name === r.resource);
      assert.ok(main, r.resource);
      assert.equal(main.kind, r.kind);
      assert.equal(main.singularName, r.singular);
      assert.equal(main.namespaced, r.namespaced);
      assert.deepEqual(main.verbs, [...RESOURCE_VERBS]);
      assert.deepEqual(main.shortNames ?? [], r.shortNames);
      assert.deepEqual(main.categories ?? [], r.categories);
      for (const sub of r.subresources) {
        const e = entries.find((x) => x.name === `${r.resource}/${sub}`);
        assert.ok(e, `${r.resource}/${sub}`);
        assert.equal(e.namespaced, r.namespaced);
        assert.ok((e.verbs as string[]).length > 0);
      }
    }
  });

  it('describes the subresources like Kubernetes', () => {
    const core = listFor('', 'v1');
    assert.deepEqual(core.find((e) => e.name === 'pods/binding'), { name: 'pods/binding', singularName: '', namespaced: true, kind: 'Binding', verbs: ['create'] });
    assert.deepEqual(core.find((e) => e.name === 'pods/log'), { name: 'pods/log', singularName: '', namespaced: true, kind: 'Pod', verbs: ['get'] });
    assert.deepEqual(core.find((e) => e.name === 'pods/status'), { name: 'pods/status', singularName: '', namespaced: true, kind: 'Pod', verbs: ['get', 'patch', 'update'] });
    assert.deepEqual(listFor('apps', 'v1').find((e) => e.name === 'deployments/scale'), {
      name: 'deployments/scale',
      singularName: '',
      namespaced: true,
      group: 'autoscaling',
      version: 'v1',
      kind: 'Scale',
      verbs: ['get', 'patch', 'update'],
    });
    assert.equal(apiResourceList('apps', 'v2'), undefined);
    assert.equal(apiResourceList('nope', 'v1'), undefined);
  });
});

describe('OpenAPI v3', () => {
  function refs(v: Json, out: string[] = []): string[] {
    if (Array.isArray(v)) v.forEach((x) => refs(x, out));
    else if (v !== null && typeof v === 'object') for (const [k, x] of Object.entries(v)) k === '$ref' ? out.push(String(x)) : refs(x, out);
    return out;
  }

  it('lists each group-version with a stable hashed URL', () => {
    const root = obj(openApiV3Root());
    const paths = root.paths as Record<string, { serverRelativeURL: string }>;
    const gvs = [...new Set(RESOURCES.map((r) => (r.group ? `apis/${r.group}/${r.version}` : `api/${r.version}`)))];
    assert.deepEqual(Object.keys(paths).sort(), gvs.sort());
    for (const [key, { serverRelativeURL }] of Object.entries(paths)) {
      assert.match(serverRelativeURL, new RegExp(`^/openapi/v3/${key.replace(/\./g, '\\.')}\\?hash=[0-9A-F]{128}$`));
    }
    assert.deepEqual(openApiV3Root(), root, 'stable');
  });

  it('has, per kind, a PATCH with its group-version-kind and a fieldValidation parameter, and a schema with that GVK', () => {
    for (const r of RESOURCES) {
      const doc = openApiV3Document(r.group, r.version) as Record<string, Json>;
      assert.equal(doc.openapi, '3.0.0');
      const patches = Object.values(doc.paths as Record<string, Obj>)
        .map((p) => p.patch as Obj | undefined)
        .filter((op): op is Obj => op !== undefined);
      const mine = patches.filter((op) => {
        const gvk = op['x-kubernetes-group-version-kind'] as Obj;
        return gvk.group === r.group && gvk.version === r.version && gvk.kind === r.kind;
      });
      assert.equal(mine.length, 1, r.kind);
      const params = (mine[0].parameters as Obj[]).map((p) => p.name);
      assert.ok(params.includes('fieldValidation'), r.kind);
      assert.ok(params.includes('fieldManager'), r.kind);
      const schemas = (doc.components as { schemas: Record<string, Obj> }).schemas;
      const kindSchemas = Object.values(schemas).filter((s) =>
        ((s['x-kubernetes-group-version-kind'] as Obj[] | undefined) ?? []).some((g) => g.group === r.group && g.version === r.version && g.kind === r.kind),
      );
      assert.equal(kindSchemas.length, 1, `${r.kind}: one schema with its GVK`);
      for (const ref of refs(doc)) assert.ok(ref.replace('#/components/schemas/', '') in schemas, `${r.kind}: ${ref} resolves`);
    }
    assert.equal(openApiV3Document('apps', 'v9'), undefined);
  });

  it('uses item paths kubectl would request', () => {
    const core = openApiV3Document('', 'v1') as { paths: Record<string, Json> };
    assert.ok('/api/v1/namespaces/{namespace}/pods/{name}' in core.paths);
    assert.ok('/api/v1/nodes/{name}' in core.paths);
    const apps = openApiV3Document('apps', 'v1') as { paths: Record<string, Json> };
    assert.ok('/apis/apps/v1/namespaces/{namespace}/deployments/{name}' in apps.paths);
  });
});

describe('aggregated discovery (apidiscovery.k8s.io/v2)', () => {
  it('is chosen only when the Accept header asks for it', () => {
    assert.equal(wantsAggregatedDiscovery('application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json'), true);
    assert.equal(wantsAggregatedDiscovery('application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json'), false);
    assert.equal(wantsAggregatedDiscovery('application/json'), false);
    assert.equal(wantsAggregatedDiscovery(undefined), false);
    assert.equal(AGGREGATED_DISCOVERY_CONTENT_TYPE, 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList');
  });

  it('lists every served resource with scope, verbs and subresources', () => {
    const core = obj(aggregatedDiscovery(true));
    assert.equal(core.kind, 'APIGroupDiscoveryList');
    assert.equal(core.apiVersion, 'apidiscovery.k8s.io/v2');
    const named = obj(aggregatedDiscovery(false));
    type Group = { metadata: { name: string }; versions: { version: string; resources: Obj[] }[] };
    const groups = [...(core.items as Group[]), ...(named.items as Group[])];
    assert.deepEqual((core.items as Group[]).map((g) => g.metadata.name), ['']);
    for (const info of RESOURCES) {
      const group = groups.find((g) => g.metadata.name === info.group)!;
      const version = group.versions.find((v) => v.version === info.version)!;
      const entry = version.resources.find((r) => r.resource === info.resource)!;
      assert.deepEqual(entry.responseKind, { group: info.group, version: info.version, kind: info.kind });
      assert.equal(entry.scope, info.namespaced ? 'Namespaced' : 'Cluster');
      assert.deepEqual(entry.verbs, [...RESOURCE_VERBS]);
      const subs = ((entry.subresources as Obj[] | undefined) ?? []).map((s) => s.subresource);
      assert.deepEqual(subs, info.subresources);
    }
    const deployments = (named.items as Group[]).find((g) => g.metadata.name === 'apps')!.versions[0].resources.find((r) => r.resource === 'deployments')!;
    const scale = (deployments.subresources as Obj[]).find((s) => s.subresource === 'scale')!;
    assert.deepEqual(scale.responseKind, { group: 'autoscaling', version: 'v1', kind: 'Scale' });
  });
});
