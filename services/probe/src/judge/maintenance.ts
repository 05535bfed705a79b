import type { MaintenanceWindow } from '../manifest/schema.ts';

const DAY_INDEX: Record<string, number> = {
  sun: 0,
  mon: 1,
  tue: 2,
  wed: 3,
  thu: 4,
  fri: 5,
  sat: 6,
};

const minutesOf = (hhmm: string): number => {
  const [h, m] = hhmm.split(':').map(Number);
  return (h ?? 0) * 60 + (m ?? 0);
};

/**
 * Whether `now` falls in a manifest window: a one-off `start`/`end`, or a weekly `days` +
 * `from`/`to` in UTC (a `to` before `from` runs past midnight into the next day).
 */
export function inManifestWindow(window: MaintenanceWindow, now: number): boolean {
  if ('start' in window) return now >= Date.parse(window.start) && now < Date.parse(window.end);
  const date = new Date(now);
  const minute = date.getUTCHours() * 60 + date.getUTCMinutes();
  const from = minutesOf(window.from);
  const to = minutesOf(window.to);
  const today = date.getUTCDay();
  const yesterday = (today + 6) % 7;
  const days = new Set(window.days.map((d) => DAY_INDEX[d]));
  if (from < to) return days.has(today) && minute >= from && minute < to;
  // Overnight: from `from` on a listed day until `to` on the next.
  return (days.has(today) && minute >= from) || (days.has(yesterday) && minute < to);
}
