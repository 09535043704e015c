// Creates and deletes a controller has asked for but not yet seen in its
// informer cache. While some are outstanding, the controller must not count
// pods again (it would create or delete twice). Entries expire so a lost event
// never wedges a key.

interface Entry {
  adds: number;
  deletes: number;
  atMs: number;
}

export class Expectations {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly ttlMs = 60_000, private readonly now: () => number = Date.now) {}

  expect(key: string, adds: number, deletes: number): void {
    this.entries.set(key, { adds, deletes, atMs: this.now() });
  }

  observe(key: string, what: 'add' | 'delete'): void {
    const e = this.entries.get(key);
    if (!e) return;
    if (what === 'add') e.adds = Math.max(0, e.adds - 1);
    else e.deletes = Math.max(0, e.deletes - 1);
  }

  satisfied(key: string): boolean {
    const e = this.entries.get(key);
    if (!e) return true;
    if ((e.adds <= 0 && e.deletes <= 0) || this.now() - e.atMs > this.ttlMs) {
      this.entries.delete(key);
      return true;
    }
    return false;
  }

  delete(key: string): void {
    this.entries.delete(key);
  }
}
