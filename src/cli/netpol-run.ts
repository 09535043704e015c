export async function runNetpolRun(): Promise<number> { return 2; }
