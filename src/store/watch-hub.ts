// One reader per process follows the event stream with XREAD BLOCK and fans
// events out to every watch in memory. A new watch from version X reads the
// backlog (X, now] with XRANGE while buffering what the reader delivers, then
// switches to live events; versions are consecutive, so "deliver only what is
// newer than the last delivered" makes it exactly-once and in order.
//
// When Redis becomes unreachable the reader's read fails at once (the clients
// fail fast, src/store/redis-store.ts): every watch ends, so its client watches
// again from its last version, which works once Redis is back.
import type { Redis } from 'ioredis';
import { KubeError } from '../core/errors.ts';
import type { KubeObject } from '../core/types.ts';
import type { StoreEvent, StoreWatch } from './types.ts';
import { storeUnavailable } from './unavailable.ts';

export interface HubEvent {
  rv: number;
  /** FENCE: a jump of the counter after a loss (lua.ts FENCE_SCRIPT); it matches no watch. */
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'FENCE';
  gr: string;
  namespace: string;
  json: string;
  /** The object's version before this change; 0 for a create (and for events written before it was kept). */
  prev: number;
}

type StreamEntry = [id: string, fields: string[]];

const BACKLOG_PAGE = 1000;
const READ_BLOCK_MS = 2000;

function toHubEvent([id, fields]: StreamEntry): HubEvent {
  const f: Record<string, string> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) f[fields[i]] = fields[i + 1];
  return {
    rv: Number(id.slice(0, id.indexOf('-'))),
    type: f.t as HubEvent['type'],
    gr: f.g ?? '',
    namespace: f.n ?? '',
    json: f.o ?? '',
    prev: f.p !== undefined && /^\d+$/.test(f.p) ? Number(f.p) : 0,
  };
}

export function gone(from: number, oldest: number): KubeError {
  return new KubeError('Expired', `too old resource version: ${from} (${oldest - 1})`);
}

class Subscriber {
  lastDelivered: number;
  live = false;
  closed = false;
  readonly buffer: HubEvent[] = [];
  timer?: NodeJS.Timeout;

  constructor(
    from: number,
    readonly matches: (ev: HubEvent) => boolean,
    private readonly handler: (event: StoreEvent) => void,
  ) {
    this.lastDelivered = from;
  }

  deliver(ev: HubEvent, parsed: () => KubeObject): void {
    if (this.closed || ev.rv <= this.lastDelivered) return;
    this.lastDelivered = ev.rv;
    if (ev.type === 'FENCE' || !this.matches(ev)) return;
    this.emit({ type: ev.type, object: parsed(), resourceVersion: String(ev.rv) });
  }

  emit(event: StoreEvent): void {
    if (this.closed) return;
    try {
      this.handler(event);
    } catch {
      // A failing handler must not break the other watches; it is the caller's bug.
    }
  }
}

export class WatchHub {
  private readonly subscribers = new Set<Subscriber>();
  private lastId = '0-0';
  private lastRv = 0;
  private running = false;
  private broken = false;
  private loop?: Promise<void>;

  /**
   * onRecovered runs when the reader reads again after failing, with the newest
   * version this process had seen: the store checks that Redis did not come back
   * with less than that (and fences if it did).
   */
  constructor(
    private readonly redis: Redis,
    private readonly reader: Redis,
    private readonly streamKey: string,
    private readonly onRecovered: (seenRv: number) => Promise<void> = async () => undefined,
  ) {}

  /** The newest version this process has read from the stream. */
  get seenRv(): number {
    return this.lastRv;
  }

  async start(): Promise<void> {
    const last = (await this.redis.xrevrange(this.streamKey, '+', '-', 'COUNT', 1)) as StreamEntry[];
    if (last.length > 0) {
      this.lastId = last[0][0];
      this.lastRv = toHubEvent(last[0]).rv;
    }
    this.running = true;
    this.loop = this.readLoop();
  }

  async stop(): Promise<void> {
    this.running = false;
    for (const sub of this.subscribers) this.drop(sub);
    this.reader.disconnect();
    await this.loop?.catch(() => undefined);
  }

  private async readLoop(): Promise<void> {
    while (this.running) {
      if (this.broken) {
        try {
          await this.recovered();
        } catch {
          // Still unreachable.
          await new Promise((r) => setTimeout(r, 200));
          continue;
        }
      }
      let reply: [string, StreamEntry[]][] | null;
      try {
        reply = (await this.reader.xread('COUNT', BACKLOG_PAGE, 'BLOCK', READ_BLOCK_MS, 'STREAMS', this.streamKey, this.lastId)) as
          | [string, StreamEntry[]][]
          | null;
      } catch (err) {
        if (!this.running) return;
        if (!this.broken) {
          this.broken = true;
          this.endAll(storeUnavailable((err as Error).message));
        }
        await new Promise((r) => setTimeout(r, 200));
        continue;
      }
      if (!reply) continue;
      for (const [, entries] of reply) {
        for (const entry of entries) {
          const ev = toHubEvent(entry);
          this.lastId = entry[0];
          if (this.lastRv !== 0 && ev.rv !== this.lastRv + 1) this.failAll(ev.rv);
          this.lastRv = ev.rv;
          this.dispatch(ev);
        }
      }
    }
  }

  /** Redis answers again. If it came back with an older stream (data lost), start over from its tail. */
  private async recovered(): Promise<void> {
    await this.onRecovered(this.lastRv);
    const last = (await this.redis.xrevrange(this.streamKey, '+', '-', 'COUNT', 1)) as StreamEntry[];
    const tail = last.length > 0 ? toHubEvent(last[0]).rv : 0;
    if (tail < this.lastRv) {
      this.lastId = last.length > 0 ? last[0][0] : '0-0';
      this.lastRv = tail;
    }
    this.broken = false;
  }

  /** Ends every watch (Redis unreachable): no event follows; clients watch again. */
  private endAll(error: KubeError): void {
    for (const sub of [...this.subscribers]) {
      sub.emit({ type: 'ERROR', error });
      this.drop(sub);
    }
  }

  /**
   * The events (from, to], oldest first. Rejects with Gone when the kept history
   * no longer reaches back to from + 1 (trimmed, or a fence lies right after from).
   */
  async history(from: number, to: number): Promise<HubEvent[]> {
    const out: HubEvent[] = [];
    let start = `(${from}-0`;
    while (to > from) {
      const page = (await this.redis.xrange(this.streamKey, start, `${to}-0`, 'COUNT', BACKLOG_PAGE)) as StreamEntry[];
      if (out.length === 0) {
        const oldest = page.length > 0 ? toHubEvent(page[0]).rv : Infinity;
        if (oldest > from + 1) throw gone(from, oldest === Infinity ? to + 1 : oldest);
      }
      for (const entry of page) out.push(toHubEvent(entry));
      if (page.length < BACKLOG_PAGE) break;
      start = `(${page[page.length - 1][0]}`;
    }
    return out;
  }

  /** The event at exactly version rv, if the stream still keeps it. */
  async event(rv: number): Promise<HubEvent | undefined> {
    const page = (await this.redis.xrange(this.streamKey, `${rv}-0`, `${rv}-0`)) as StreamEntry[];
    return page.length > 0 ? toHubEvent(page[0]) : undefined;
  }

  /** The reader fell behind the kept history (a long outage): every watch must relist. */
  private failAll(seenRv: number): void {
    for (const sub of [...this.subscribers]) {
      if (sub.live && sub.lastDelivered < seenRv - 1) {
        sub.emit({ type: 'ERROR', error: gone(sub.lastDelivered, seenRv) });
        this.drop(sub);
      }
    }
  }

  private dispatch(ev: HubEvent): void {
    let parsed: KubeObject | undefined;
    const parse = (): KubeObject => (parsed ??= JSON.parse(ev.json) as KubeObject);
    for (const sub of this.subscribers) {
      if (sub.live) sub.deliver(ev, parse);
      else sub.buffer.push(ev);
    }
  }

  async subscribe(
    from: number,
    matches: (ev: HubEvent) => boolean,
    handler: (event: StoreEvent) => void,
    bookmarkIntervalMs: number,
  ): Promise<StoreWatch> {
    const sub = new Subscriber(from, matches, handler);
    this.subscribers.add(sub);
    try {
      await this.catchUp(sub);
    } catch (err) {
      this.drop(sub);
      throw err;
    }
    // Everything the reader saw while we read the backlog, then live.
    for (const ev of sub.buffer.splice(0)) sub.deliver(ev, () => JSON.parse(ev.json) as KubeObject);
    sub.live = true;
    if (bookmarkIntervalMs > 0) {
      sub.timer = setInterval(() => {
        sub.emit({ type: 'BOOKMARK', resourceVersion: String(Math.max(sub.lastDelivered, this.lastRv)) });
      }, bookmarkIntervalMs);
      sub.timer.unref();
    }
    return { close: () => this.drop(sub) };
  }

  private async catchUp(sub: Subscriber): Promise<void> {
    let start = `(${sub.lastDelivered}-0`;
    let first = true;
    for (;;) {
      const page = (await this.redis.xrange(this.streamKey, start, '+', 'COUNT', BACKLOG_PAGE)) as StreamEntry[];
      if (first && page.length > 0) {
        const oldest = toHubEvent(page[0]).rv;
        if (oldest > sub.lastDelivered + 1) throw gone(sub.lastDelivered, oldest);
      }
      first = false;
      for (const entry of page) {
        const ev = toHubEvent(entry);
        sub.deliver(ev, () => JSON.parse(ev.json) as KubeObject);
      }
      if (page.length < BACKLOG_PAGE) return;
      start = `(${page[page.length - 1][0]}`;
    }
  }

  private drop(sub: Subscriber): void {
    sub.closed = true;
    if (sub.timer) clearInterval(sub.timer);
    this.subscribers.delete(sub);
  }
}
