// serveWatch when the client goes away while the watch is still being set up:
// nothing is left open, no headers are written to a closed response, and no
// timeoutSeconds timer is left behind (a leaked one kept a test process, and a
// server, alive for minutes). The last test shows the timer this looks for does
// exist while a watch runs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHook } from 'node:async_hooks';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serveWatch, type ActiveWatch } from '../../src/api/watch-stream.ts';
import { parseFilter } from '../../src/api/registry.ts';
import { resourceFor } from '../../src/core/resources.ts';
import type { Store } from '../../src/store/types.ts';

const TIMEOUT_S = 600;

interface Harness {
  store: Store;
  /** Settles when the store call named by `gate` has begun; it then waits for release(). */
  reached: Promise<void>;
  release(): void;
  opened: () => number;
  closed: () => number;
}

function gatedStore(gate: 'list' | 'watch' | 'none'): Harness {
  let release!: () => void;
  const gateOpen = gate === 'none' ? Promise.resolve() : new Promise<void>((resolve) => (release = resolve));
  if (gate === 'none') release = () => undefined;
  let reach!: () => void;
  const reached = new Promise<void>((resolve) => (reach = resolve));
  let opened = 0;
  let closed = 0;
  const store = {
    async list() {
      if (gate === 'list') reach();
      await (gate === 'list' ? gateOpen : undefined);
      return { items: [], resourceVersion: '7' };
    },
    async watch() {
      opened++;
      if (gate === 'watch') reach();
      await (gate === 'watch' ? gateOpen : undefined);
      return { close: () => void closed++ };
    },
    async currentResourceVersion() {
      return '7';
    },
  } as unknown as Store;
  return { store, reached, release, opened: () => opened, closed: () => closed };
}

/** Serves one watch (timeoutSeconds=600) from the store; counts pending timers of that length. */
async function withWatchServer(store: Store, body: (port: number, active: () => Promise<ActiveWatch>, closedRes: Promise<void>, pendingTimers: Set<number>) => Promise<void>): Promise<void> {
  const info = resourceFor('', 'v1', 'pods');
  assert.ok(info);
  const pendingTimers = new Set<number>();
  const hook = createHook({
    init(id, type, _trigger, resource) {
      if (type === 'Timeout' && (resource as { _idleTimeout?: number })._idleTimeout === TIMEOUT_S * 1000) pendingTimers.add(id);
    },
    destroy(id) {
      pendingTimers.delete(id);
    },
  }).enable();
  let active: Promise<ActiveWatch> | undefined;
  let resClosed!: () => void;
  const closedRes = new Promise<void>((resolve) => (resClosed = resolve));
  const server = createServer((_req, res) => {
    res.once('close', resClosed);
    active = serveWatch(store, {
      info,
      gr: 'pods',
      namespace: 'default',
      filter: parseFilter(info, new URLSearchParams()),
      resourceVersion: '',
      allowBookmarks: false,
      bookmarkIntervalMs: 0,
      timeoutSeconds: TIMEOUT_S,
      encode: (o) => o,
    }, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    await body((server.address() as AddressInfo).port, () => active ?? Promise.reject(new Error('no watch served')), closedRes, pendingTimers);
  } finally {
    hook.disable();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

for (const gate of ['list', 'watch'] as const) {
  test(`a watch abandoned while its ${gate} is pending ends cleanly and leaves no timer`, async () => {
    const h = gatedStore(gate);
    await withWatchServer(h.store, async (port, active, closedRes, pendingTimers) => {
      const req = request({ host: '127.0.0.1', port, path: '/api/v1/namespaces/default/pods?watch=1' });
      req.on('error', () => undefined);
      req.end();
      await h.reached;
      req.destroy();
      await closedRes;
      h.release();
      const watch = await active();
      await watch.done;
      for (let i = 0; i < 20 && pendingTimers.size > 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));
      assert.equal(h.closed(), h.opened(), 'every store watch opened is closed');
      if (gate === 'watch') assert.equal(h.opened(), 1);
      assert.equal(pendingTimers.size, 0, 'no timeoutSeconds timer is pending');
    });
  });
}

test('a watch that stays open arms its timeoutSeconds timer, and closing it clears the timer', async () => {
  const h = gatedStore('none');
  await withWatchServer(h.store, async (port, active, _closedRes, pendingTimers) => {
    await new Promise<void>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: '/api/v1/namespaces/default/pods?watch=1' }, (res) => {
        res.resume();
        resolve();
      });
      req.on('error', reject);
      req.end();
    });
    const watch = await active();
    assert.equal(pendingTimers.size, 1);
    watch.close();
    await watch.done;
    // async_hooks reports a cleared timer's destroy a little later.
    for (let i = 0; i < 100 && pendingTimers.size > 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    assert.equal(pendingTimers.size, 0);
    assert.equal(h.closed(), 1);
  });
});
