// The upstream e2e topology against the semantic model: every case file in
// test/unit/policy-cases holds matrices written by hand from the API's
// semantics; the model's matrix must equal them cell by cell (loopback "-"
// not compared). The same files are the input of `meshlet netpol run`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { applyStep, diffMatrix, formatMatrix, modelMatrix, parseCaseFile, topology } from '../../src/policy/cases.ts';

const DIR = join(import.meta.dirname, 'policy-cases');
const files = readdirSync(DIR).filter((f) => f.endsWith('.yaml')).sort();
const all = files.flatMap((f) => parseCaseFile(readFileSync(join(DIR, f), 'utf8')).map((c) => ({ file: f, c })));

test('the suite holds at least 30 cases with unique names', () => {
  assert.ok(all.length >= 30, `${all.length} cases`);
  assert.equal(new Set(all.map((x) => x.c.name)).size, all.length);
});

for (const { file, c } of all) {
  test(`${file}: ${c.name}`, () => {
    let cluster = topology();
    for (const step of c.steps) {
      cluster = applyStep(cluster, step);
      assert.ok(step.expect.length > 0, `step ${step.name} expects something`);
      for (const ex of step.expect) {
        for (const probe of ex.probes) {
          const actual = modelMatrix(cluster, probe);
          const diffs = diffMatrix(ex.matrix, actual, probe);
          assert.deepEqual(diffs, [], `${c.name} / ${step.name} / ${probe.port}/${probe.protocol}: model says\n${formatMatrix(actual)}`);
        }
      }
    }
  });
}
