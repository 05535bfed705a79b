import type { Logger } from '@datamancy/core';
import type { HealConfig } from './policy.ts';
import type { Incident } from './types.ts';

/**
 * Notifications: only when a person is needed (approval, automation failed, circuit breaker
 * open) and a resolution message afterwards. One of each kind per incident.
 */

export type NotificationKind =
  'approval_needed' | 'automation_failed' | 'circuit_open' | 'resolved';

export interface Notification {
  kind: NotificationKind;
  incidentId: number;
  service: string;
  message: string;
  at: string;
  /** Where to look: the incident's dashboard page, when the public URL is known. */
  link?: string;
}

export type Send = (n: Notification) => Promise<void>;

const TITLES: Record<NotificationKind, string> = {
  approval_needed: 'Approval needed',
  automation_failed: 'Automatic repair failed',
  circuit_open: 'Repairs stopped (circuit breaker)',
  resolved: 'Resolved',
};

/** Webhook (JSON body) and ntfy senders from the config; none configured: a no-op. */
export function createSender(
  config: HealConfig['notify'],
  logger: Logger,
  timeoutMs = 10_000,
): Send {
  const targets: ((n: Notification) => Promise<Response>)[] = [];
  if (config.webhookUrl !== undefined) {
    const url = config.webhookUrl;
    targets.push((n) =>
      fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'datamancy-probe' },
        body: JSON.stringify({ source: 'datamancy', title: TITLES[n.kind], ...n }),
        signal: AbortSignal.timeout(timeoutMs),
      }),
    );
  }
  if (config.ntfy !== undefined) {
    const { url, topic, token } = config.ntfy;
    targets.push((n) =>
      fetch(`${url.replace(/\/+$/, '')}/${topic}`, {
        method: 'POST',
        headers: {
          title: `${TITLES[n.kind]}: ${n.service}`,
          tags: n.kind === 'resolved' ? 'white_check_mark' : 'warning',
          priority: n.kind === 'resolved' ? '3' : '4',
          ...(n.link === undefined ? {} : { click: n.link }),
          ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
        },
        body: n.message,
        signal: AbortSignal.timeout(timeoutMs),
      }),
    );
  }
  return async (n) => {
    await Promise.all(
      targets.map(async (send) => {
        try {
          const res = await send(n);
          if (!res.ok) logger.warn({ kind: n.kind, status: res.status }, 'notification refused');
        } catch (err) {
          logger.warn({ err, kind: n.kind }, 'notification not delivered');
        }
      }),
    );
  };
}

/**
 * Whether to send `kind` for this incident: each kind once; `resolved` only when something
 * was sent before (nobody needs to hear of an outage they were never told about).
 */
export function shouldNotify(
  incident: Pick<Incident, 'notified'>,
  kind: NotificationKind,
): boolean {
  if (incident.notified.includes(kind)) return false;
  if (kind === 'resolved') return incident.notified.length > 0;
  return true;
}
