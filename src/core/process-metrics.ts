import { collectDefaultMetrics, type Registry } from 'prom-client';

/**
 * How often prom-client's event-loop-delay monitor samples, in ms. Its default, 10 ms,
 * wakes the process 100 times a second: in an idle agent that alone was ~0.8 % of a core,
 * two thirds of its idle CPU (issue 6 §6). At 100 ms the lag metrics still show every
 * stall longer than 0.1 s; their floor (min, p50) reads 0.1 s instead of 0.01 s.
 */
export const EVENT_LOOP_MONITORING_PRECISION_MS = 100;

/** The process metrics every meshlet daemon exposes (prom-client's defaults), optionally under a name prefix. */
export function registerProcessMetrics(register: Registry, prefix?: string): void {
  collectDefaultMetrics({ register, eventLoopMonitoringPrecision: EVENT_LOOP_MONITORING_PRECISION_MS, ...(prefix ? { prefix } : {}) });
}
