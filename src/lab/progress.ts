// One line per step with the elapsed time, as `lab up` and `lab down` go.
export class Progress {
  private readonly start = Date.now();
  constructor(private readonly out: NodeJS.WritableStream = process.stdout) {}

  step(message: string): void {
    const s = ((Date.now() - this.start) / 1000).toFixed(1).padStart(5);
    this.out.write(`[${s}s] ${message}\n`);
  }
}
