// Quantities written the way apimachinery's resource.Quantity canonicalises
// them, for the figures meshlet reports (metrics.k8s.io): CPU as a decimal
// quantity in nanocores ("329087452n", "5m", "2"), memory as a binary one in
// bytes ("2748180Ki", "1536", "1k" below 1024, as upstream switches to decimal
// there). Integers only, exactly (BigInt). Parsing lives in quantity.ts. Pure.

const DECIMAL_SUFFIXES: readonly [number, string][] = [
  [-9, 'n'],
  [-6, 'u'],
  [-3, 'm'],
  [0, ''],
  [3, 'k'],
  [6, 'M'],
  [9, 'G'],
  [12, 'T'],
  [15, 'P'],
  [18, 'E'],
];
const BINARY_SUFFIXES = ['', 'Ki', 'Mi', 'Gi', 'Ti', 'Pi', 'Ei'] as const;

function wholeNumber(value: number, what: string): bigint {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`${what} must be a non-negative integer: ${value}`);
  return BigInt(value);
}

/** value × 10^exp10 with the largest power-of-1000 suffix that keeps the mantissa whole. */
function decimal(mantissa: bigint, exp10: number): string {
  if (mantissa === 0n) return '0';
  let m = mantissa;
  let e = exp10;
  while (m % 1000n === 0n && e < 18) {
    m /= 1000n;
    e += 3;
  }
  const suffix = DECIMAL_SUFFIXES.find(([exp]) => exp === e);
  if (!suffix) throw new RangeError(`no decimal suffix for 10^${e}`);
  return `${m}${suffix[1]}`;
}

/** A CPU figure in nanocores as a canonical decimal quantity: 5000000 → "5m", 123456789 → "123456789n". */
export function nanoCoresQuantity(nanoCores: number): string {
  return decimal(wholeNumber(nanoCores, 'CPU nanocores'), -9);
}

/** A byte count as a canonical binary quantity: 2048 → "2Ki", 1536 → "1536", 1000 → "1k". */
export function bytesQuantity(bytes: number): string {
  const b = wholeNumber(bytes, 'bytes');
  if (b < 1024n) return decimal(b, 0);
  let m = b;
  let i = 0;
  while (m % 1024n === 0n && i < BINARY_SUFFIXES.length - 1) {
    m /= 1024n;
    i++;
  }
  return `${m}${BINARY_SUFFIXES[i]}`;
}
