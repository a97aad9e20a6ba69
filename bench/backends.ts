import type { QueueBackendKind } from '../src/queues/queue-backend.ts';
import type { Figure } from './figures.ts';

/**
 * Which queue backend a section run measures, and how its figures are told apart in the report.
 * The Redis figures keep the ids they always had, so reports from before the PostgreSQL backend
 * stay comparable; the same figure on PostgreSQL gets a suffix (`sync.updates.rps@postgres`). Not
 * a dotted one: `.postgres` is already the last part of ids that mean "in the Postgres server"
 * (`intake.webhooks.cpu.postgres`), and the two would collide.
 */
export const QUEUE_BACKENDS: readonly QueueBackendKind[] = ['redis', 'postgres'];

export const BACKEND_NAME: Record<QueueBackendKind, string> = { redis: 'Redis', postgres: 'PostgreSQL' };

/** `--backends redis,postgres`; answers an error message for anything else. */
export function parseBackends(arg: string | undefined): QueueBackendKind[] | string {
  if (arg === undefined) return [...QUEUE_BACKENDS];
  const names = arg.split(',').map((s) => s.trim());
  const unknown = names.filter((n) => !QUEUE_BACKENDS.includes(n as QueueBackendKind));
  if (unknown.length || names.length === 0) return `unknown queue backend(s): ${unknown.join(', ')} (redis, postgres)`;
  // In a fixed order, so a report reads the same whichever way the flag was written.
  return QUEUE_BACKENDS.filter((b) => names.includes(b));
}

/** The id a figure has when measured on `backend`. */
export function backendId(id: string, backend: QueueBackendKind): string {
  return backend === 'redis' ? id : `${id}@${backend}`;
}

/** The section name for progress lines and the report: `sync`, or `sync (PostgreSQL queues)`. */
export function backendSection(section: string, backend: QueueBackendKind): string {
  return backend === 'redis' ? section : `${section} (${BACKEND_NAME[backend]} queues)`;
}

/**
 * A run's figures as measured on `backend`. Off Redis a figure keeps only a goal that is an
 * invariant of every backend (`allBackends`: nothing accepted is lost, no 429, the budget used);
 * the throughput and latency goals were set for Redis, and PostgreSQL is expected to be slower.
 */
export function onBackend(figures: Figure[], backend: QueueBackendKind): Figure[] {
  if (backend === 'redis') return figures;
  return figures.map((f) => ({
    ...f,
    id: backendId(f.id, backend),
    section: backendSection(f.section, backend),
    goal: f.goal?.allBackends ? f.goal : undefined,
  }));
}
