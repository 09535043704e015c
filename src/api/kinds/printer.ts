// Building blocks of the table printers the kind modules declare (what
// `kubectl get` prints; column sets and cell formats follow the Kubernetes
// server-side printers, priority-1 columns show with `-o wide`), and the
// lenient JSON readers their cells use. Pure.
import { formatLabelSelector } from '../../core/selectors.ts';
import type { Json, KubeObject, LabelSelector } from '../../core/types.ts';

export interface TableColumnDefinition {
  name: string;
  type: string;
  format: string;
  description: string;
  priority: number;
}

export interface Printer {
  columns: TableColumnDefinition[];
  /** The cells after Name, one per column. */
  cells(obj: KubeObject, now: Date): Json[];
}

export type CellFn = (obj: KubeObject, now: Date) => Json;
export type Column = [TableColumnDefinition, CellFn];

type Rec = Record<string, unknown>;

/** An object, or {} for anything else. */
export function record(v: unknown): Rec {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Rec) : {};
}

export function list(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

export function num(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : 0;
}

/** A string, or '' for anything else. */
export function text(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

export const NONE = '<none>';

/** kubectl's duration.HumanDuration. */
export function humanDuration(ms: number): string {
  const seconds = Math.trunc(ms / 1000);
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.trunc(seconds / 60);
  if (minutes < 10) {
    const s = seconds % 60;
    return s === 0 ? `${minutes}m` : `${minutes}m${s}s`;
  }
  if (minutes < 180) return `${minutes}m`;
  const hours = Math.trunc(minutes / 60);
  if (hours < 8) {
    const m = minutes % 60;
    return m === 0 ? `${hours}h` : `${hours}h${m}m`;
  }
  if (hours < 48) return `${hours}h`;
  const days = Math.trunc(hours / 24);
  if (hours < 24 * 8) {
    const h = hours % 24;
    return h === 0 ? `${days}d` : `${days}d${h}h`;
  }
  if (hours < 24 * 365 * 2) return `${days}d`;
  const years = Math.trunc(days / 365);
  if (hours < 24 * 365 * 8) {
    const d = days % 365;
    return d === 0 ? `${years}y` : `${years}y${d}d`;
  }
  return `${years}y`;
}

/** The age of a timestamp as kubectl prints it; '<unknown>' when absent or unparsable. */
export function age(timestamp: unknown, now: Date): string {
  if (typeof timestamp !== 'string' || timestamp === '') return '<unknown>';
  const t = Date.parse(timestamp);
  return Number.isNaN(t) ? '<unknown>' : humanDuration(now.getTime() - t);
}

export function col(name: string, description: string, opts: { type?: string; format?: string; priority?: number } = {}): TableColumnDefinition {
  return { name, type: opts.type ?? 'string', format: opts.format ?? '', description, priority: opts.priority ?? 0 };
}

const NAME_COLUMN = col('Name', 'Name must be unique within a namespace. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names', {
  format: 'name',
});
const AGE_COLUMN = col('Age', 'CreationTimestamp is a timestamp representing the server time when this object was created.');

export const ageCell: Column = [AGE_COLUMN, (o, now) => age(o.metadata.creationTimestamp, now)];

/** A printer from (column, cell) pairs; the Name column is prepended. */
export function printer(columns: Column[]): Printer {
  return {
    columns: [NAME_COLUMN, ...columns.map(([c]) => c)],
    cells: (obj, now) => columns.map(([, f]) => f(obj, now)),
  };
}

/** Name and Age: the printer of kinds that declare none. */
export const DEFAULT_PRINTER = printer([ageCell]);

export function selectorText(sel: unknown): string {
  if (sel === undefined || sel === null) return NONE;
  try {
    return formatLabelSelector(sel as LabelSelector) || NONE;
  } catch {
    return NONE;
  }
}

export function mapSelectorText(sel: unknown): string {
  const entries = Object.entries(record(sel)).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return entries.length === 0 ? NONE : entries.map(([k, v]) => `${k}=${String(v)}`).join(',');
}
