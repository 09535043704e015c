// The real kubectl against a test API server: a kubeconfig, a private cache
// and HOME in the test's work dir. What the controller and kubelet tests share.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { KUBECTL, runProcess, type RunResult } from './run.ts';

export interface Kubectl {
  /** kubectl with these arguments; the result as it is (for cases that expect a failure). */
  run(args: readonly string[]): Promise<RunResult>;
  /** kubectl with these arguments, which must exit 0; its stdout. */
  ok(...args: string[]): Promise<string>;
  /** `kubectl apply -f` of one object (written as JSON into the work dir); must exit 0. */
  apply(obj: object): Promise<void>;
}

export function kubectlFor(kubeconfigPath: string, work: string): Kubectl {
  const run = (args: readonly string[]): Promise<RunResult> =>
    runProcess(KUBECTL, ['--kubeconfig', kubeconfigPath, '--cache-dir', join(work, 'cache'), ...args], { env: { ...process.env, HOME: work } });
  const ok = async (...args: string[]): Promise<string> => {
    const r = await run(args);
    assert.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  return {
    run,
    ok,
    async apply(obj) {
      const file = join(work, `obj-${randomBytes(4).toString('hex')}.json`);
      writeFileSync(file, JSON.stringify(obj));
      await ok('apply', '-f', file);
    },
  };
}
