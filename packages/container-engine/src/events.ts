import { AppError } from '@datamancy/core';
import type { ContainerEvent } from './types.ts';

/** Turns Docker Engine API event documents (Docker and Podman alike) into ContainerEvents. */

type Json = Record<string, unknown>;
const obj = (v: unknown): Json =>
  v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : {};
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const num = (v: unknown): number | undefined =>
  typeof v === 'number' && Number.isFinite(v) ? v : undefined;

const SPAN = /^(\d{1,9})(s|m|h|d)$/;
const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/;

/**
 * A point in time of an events query, in epoch milliseconds: a Date, an ISO 8601 timestamp
 * with offset, or a span back from `now` ("90s", "10m", "2h", "1d") as `docker events
 * --since 10m` reads it.
 */
export function parseEventTime(value: Date | string, now: number = Date.now()): number {
  if (value instanceof Date) {
    const ms = value.getTime();
    if (Number.isFinite(ms)) return ms;
  } else {
    const text = value.trim();
    const span = SPAN.exec(text);
    if (span?.[1] !== undefined && span[2] !== undefined)
      return now - Number(span[1]) * (UNIT_MS[span[2]] ?? 0);
    const ms = ISO.test(text) ? Date.parse(text) : NaN;
    if (Number.isFinite(ms)) return ms;
  }
  throw new AppError(
    'INVALID_ARGUMENTS',
    `not a time: ${String(value)} (give an ISO timestamp with offset, or a span such as 10m, 2h, 1d)`,
  );
}

/** Epoch milliseconds as the engine API's `seconds.fraction` timestamp. */
export function toEngineTime(ms: number): string {
  const whole = Math.floor(ms);
  return `${Math.floor(whole / 1000)}.${String(whole % 1000).padStart(3, '0')}`;
}

/** An event and its instant with sub-millisecond precision, for ordering. */
export interface TimedEvent {
  event: ContainerEvent;
  atMs: number;
}

/** From one line of `GET /events`; undefined for events that are not about a container. */
export function mapEvent(raw: Json): TimedEvent | undefined {
  const type = str(raw.Type) ?? str(raw.type) ?? 'container';
  if (type !== 'container') return undefined;
  const actor = obj(raw.Actor);
  const attributes = obj(actor.Attributes);
  // Docker writes details after a colon: "health_status: healthy", "exec_start: sh -c …".
  const full = str(raw.Action) ?? str(raw.status) ?? '';
  const colon = full.indexOf(':');
  const action = (colon < 0 ? full : full.slice(0, colon)).trim();
  const detail = colon < 0 ? undefined : full.slice(colon + 1).trim() || undefined;
  const nanos = num(raw.timeNano);
  const seconds = num(raw.time);
  if (action === '' || (nanos === undefined && seconds === undefined)) return undefined;
  const atMs = nanos === undefined ? (seconds ?? 0) * 1000 : nanos / 1e6;
  const exitCode = action === 'die' ? Number(str(attributes.exitCode) ?? NaN) : NaN;
  const signal = action === 'kill' ? str(attributes.signal) : undefined;
  const health = action === 'health_status' ? (detail ?? str(attributes.health_status)) : undefined;
  return {
    atMs,
    event: {
      time: new Date(Math.floor(atMs)).toISOString(),
      container: (str(attributes.name) ?? '').replace(/^\//, ''),
      id: str(actor.ID) ?? str(raw.id) ?? '',
      action,
      ...(Number.isInteger(exitCode) ? { exitCode } : {}),
      ...(signal === undefined ? {} : { signal }),
      ...(health === undefined ? {} : { health }),
    },
  };
}
