// Kubernetes resource quantities ("100m", "1.5Gi", "1e3"), parsed exactly.
// A quantity is kept as mantissa × 10^exp10 × 2^exp2 with a BigInt mantissa,
// so no value is rounded until it is asked for in whole units or millis,
// and then it is rounded up, as Value() and MilliValue() do in apimachinery.

export interface Quantity {
  /** The digits without the decimal point, with the sign. */
  mantissa: bigint;
  exp10: number;
  exp2: number;
}

const DECIMAL_SUFFIX: Record<string, number> = {
  n: -9,
  u: -6,
  m: -3,
  '': 0,
  k: 3,
  M: 6,
  G: 9,
  T: 12,
  P: 15,
  E: 18,
};

const BINARY_SUFFIX: Record<string, number> = { Ki: 10, Mi: 20, Gi: 30, Ti: 40, Pi: 50, Ei: 60 };

// <sign><digits>[.<digits>] | <sign>.<digits>, then a suffix.
const QUANTITY = /^([+-]?)(\d+(?:\.\d*)?|\.\d+)(.*)$/;
const EXPONENT = /^[eE]([+-]?\d+)$/;

export class QuantityError extends Error {
  constructor(text: string) {
    super(`quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$': ${JSON.stringify(text)}`);
    this.name = 'QuantityError';
  }
}

export function parseQuantity(text: string): Quantity {
  const m = QUANTITY.exec(text.trim());
  if (!m) throw new QuantityError(text);
  const [, sign, number, suffix] = m;
  const [whole, fraction = ''] = number.split('.');
  let mantissa = BigInt((whole || '0') + fraction);
  if (sign === '-') mantissa = -mantissa;
  let exp10 = -fraction.length;
  let exp2 = 0;
  if (suffix in DECIMAL_SUFFIX) exp10 += DECIMAL_SUFFIX[suffix];
  else if (suffix in BINARY_SUFFIX) exp2 = BINARY_SUFFIX[suffix];
  else {
    const e = EXPONENT.exec(suffix);
    if (!e) throw new QuantityError(text);
    exp10 += Number(e[1]);
  }
  return { mantissa, exp10, exp2 };
}

/** ceil(q × 10^scale) as a BigInt. */
function scaledCeil(q: Quantity, scale: number): bigint {
  let n = q.mantissa << BigInt(q.exp2);
  const e = q.exp10 + scale;
  if (e >= 0) return n * 10n ** BigInt(e);
  const d = 10n ** BigInt(-e);
  const quotient = n / d; // truncates toward zero
  n = n - quotient * d;
  return n > 0n ? quotient + 1n : quotient;
}

function toNumber(v: bigint, text: string | Quantity): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < -BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new RangeError(`quantity out of range: ${typeof text === 'string' ? text : JSON.stringify(text, (_, x) => (typeof x === 'bigint' ? String(x) : x))}`);
  }
  return Number(v);
}

/** The value in thousandths, rounded up: "100m" → 100, "1" → 1000, "1.1m" → 2. */
export function milliValue(q: Quantity | string): number {
  const parsed = typeof q === 'string' ? parseQuantity(q) : q;
  return toNumber(scaledCeil(parsed, 3), q);
}

/** The value in whole units, rounded up: "128Mi" → 134217728, "1G" → 1e9, "500m" → 1. */
export function intValue(q: Quantity | string): number {
  const parsed = typeof q === 'string' ? parseQuantity(q) : q;
  return toNumber(scaledCeil(parsed, 0), q);
}
