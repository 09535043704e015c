// Label and field selectors: parsing (the query-string syntax and
// metav1.LabelSelector), matching and formatting. Pure functions; the API
// server, controllers, scheduler and policy engine all use them.

import { KubeError } from './errors.ts';
import { isLabelValue, isQualifiedName } from './names.ts';
import type { KubeObject, LabelSelector } from './types.ts';

export interface Requirement {
  key: string;
  operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist' | 'Gt' | 'Lt';
  values: string[];
}

export interface FieldRequirement {
  field: string;
  operator: '=' | '!=';
  value: string;
}

// ---------------------------------------------------------------- labels: text

type Token =
  | { kind: 'ident'; text: string }
  | { kind: 'op'; text: '=' | '==' | '!=' | '!' | '(' | ')' | ',' | '>' | '<' }
  | { kind: 'end' };

const OPERATORS = ['!=', '==', '=', '!', '(', ')', ',', '>', '<'] as const;

function badSelector(text: string, why: string): KubeError {
  return new KubeError('BadRequest', `unable to parse requirement: ${why} (in label selector "${text}")`);
}

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const op = OPERATORS.find((o) => text.startsWith(o, i));
    if (op) {
      tokens.push({ kind: 'op', text: op });
      i += op.length;
      continue;
    }
    let j = i;
    while (j < text.length && !/\s/.test(text[j]) && !OPERATORS.some((o) => text.startsWith(o[0], j))) j++;
    tokens.push({ kind: 'ident', text: text.slice(i, j) });
    i = j;
  }
  tokens.push({ kind: 'end' });
  return tokens;
}

function describe(t: Token): string {
  return t.kind === 'end' ? 'end of string' : `'${t.text}'`;
}

function checkKey(text: string, key: string): void {
  if (!isQualifiedName(key)) throw badSelector(text, `invalid label key "${key}"`);
}

function checkValue(text: string, value: string): void {
  if (!isLabelValue(value)) throw badSelector(text, `invalid label value "${value}"`);
}

/**
 * Parses the label selector query syntax: `a=b`, `a==b`, `a!=b`, `a in (x,y)`,
 * `a notin (x)`, `a`, `!a`, `a>1`, `a<1`, joined by commas. An empty string
 * gives no requirements (matches everything).
 */
export function parseLabelSelector(text: string): Requirement[] {
  const tokens = tokenize(text);
  let pos = 0;
  const peek = (): Token => tokens[pos];
  const next = (): Token => tokens[pos++];
  const reqs: Requirement[] = [];
  if (peek().kind === 'end') return reqs;

  for (;;) {
    let t = next();
    let negated = false;
    if (t.kind === 'op' && t.text === '!') {
      negated = true;
      t = next();
    }
    if (t.kind !== 'ident') throw badSelector(text, `found ${describe(t)}, expected: identifier`);
    const key = t.text;
    checkKey(text, key);
    const after = peek();
    if (negated) {
      if (!(after.kind === 'end' || (after.kind === 'op' && after.text === ','))) {
        throw badSelector(text, `found ${describe(after)}, expected: ',' or end of string after '!${key}'`);
      }
      reqs.push({ key, operator: 'DoesNotExist', values: [] });
    } else if (after.kind === 'end' || (after.kind === 'op' && after.text === ',')) {
      reqs.push({ key, operator: 'Exists', values: [] });
    } else if (after.kind === 'op' && (after.text === '=' || after.text === '==' || after.text === '!=')) {
      next();
      const v = peek();
      let value = '';
      if (v.kind === 'ident') {
        value = v.text;
        next();
      } else if (!(v.kind === 'end' || (v.kind === 'op' && v.text === ','))) {
        throw badSelector(text, `found ${describe(v)}, expected: value`);
      }
      checkValue(text, value);
      reqs.push({ key, operator: after.text === '!=' ? 'NotIn' : 'In', values: [value] });
    } else if (after.kind === 'op' && (after.text === '>' || after.text === '<')) {
      next();
      const v = next();
      if (v.kind !== 'ident' || !/^-?\d+$/.test(v.text)) {
        throw badSelector(text, `for 'Gt', 'Lt' operators, the value must be an integer, found ${describe(v)}`);
      }
      reqs.push({ key, operator: after.text === '>' ? 'Gt' : 'Lt', values: [v.text] });
    } else if (after.kind === 'ident' && (after.text === 'in' || after.text === 'notin')) {
      next();
      const open = next();
      if (!(open.kind === 'op' && open.text === '(')) throw badSelector(text, `found ${describe(open)}, expected: '('`);
      const values: string[] = [];
      let expectValue = true;
      for (;;) {
        const v = next();
        if (v.kind === 'op' && v.text === ')') {
          if (expectValue) values.push('');
          break;
        }
        if (v.kind === 'op' && v.text === ',') {
          if (expectValue) values.push('');
          expectValue = true;
          continue;
        }
        if (v.kind === 'ident' && expectValue) {
          values.push(v.text);
          expectValue = false;
          continue;
        }
        throw badSelector(text, `found ${describe(v)}, expected: ',' or ')'`);
      }
      values.forEach((value) => checkValue(text, value));
      reqs.push({ key, operator: after.text === 'in' ? 'In' : 'NotIn', values: [...new Set(values)] });
    } else {
      throw badSelector(text, `found ${describe(after)}, expected: in, notin, =, ==, !=, gt, lt`);
    }

    const sep = next();
    if (sep.kind === 'end') return reqs;
    if (!(sep.kind === 'op' && sep.text === ',')) throw badSelector(text, `found ${describe(sep)}, expected: ','`);
    if (peek().kind === 'end') throw badSelector(text, `found end of string, expected: identifier after ','`);
  }
}

// ------------------------------------------------------- labels: LabelSelector

/**
 * The requirements of a metav1.LabelSelector (matchLabels, then matchExpressions).
 * null/undefined and `{}` both give [] (match everything); callers for which a
 * missing selector means "match nothing" must check for that themselves.
 */
export function labelSelectorRequirements(sel: LabelSelector | undefined | null): Requirement[] {
  if (!sel) return [];
  const reqs: Requirement[] = [];
  for (const [key, value] of Object.entries(sel.matchLabels ?? {})) {
    if (!isQualifiedName(key)) throw new KubeError('BadRequest', `invalid label key "${key}" in matchLabels`);
    if (typeof value !== 'string' || !isLabelValue(value)) {
      throw new KubeError('BadRequest', `invalid label value "${String(value)}" for key "${key}" in matchLabels`);
    }
    reqs.push({ key, operator: 'In', values: [value] });
  }
  for (const expr of sel.matchExpressions ?? []) {
    const values = expr.values ?? [];
    if (!isQualifiedName(expr.key ?? '')) throw new KubeError('BadRequest', `invalid label key "${expr.key}" in matchExpressions`);
    switch (expr.operator) {
      case 'In':
      case 'NotIn':
        if (values.length === 0) {
          throw new KubeError('BadRequest', `matchExpressions key "${expr.key}": values must be non-empty for operator ${expr.operator}`);
        }
        break;
      case 'Exists':
      case 'DoesNotExist':
        if (values.length > 0) {
          throw new KubeError('BadRequest', `matchExpressions key "${expr.key}": values must be empty for operator ${expr.operator}`);
        }
        break;
      default:
        throw new KubeError('BadRequest', `"${String(expr.operator)}" is not a valid label selector operator`);
    }
    reqs.push({ key: expr.key, operator: expr.operator, values: [...values] });
  }
  return reqs;
}

/** True when the labels satisfy every requirement; no requirements match everything. */
export function matchesLabels(reqs: readonly Requirement[], labels: Record<string, string> | undefined): boolean {
  const have = labels ?? {};
  return reqs.every((req) => {
    const present = Object.prototype.hasOwnProperty.call(have, req.key);
    const value = present ? have[req.key] : undefined;
    switch (req.operator) {
      case 'In':
        return present && req.values.includes(value as string);
      case 'NotIn':
        return !present || !req.values.includes(value as string);
      case 'Exists':
        return present;
      case 'DoesNotExist':
        return !present;
      case 'Gt':
      case 'Lt': {
        if (!present || !/^-?\d+$/.test(value as string)) return false;
        const have = Number(value);
        const want = Number(req.values[0]);
        return req.operator === 'Gt' ? have > want : have < want;
      }
    }
  });
}

/**
 * The query-string form of a LabelSelector, as metav1.LabelSelectorAsSelector(...).String():
 * matchLabels as `k=v`, matchExpressions as `k in (a,b)`, `k notin (a)`, `k`, `!k`;
 * sorted by key, set values sorted. `{}` gives '' (match everything).
 * Throws BadRequest like labelSelectorRequirements for a malformed selector.
 */
export function formatLabelSelector(sel: LabelSelector): string {
  labelSelectorRequirements(sel);
  const parts: { key: string; text: string }[] = [];
  for (const [key, value] of Object.entries(sel.matchLabels ?? {})) parts.push({ key, text: `${key}=${value}` });
  for (const expr of sel.matchExpressions ?? []) {
    const values = [...new Set(expr.values ?? [])].sort().join(',');
    const text =
      expr.operator === 'In'
        ? `${expr.key} in (${values})`
        : expr.operator === 'NotIn'
          ? `${expr.key} notin (${values})`
          : expr.operator === 'Exists'
            ? expr.key
            : `!${expr.key}`;
    parts.push({ key: expr.key, text });
  }
  parts.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return parts.map((p) => p.text).join(',');
}

// ---------------------------------------------------------------- fields

// Which fields a resource's selectors support, and how each reads its value,
// is the resource's (src/api/kinds/); here only the syntax and the matching.

/** Splits on an unescaped separator; backslash escapes the next character. */
function splitEscaped(text: string, sep: string): string[] {
  const parts: string[] = [];
  let cur = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '\\' && i + 1 < text.length) {
      cur += c + text[i + 1];
      i++;
    } else if (c === sep) {
      parts.push(cur);
      cur = '';
    } else cur += c;
  }
  parts.push(cur);
  return parts;
}

function unescapeFieldValue(value: string, text: string): string {
  let out = '';
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (c === '\\') {
      const n = value[i + 1];
      if (n !== '\\' && n !== ',' && n !== '=') {
        throw new KubeError('BadRequest', `invalid field selector "${text}": invalid escape sequence`);
      }
      out += n;
      i++;
    } else if (c === '=' || c === ',') {
      throw new KubeError('BadRequest', `invalid field selector "${text}": unescaped '${c}' in value`);
    } else out += c;
  }
  return out;
}

/**
 * Parses `a=b,c==d,e!=f` (values may escape '\\', ',' and '=' with a backslash).
 * Unknown fields fail with BadRequest "field label not supported: x".
 */
export function parseFieldSelector(text: string, supported: readonly string[]): FieldRequirement[] {
  const reqs: FieldRequirement[] = [];
  if (text.trim() === '') return reqs;
  for (const part of splitEscaped(text, ',')) {
    const m = /^([^=!]*?)\s*(!=|==|=)(.*)$/.exec(part.trim());
    if (!m) throw new KubeError('BadRequest', `invalid field selector "${text}": "${part}" is not of the form field=value`);
    const field = m[1].trim();
    if (field === '') throw new KubeError('BadRequest', `invalid field selector "${text}": empty field name`);
    if (!supported.includes(field)) throw new KubeError('BadRequest', `field label not supported: ${field}`);
    reqs.push({ field, operator: m[2] === '!=' ? '!=' : '=', value: unescapeFieldValue(m[3], text) });
  }
  return reqs;
}

/** Do the object's field values (as `valueOf` reads them for its resource) meet every requirement? */
export function matchesFields(reqs: readonly FieldRequirement[], obj: KubeObject, valueOf: (obj: KubeObject, field: string) => string): boolean {
  return reqs.every((req) => (valueOf(obj, req.field) === req.value) === (req.operator === '='));
}
