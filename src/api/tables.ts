// meta.k8s.io/v1 Table responses: what `kubectl get` prints, from the printer
// each kind's strategy declares (src/api/kinds/); kinds without one get NAME
// and AGE.

import type { ResourceInfo } from '../core/resources.ts';
import type { Json, KubeObject } from '../core/types.ts';
import { printerFor } from './kinds/index.ts';
import type { TableColumnDefinition } from './kinds/printer.ts';

export { age, humanDuration, type TableColumnDefinition } from './kinds/printer.ts';

export interface TableRow {
  cells: Json[];
  object?: Json;
}

export interface Table {
  kind: 'Table';
  apiVersion: 'meta.k8s.io/v1';
  metadata: { resourceVersion?: string; continue?: string };
  columnDefinitions: TableColumnDefinition[];
  rows: TableRow[];
}

export interface TableOptions {
  includeObject?: 'None' | 'Metadata' | 'Object';
  resourceVersion?: string;
  continue?: string;
  now?: Date;
  omitHeaders?: boolean;
}

/** The column definitions for a resource (Name first; wide columns have priority 1). */
export function tableColumns(info: ResourceInfo): TableColumnDefinition[] {
  return printerFor(info).columns.map((c) => ({ ...c }));
}

function rowObject(obj: KubeObject, mode: 'None' | 'Metadata' | 'Object'): Json | undefined {
  if (mode === 'None') return undefined;
  if (mode === 'Object') return obj as unknown as Json;
  return { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: obj.metadata as unknown as Json };
}

/** A Table of the given objects of one resource. */
export function tableFor(info: ResourceInfo, items: readonly KubeObject[], opts: TableOptions): Table {
  const p = printerFor(info);
  const now = opts.now ?? new Date();
  const mode = opts.includeObject ?? 'Metadata';
  const metadata: Table['metadata'] = {};
  if (opts.resourceVersion !== undefined) metadata.resourceVersion = opts.resourceVersion;
  if (opts.continue) metadata.continue = opts.continue;
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata,
    columnDefinitions: opts.omitHeaders ? [] : tableColumns(info),
    rows: items.map((obj) => {
      const row: TableRow = { cells: [obj.metadata.name ?? '', ...p.cells(obj, now)] };
      const object = rowObject(obj, mode);
      if (object !== undefined) row.object = object;
      return row;
    }),
  };
}
