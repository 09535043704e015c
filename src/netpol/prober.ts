// A client pod's prober: one `meshlet netpol connect --batch` started inside
// the pod's network namespace (`ip netns exec`, so it also sees the pod's
// resolv.conf) and kept for the whole run; every round's requests for that
// pod go down its stdin, results come back by id.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { assertNetnsName } from '../lab/system.ts';
import { parseBatchResult, type BatchRequest, type ProbeResult } from './wire.ts';

export class PodProber {
  private child?: ChildProcessWithoutNullStreams;
  private readonly waiting = new Map<string, (r: ProbeResult) => void>();
  private stderr = '';
  /** How many times the prober process was started (once, unless it died). */
  starts = 0;

  constructor(
    readonly pod: string,
    private readonly netns: string,
    private readonly argv: readonly string[],
  ) {
    assertNetnsName(netns);
  }

  private start(): ChildProcessWithoutNullStreams {
    const child = spawn('ip', ['netns', 'exec', this.netns, ...this.argv, 'netpol', 'connect', '--batch'], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.starts++;
    child.stderr.on('data', (b: Buffer) => (this.stderr = (this.stderr + b.toString()).slice(-2000)));
    createInterface({ input: child.stdout }).on('line', (line) => {
      try {
        const r = parseBatchResult(line);
        const done = this.waiting.get(r.id);
        this.waiting.delete(r.id);
        done?.(r);
      } catch {
        // not a result line
      }
    });
    const fail = (why: string): void => {
      if (this.child === child) this.child = undefined;
      for (const done of this.waiting.values()) done({ outcome: 'error', ms: 0, error: `prober in ${this.pod} ${why}${this.stderr ? `: ${this.stderr.trim().split('\n').pop()}` : ''}` });
      this.waiting.clear();
    };
    child.once('exit', (code, signal) => fail(`exited (${signal ?? code})`));
    child.once('error', (err) => fail(`failed: ${err.message}`));
    child.stdin.on('error', () => {});
    return child;
  }

  /** Sends every request at once; resolves when all have answered. */
  run(requests: readonly BatchRequest[]): Promise<Map<string, ProbeResult>> {
    if (requests.length === 0) return Promise.resolve(new Map());
    const child = (this.child ??= this.start());
    const results = new Map<string, ProbeResult>();
    return new Promise((resolve) => {
      let left = requests.length;
      for (const req of requests) {
        this.waiting.set(req.id, (r) => {
          results.set(req.id, r);
          if (--left === 0) resolve(results);
        });
      }
      child.stdin.write(requests.map((r) => JSON.stringify({ id: r.id, ...r.target })).join('\n') + '\n');
    });
  }

  /** Ends its stdin (it exits once its probes are answered); kills it if it has not exited within 3 s. */
  async close(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.stdin.end();
    const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(timer);
  }
}
