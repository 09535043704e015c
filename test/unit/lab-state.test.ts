import { test } from 'node:test';
import assert from 'node:assert/strict';
import { newLabState, parseLabState, withProcess, parseStatStartTime, isSameProcess } from '../../src/lab/state.ts';

test('state round-trips and records processes by role', () => {
  let s = newLabState('x', 2, ['ml-x-ul', 'ml-x-n1'], new Date('2026-01-01T00:00:00Z'));
  s = withProcess(s, { role: 'redis' });
  s = withProcess(s, { role: 'redis', pid: 1234, startTime: '99' });
  s = withProcess(s, { role: 'server', pid: 1240, startTime: '100' });
  const back = parseLabState(JSON.stringify(s));
  assert.deepEqual(back, s);
  assert.deepEqual(back.processes.map((p) => p.role), ['redis', 'server']);
});

test('a damaged state keeps whatever names namespaces and processes', () => {
  const s = parseLabState('{"namespaces":["ml-x-ul",3,"ml-x-n1"],"processes":[{"role":"server","pid":"12"},{"pid":77,"startTime":"5"},null,{"role":"init","pid":1,"startTime":"1"}]}');
  assert.deepEqual(s.namespaces, ['ml-x-ul', 'ml-x-n1']);
  assert.deepEqual(s.processes, [{ role: 'server' }, { role: 'unknown', pid: 77, startTime: '5' }, { role: 'init', startTime: '1' }]);
  assert.equal(s.phase, 'creating');
  assert.throws(() => parseLabState('[1]'));
  assert.throws(() => parseLabState('{'));
});

test('start time is field 22 of /proc/<pid>/stat, even when the command name has spaces and parentheses', () => {
  const tail = 'S 1 1234 1234 0 -1 4194560 100 0 0 0 3 1 0 0 20 0 1 0 987654 10000 200 18446744073709551615';
  assert.equal(parseStatStartTime(`1234 (node) ${tail}`), '987654');
  assert.equal(parseStatStartTime(`1234 (my (odd) name) ${tail}`), '987654');
  assert.equal(parseStatStartTime('garbage'), undefined);
});

test('a recorded process matches only with the same start time', () => {
  assert.equal(isSameProcess({ role: 'a', pid: 10, startTime: '5' }, '5'), true);
  assert.equal(isSameProcess({ role: 'a', pid: 10, startTime: '5' }, '6'), false);
  assert.equal(isSameProcess({ role: 'a', pid: 10, startTime: '5' }, undefined), false);
  assert.equal(isSameProcess({ role: 'a', pid: 10 }, '5'), false);
});
