import { test } from 'node:test';
import assert from 'node:assert/strict';
import { intValue, milliValue, parseQuantity, QuantityError } from '../../src/core/quantity.ts';

test('cpu quantities in millicores', () => {
  assert.equal(milliValue('100m'), 100);
  assert.equal(milliValue('1'), 1000);
  assert.equal(milliValue('0.5'), 500);
  assert.equal(milliValue('.25'), 250);
  assert.equal(milliValue('2.'), 2000);
  assert.equal(milliValue('1e3'), 1_000_000);
  assert.equal(milliValue('1E-3'), 1);
  assert.equal(milliValue('+3'), 3000);
  assert.equal(milliValue('250000u'), 250);
  assert.equal(milliValue('1k'), 1_000_000);
});

test('sub-milli values round up, as MilliValue does', () => {
  assert.equal(milliValue('1.1m'), 2);
  assert.equal(milliValue('1n'), 1);
  assert.equal(milliValue('0'), 0);
});

test('memory quantities in bytes', () => {
  assert.equal(intValue('128Mi'), 134_217_728);
  assert.equal(intValue('1G'), 1_000_000_000);
  assert.equal(intValue('1.5Gi'), 1_610_612_736);
  assert.equal(intValue('1Ki'), 1024);
  assert.equal(intValue('1e3'), 1000);
  assert.equal(intValue('12E2'), 1200);
  assert.equal(intValue('1P'), 1e15);
  assert.equal(intValue('2Ti'), 2 * 2 ** 40);
  assert.equal(intValue('500m'), 1);
  assert.equal(intValue('123'), 123);
  assert.equal(intValue(' 64Mi '), 64 * 2 ** 20);
});

test('exact: no floating point on the way', () => {
  // 0.1 + 0.2 style errors would show here.
  assert.equal(milliValue('0.3'), 300);
  assert.equal(intValue('0.3Ki'), 308); // 307.2 rounded up
  assert.deepEqual(parseQuantity('1.5Gi'), { mantissa: 15n, exp10: -1, exp2: 30 });
});

test('values beyond 2^53 are refused, not rounded', () => {
  assert.throws(() => intValue('1E'), RangeError);
  assert.deepEqual(parseQuantity('1E'), { mantissa: 1n, exp10: 18, exp2: 0 });
});

test('invalid quantities are rejected', () => {
  for (const bad of ['', 'abc', '1.2.3', '1 Mi', '1Mib', '+', '.', '1e', 'Mi', '1K', '1mi', '--1']) {
    assert.throws(() => parseQuantity(bad), QuantityError, bad);
  }
});
