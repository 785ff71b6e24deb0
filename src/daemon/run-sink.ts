/**
 * Where finished runs go. The daemon's jobs hand every run to one RunSink; metrics, the
 * run history, the log of state changes (state-log.ts) and the `run` event are each a
 * sink behind it, so a job knows nothing of them and a new consumer is one more sink,
 * not one more call in every job.
 */
import type { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { RunRecord } from '../core/outcome.js';
import type { RunHistory } from '../metrics/history.js';
import type { ProbeMetrics } from '../metrics/metrics.js';
import { stateLogSink } from './state-log.js';
import type { StatusBoard } from '../status/board.js';

/** A consumer of finished runs. */
export interface RunSink {
  /** A run finished (timed out or not; a stopped run is never recorded). */
  record(run: RunRecord): void;
  /** A (target, probe) is gone, or became another type: drop everything kept of it. */
  forget(target: string, probe: string): void;
}

/** The daemon's `run` event, emitted with each recorded run. */
export type RunEvents = EventEmitter<{ run: [RunRecord] }>;

/** Counts runs into the probe's series; forgetting removes the series. */
export function metricsSink(metrics: Pick<ProbeMetrics, 'recordRun' | 'removeProbe'>): RunSink {
  return {
    record: (run) => metrics.recordRun(run),
    forget: (target, probe) => metrics.removeProbe(target, probe),
  };
}

/** Keeps runs for /api/runs and the status page; forgetting drops them. */
export function historySink(history: Pick<RunHistory, 'add' | 'remove'>): RunSink {
  return {
    record: (run) => history.add(run),
    forget: (target, probe) => history.remove(target, probe),
  };
}

/** Keeps each (target, probe)'s state, since when and last runs for the status page. */
export function statusSink(board: Pick<StatusBoard, 'record' | 'forget'>): RunSink {
  return {
    record: (run) => board.record(run),
    forget: (target, probe) => board.forget(target, probe),
  };
}

/** Tells listeners (tests, the bench) about each run; there is nothing to forget. */
export function eventSink(events: RunEvents): RunSink {
  return {
    record: (run) => void events.emit('run', run),
    forget: () => undefined,
  };
}

/** Hands each run to every sink, in order. */
export function fanOut(sinks: readonly RunSink[]): RunSink {
  return {
    record: (run) => {
      for (const sink of sinks) sink.record(run);
    },
    forget: (target, probe) => {
      for (const sink of sinks) sink.forget(target, probe);
    },
  };
}

/**
 * The daemon's sinks: metrics, history, the status board and the log of state changes
 * first, so a `run` listener finds the run in all of them.
 */
export function daemonSink(parts: { metrics: ProbeMetrics; history: RunHistory; status: StatusBoard; events: RunEvents; logger: Logger }): RunSink {
  return fanOut([metricsSink(parts.metrics), historySink(parts.history), statusSink(parts.status), stateLogSink(parts.logger), eventSink(parts.events)]);
}
