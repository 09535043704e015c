// `meshlet apply|get|delete`: thin commands over the API client.
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import { tableFor } from '../api/tables.ts';
import { createClient } from '../client/http-client.ts';
import { loadKubeconfig } from '../client/kubeconfig.ts';
import type { ApiClient } from '../client/types.ts';
import { KubeError, isKubeError, notFound } from '../core/errors.ts';
import { groupResource, resourceByUserName, resourceForKind, type ResourceInfo } from '../core/resources.ts';
import type { KubeObject } from '../core/types.ts';
import { DEFAULT_LAB_NAME, labStateDir, planLab } from '../lab/plan.ts';
import { labRoot, listLabs } from '../lab/state-file.ts';
import { UsageError, booleanOption, listOption, stringOption, type OptionValues, type RunCommand } from './args.ts';
import { DEFAULT_NAMESPACE } from '../core/well-known.ts';

/** --kubeconfig, else the first file of $KUBECONFIG, else the lab's (the only lab, or "meshlet"). */
export function kubeconfigPath(options: OptionValues): string {
  const given = stringOption(options, 'kubeconfig') ?? process.env.KUBECONFIG?.split(':').find(Boolean);
  if (given) return given;
  const labs = listLabs(labRoot());
  const name = labs.length === 1 ? labs[0] : DEFAULT_LAB_NAME;
  const path = planLab(name, 1, labStateDir(labRoot(), name)).kubeconfig;
  if (!existsSync(path)) throw new UsageError('no kubeconfig: give --kubeconfig, set KUBECONFIG, or start a lab (meshlet lab up)');
  return path;
}

function clientFor(options: OptionValues): ApiClient {
  const config = loadKubeconfig(kubeconfigPath(options));
  return createClient({ ...config, userAgent: 'meshlet-cli' });
}

/** kubectl's "deployment.apps/web". */
export function objectRef(info: ResourceInfo, name: string): string {
  return `${info.singular}${info.group ? `.${info.group}` : ''}/${name}`;
}

/** Every object in YAML/JSON text (multi-document; `kind: List` expanded; empty documents skipped). */
export function parseManifests(text: string, source: string): KubeObject[] {
  const out: KubeObject[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length) throw new UsageError(`${source}: ${doc.errors[0].message}`);
    const value: unknown = doc.toJSON();
    if (value === null || value === undefined) continue;
    if (typeof value !== 'object' || Array.isArray(value)) throw new UsageError(`${source}: a document is not an object`);
    const obj = value as KubeObject;
    if (typeof obj.kind === 'string' && obj.kind.endsWith('List') && Array.isArray(obj.items)) {
      out.push(...(obj.items as KubeObject[]));
    } else out.push(obj);
  }
  return out;
}

function manifestFiles(path: string): string[] {
  if (statSync(path).isDirectory()) {
    return readdirSync(path)
      .filter((f) => /\.(ya?ml|json)$/.test(f))
      .sort()
      .map((f) => join(path, f));
  }
  return [path];
}

/** Namespaces first, otherwise the order given. */
export function applyOrder(objects: readonly KubeObject[]): KubeObject[] {
  return [...objects.filter((o) => o.kind === 'Namespace'), ...objects.filter((o) => o.kind !== 'Namespace')];
}

export async function runApply(cmd: RunCommand): Promise<number> {
  const sources = listOption(cmd.options, 'filename');
  if (sources.length === 0) throw new UsageError('apply needs -f FILE|DIR|-');
  const objects: KubeObject[] = [];
  for (const src of sources) {
    if (src === '-') objects.push(...parseManifests(readFileSync(0, 'utf8'), 'stdin'));
    else for (const file of manifestFiles(src)) objects.push(...parseManifests(readFileSync(file, 'utf8'), file));
  }
  const flagNs = stringOption(cmd.options, 'namespace');
  const client = clientFor(cmd.options);
  let failures = 0;
  try {
    for (const obj of applyOrder(objects)) {
      const info = resourceForKind(String(obj.apiVersion), String(obj.kind));
      const name = obj.metadata?.name;
      if (!info || !name) {
        process.stderr.write(`error: ${!info ? `no kind "${obj.kind}" in version "${obj.apiVersion}"` : `a ${obj.kind} has no metadata.name`}\n`);
        failures++;
        continue;
      }
      if (info.namespaced) {
        const ns = obj.metadata.namespace ?? flagNs ?? DEFAULT_NAMESPACE;
        if (flagNs && obj.metadata.namespace && flagNs !== obj.metadata.namespace) {
          process.stderr.write(`error: the namespace from the provided object "${obj.metadata.namespace}" does not match the namespace "${flagNs}"\n`);
          failures++;
          continue;
        }
        obj.metadata.namespace = ns;
      }
      const gr = groupResource(info);
      try {
        try {
          await client.create(gr, obj);
          process.stdout.write(`${objectRef(info, name)} created\n`);
        } catch (err) {
          if (!isKubeError(err, 'AlreadyExists')) throw err;
          const { status: _ignored, ...patch } = obj;
          await client.patch(gr, obj.metadata.namespace ?? '', name, patch, 'merge');
          process.stdout.write(`${objectRef(info, name)} configured\n`);
        }
      } catch (err) {
        if (!(err instanceof KubeError)) throw err;
        process.stderr.write(`Error from server (${err.reason}): ${err.message}\n`);
        failures++;
      }
    }
  } finally {
    client.close();
  }
  return failures ? 1 : 0;
}

function resourceArg(kind: string): ResourceInfo {
  const info = resourceByUserName(kind);
  if (!info) throw new UsageError(`the server doesn't have a resource type "${kind}"`);
  return info;
}

/** kubectl's default columns (the server-side printers' priority-0 columns), NAMESPACE first with -A. */
export function formatTable(info: ResourceInfo, items: readonly KubeObject[], allNamespaces: boolean, now: Date): string {
  const table = tableFor(info, items, { now });
  const shown = table.columnDefinitions.map((c, i) => ({ c, i })).filter(({ c }) => c.priority === 0);
  const withNs = allNamespaces && info.namespaced;
  const header = [...(withNs ? ['NAMESPACE'] : []), ...shown.map(({ c }) => c.name.toUpperCase())];
  const rows = table.rows.map((row, r) => [
    ...(withNs ? [items[r]?.metadata.namespace ?? ''] : []),
    ...shown.map(({ i }) => {
      const cell = row.cells[i];
      return cell === null || cell === undefined ? '<none>' : typeof cell === 'object' ? JSON.stringify(cell) : String(cell);
    }),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  return [header, ...rows].map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] + 3))).join('').trimEnd()).join('\n') + '\n';
}

export async function runGet(cmd: RunCommand): Promise<number> {
  const info = resourceArg(cmd.positionals[0]);
  const name = cmd.positionals[1];
  const all = booleanOption(cmd.options, 'all-namespaces');
  const output = stringOption(cmd.options, 'output');
  if (output !== undefined && output !== 'json' && output !== 'yaml') throw new UsageError(`unsupported output format "${output}": use json or yaml`);
  const ns = info.namespaced ? (stringOption(cmd.options, 'namespace') ?? DEFAULT_NAMESPACE) : '';
  const gr = groupResource(info);
  const client = clientFor(cmd.options);
  try {
    let items: KubeObject[];
    let single: KubeObject | undefined;
    if (name) {
      single = await client.get(gr, ns, name);
      if (!single) throw notFound(info.resource, info.group, name);
      items = [single];
    } else {
      items = (await client.list(gr, all || !info.namespaced ? {} : { namespace: ns })).items;
    }
    if (output) {
      const value = single ?? { apiVersion: 'v1', kind: 'List', metadata: { resourceVersion: '' }, items };
      process.stdout.write(output === 'json' ? JSON.stringify(value, null, 4) + '\n' : stringify(value));
    } else if (items.length === 0) {
      process.stderr.write(all || !info.namespaced ? 'No resources found\n' : `No resources found in ${ns} namespace.\n`);
    } else {
      process.stdout.write(formatTable(info, items, all && !name, new Date()));
    }
    return 0;
  } finally {
    client.close();
  }
}

export async function runDelete(cmd: RunCommand): Promise<number> {
  const info = resourceArg(cmd.positionals[0]);
  const name = cmd.positionals[1];
  const ns = info.namespaced ? (stringOption(cmd.options, 'namespace') ?? DEFAULT_NAMESPACE) : '';
  const client = clientFor(cmd.options);
  try {
    await client.delete(groupResource(info), ns, name, { propagationPolicy: 'Background' });
    process.stdout.write(`${info.singular}${info.group ? `.${info.group}` : ''} "${name}" deleted\n`);
    return 0;
  } finally {
    client.close();
  }
}
