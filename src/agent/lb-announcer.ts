// The agent's layer-2 LoadBalancer announcer: keeps a small helper
// (lb-arp.py, python3 with an AF_PACKET socket; Node has no raw sockets) told
// which addresses this node answers ARP for on its underlay interface
// (announcedAddresses, from the shared Services cache). The helper sends
// gratuitous ARP for each address it takes over. It is started when the first
// address comes, restarted with back-off if it dies, and ends with the agent
// (its stdin closes), so a stopped agent stops announcing: no address is ever
// configured on the node (see DECISIONS).
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { InformerFactory } from '../client/informer-factory.ts';
import { changedIn, type Informer } from '../client/informer.ts';
import type { SlimService } from '../client/slim-objects.ts';
import type { KubeObject } from '../core/types.ts';
import { checkIfName } from '../kubelet/names.ts';
import { PYTHON } from '../kubelet/exec-plan.ts';
import { announcedAddresses, announcerProjection } from './lb-announcer-plan.ts';

export const ARP_HELPER = fileURLToPath(new URL('./lb-arp.py', import.meta.url));
const RESTART_MIN_MS = 1000;
const RESTART_MAX_MS = 30_000;

export interface LbAnnouncerOptions {
  informers: InformerFactory;
  nodeName: string;
  /** The underlay interface (the node's address is on it). */
  dev: string;
  logger: Logger;
  registry?: Registry;
}

interface HelperReport {
  ready?: boolean;
  mac?: string;
  announcing?: string[];
  garp?: string[];
  replies?: number;
}

export class LbAnnouncer {
  private readonly services: Informer;
  private readonly log: Logger;
  private child: ChildProcessWithoutNullStreams | undefined;
  private wanted: string[] = [];
  private sent: string | undefined;
  private stopped = false;
  private restartMs = RESTART_MIN_MS;
  private restartTimer: NodeJS.Timeout | undefined;
  private lastReplies = 0;
  private readonly announced: Gauge | undefined;
  private readonly garps: Counter | undefined;
  private readonly replies: Counter | undefined;
  private readonly restarts: Counter | undefined;

  constructor(private readonly opts: LbAnnouncerOptions) {
    checkIfName(opts.dev);
    this.log = opts.logger.child({ part: 'lb-announcer' });
    this.services = opts.informers.informer('services');
    if (opts.registry) {
      const registers = [opts.registry];
      this.announced = new Gauge({ name: 'meshlet_lb_announced_addresses', help: 'LoadBalancer addresses this node answers ARP for', registers });
      this.garps = new Counter({ name: 'meshlet_lb_gratuitous_arp_total', help: 'Gratuitous ARP announcements sent on taking over an address', registers });
      this.replies = new Counter({ name: 'meshlet_lb_arp_replies_total', help: 'ARP replies sent for LoadBalancer addresses (counted when the set changes)', registers });
      this.restarts = new Counter({ name: 'meshlet_lb_helper_restarts_total', help: 'Times the ARP helper had to be started again', registers });
    }
  }

  async start(): Promise<void> {
    const update = (): void => this.update();
    this.services.addHandlers({ onAdd: update, onUpdate: update, onDelete: update, relevant: changedIn((o: KubeObject) => announcerProjection(o as SlimService)) });
    this.services.start();
    await this.services.synced();
    this.update();
  }

  /** The addresses announced now (tests). */
  get addresses(): readonly string[] {
    return this.wanted;
  }

  private update(): void {
    if (this.stopped || !this.services.hasSynced()) return;
    this.wanted = announcedAddresses(this.services.list() as SlimService[], this.opts.nodeName);
    this.announced?.set(this.wanted.length);
    if (!this.child && this.wanted.length > 0 && !this.restartTimer) this.spawnHelper();
    this.send();
  }

  private send(): void {
    const line = JSON.stringify({ ips: this.wanted });
    if (!this.child || line === this.sent) return;
    this.sent = line;
    this.child.stdin.write(`${line}\n`);
  }

  private spawnHelper(): void {
    const child = spawn(PYTHON, [ARP_HELPER, this.opts.dev], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child = child;
    this.sent = undefined;
    this.lastReplies = 0;
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
    child.stdin.on('error', () => undefined); // it died: 'exit' handles it
    createInterface({ input: child.stdout }).on('line', (line) => this.onReport(line));
    child.on('error', (err) => this.log.error({ err }, 'cannot start the ARP helper'));
    child.on('exit', (code, signal) => {
      if (this.child === child) this.child = undefined;
      if (this.stopped) return;
      this.log.error({ code, signal, stderr: stderr.trim() }, 'the ARP helper exited; starting it again');
      this.restarts?.inc();
      this.restartTimer = setTimeout(() => {
        this.restartTimer = undefined;
        this.update();
      }, this.restartMs);
      this.restartMs = Math.min(this.restartMs * 2, RESTART_MAX_MS);
    });
    this.log.info({ dev: this.opts.dev, pid: child.pid }, 'ARP helper started');
  }

  private onReport(line: string): void {
    let r: HelperReport;
    try {
      r = JSON.parse(line) as HelperReport;
    } catch {
      this.log.warn({ line }, 'unreadable line from the ARP helper');
      return;
    }
    if (r.ready) {
      this.restartMs = RESTART_MIN_MS;
      this.log.info({ mac: r.mac }, 'ARP helper ready');
      this.send();
      return;
    }
    if (r.garp?.length) {
      this.garps?.inc(r.garp.length);
      this.log.info({ addresses: r.garp }, 'took over LoadBalancer addresses (gratuitous ARP sent)');
    }
    if (typeof r.replies === 'number') {
      this.replies?.inc(Math.max(0, r.replies - this.lastReplies));
      this.lastReplies = r.replies;
    }
    this.log.debug({ announcing: r.announcing }, 'announcing');
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.restartTimer);
    const child = this.child;
    if (!child) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.stdin.end(); // EOF: the helper stops answering and exits
      setTimeout(() => {
        child.kill('SIGKILL');
        resolve();
      }, 2000).unref();
    });
  }
}

/** Start the announcer; returns its stop. */
export async function startLbAnnouncer(opts: LbAnnouncerOptions): Promise<() => Promise<void>> {
  const a = new LbAnnouncer(opts);
  await a.start();
  return () => a.stop();
}
