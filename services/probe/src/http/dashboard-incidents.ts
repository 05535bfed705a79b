import {
  AppError,
  hasScope,
  type Identity,
  type ServiceApp,
  type ServiceContext,
} from '@datamancy/core';
import { mayDecide, type HealEngine } from '../heal/engine.ts';
import type { HealStore } from '../heal/store.ts';
import type { Incident, Proposal } from '../heal/types.ts';
import { ago, page } from './dashboard.ts';
import { requireDecider } from './guards.ts';
import { html, type Raw } from './html.ts';

/**
 * Dashboard pages of the healing loop: incidents with their timelines, and the fixes waiting
 * for a person, who approves or rejects them here (a person holding admin; same-origin forms,
 * as `createServiceApp` refuses cross-site posts of sessions and SSO identities).
 */

export interface IncidentPagesDeps {
  heal: HealEngine;
  healStore: HealStore;
}

const iso = (ms: number | null): string =>
  ms === null ? '–' : new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');

const STAGE_BADGE: Record<string, string> = {
  resolved: 'b-up',
  escalated: 'b-down',
  awaiting_approval: 'b-degraded',
  acting: 'b-maintenance',
  verifying: 'b-maintenance',
  diagnosing: 'b-pending',
};

/** A table with a header row, or a muted line when there are no rows. */
function listTable(headers: readonly string[], rows: readonly Raw[], empty: string): Raw {
  if (rows.length === 0) return html`<p class="muted">${empty}</p>`;
  return html`<table>
    <tr>
      ${headers.map((h) => html`<th>${h}</th>`)}
    </tr>
    ${rows}
  </table>`;
}

function incidentRow(i: Incident): Raw {
  return html`<tr>
    <td><a href="/ui/incidents/${i.id}">#${i.id}</a></td>
    <td><a href="/ui/services/${encodeURIComponent(i.service)}">${i.service}</a></td>
    <td>
      <span class="badge ${STAGE_BADGE[i.stage] ?? 'b-pending'}"
        >${i.stage.replaceAll('_', ' ')}</span
      >
    </td>
    <td>${ago(i.openedAt)}</td>
    <td>${i.resolution ?? i.findings.map((f) => f.summary).join('; ')}</td>
  </tr>`;
}

function approvalForms(p: Proposal, identity: Identity): Raw {
  if (!hasScope(identity, 'admin')) return html`<span class="muted">an admin decides</span>`;
  if (!mayDecide(identity))
    return html`<span class="muted"
      >a person decides (${identity.name} is a service's token)</span
    >`;
  return html`<form class="inline" method="post" action="/ui/approvals/${p.id}/approve">
      <button type="submit">Approve and run</button>
    </form>
    <form class="inline" method="post" action="/ui/approvals/${p.id}/reject">
      <input name="reason" placeholder="reason" required maxlength="1000" />
      <button type="submit">Reject</button>
    </form>`;
}

function proposalRow(p: Proposal, identity: Identity): Raw {
  return html`<tr>
    <td>#${p.id}</td>
    <td><b>${p.action}</b> <span class="muted">${JSON.stringify(p.parameters)}</span></td>
    <td>
      <span
        class="badge ${p.safety === 'safe' ? 'b-up' : p.safety === 'forbidden' ? 'b-down' : 'b-degraded'}"
        >${p.safety}</span
      >
    </td>
    <td>
      ${p.status.replaceAll('_', ' ')}${p.decidedBy === null ? '' : html`<div class="muted">by ${p.decidedBy}</div>`}
    </td>
    <td>
      ${p.reasoning}
      <div class="muted">${p.decision}</div>
      ${
        p.preview === null
          ? ''
          : html`<details>
              <summary>Dry-run preview</summary>
              <pre>${JSON.stringify(p.preview, null, 1)}</pre>
            </details>`
      }
      ${p.status === 'awaiting_approval' ? html`<div>${approvalForms(p, identity)} <span class="muted">expires ${iso(p.expiresAt)}</span></div>` : ''}
    </td>
  </tr>`;
}

async function form(c: ServiceContext): Promise<Record<string, string>> {
  const body = await c.req.parseBody();
  return Object.fromEntries(
    Object.entries(body).filter((e): e is [string, string] => typeof e[1] === 'string'),
  );
}

export function registerIncidentPages(app: ServiceApp, deps: IncidentPagesDeps): void {
  const { healStore, heal } = deps;

  app.get('/ui/incidents', async (c) => {
    await heal.expireApprovals();
    const identity = c.get('identity');
    const [open, recent, pending] = await Promise.all([
      healStore.incidents({ status: 'open', limit: 200 }),
      healStore.incidents({ status: 'resolved', limit: 30 }),
      healStore.proposals({ status: 'awaiting_approval' }),
    ]);
    const body = html`<h2>Waiting for approval</h2>
      ${listTable(
        ['Proposal', 'Action', 'Safety', 'Status', 'Why'],
        pending.map(
          (p) =>
            html`${proposalRow(p, identity)}
              <tr>
                <td></td>
                <td colspan="4" class="muted">
                  incident <a href="/ui/incidents/${p.incidentId}">#${p.incidentId}</a> on
                  ${p.service}
                </td>
              </tr>`,
        ),
        'Nothing waits for a person.',
      )}
      <h2>Open incidents</h2>
      ${listTable(['Incident', 'Service', 'Stage', 'Opened', 'Findings'], open.map(incidentRow), 'None.')}
      <h2>Recently resolved</h2>
      ${listTable(['Incident', 'Service', 'Stage', 'Opened', 'Resolution'], recent.map(incidentRow), 'None yet.')}`;
    return c.html(page('Incidents', body, { refreshS: 15, identity }));
  });

  app.get('/ui/incidents/:id', async (c) => {
    const id = Number(c.req.param('id'));
    const incident = Number.isInteger(id) ? await healStore.incident(id) : undefined;
    if (incident === undefined) throw new AppError('NOT_FOUND', `no incident ${c.req.param('id')}`);
    const identity = c.get('identity');
    const [timeline, proposals, actions] = await Promise.all([
      healStore.timeline(id),
      healStore.proposals({ incidentId: id }),
      healStore.actions({ incidentId: id }),
    ]);
    const body = html`<p><a href="/ui/incidents">← incidents</a></p>
      <h1>
        Incident #${incident.id}:
        <a href="/ui/services/${encodeURIComponent(incident.service)}">${incident.service}</a>
        <span class="badge ${STAGE_BADGE[incident.stage] ?? 'b-pending'}"
          >${incident.stage.replaceAll('_', ' ')}</span
        >
      </h1>
      <p class="muted">
        opened
        ${iso(incident.openedAt)}${incident.resolvedAt === null ? '' : ` · resolved ${iso(incident.resolvedAt)}: ${incident.resolution ?? ''}`}
        · fingerprint <code>${incident.fingerprint}</code> (${incident.signature})
      </p>
      ${incident.dependents.length === 0 ? '' : html`<p>Blocked dependents: ${incident.dependents.join(', ')}</p>`}
      <h2>Findings</h2>
      ${
        incident.findings.length === 0
          ? html`<p class="muted">None.</p>`
          : html`<ul>
              ${incident.findings.map((f) => html`<li><b>${f.id}</b>: ${f.summary} <span class="muted">(${Math.round(f.confidence * 100)} %)</span>${f.evidence.length === 0 ? '' : html`<pre>${f.evidence.join('\n')}</pre>`}</li>`)}
            </ul>`
      }
      <h2>Proposals</h2>
      ${listTable(
        ['Proposal', 'Action', 'Safety', 'Status', 'Why'],
        proposals.map((p) => proposalRow(p, identity)),
        'None.',
      )}
      <h2>Actions</h2>
      ${listTable(
        ['Action', 'Status', 'Started', 'Before → after'],
        actions.map(
          (a) =>
            html`<tr>
              <td>${a.action}</td>
              <td>
                ${a.status}${a.error === null ? '' : html`<div class="muted">${a.error}</div>`}
              </td>
              <td>${iso(a.startedAt)}</td>
              <td>
                <details>
                  <summary>evidence</summary>
                  <pre>${JSON.stringify({ before: a.before, after: a.after }, null, 1)}</pre>
                </details>
              </td>
            </tr>`,
        ),
        'None taken.',
      )}
      <h2>Timeline</h2>
      <table>
        <tr>
          <th>When</th>
          <th>What</th>
          <th></th>
        </tr>
        ${timeline.map(
          (e) =>
            html`<tr>
              <td>${iso(e.at)}</td>
              <td><b>${e.kind}</b></td>
              <td>
                ${e.message}${
                  e.detail === null
                    ? ''
                    : html`<details>
                        <summary>detail</summary>
                        <pre>${JSON.stringify(e.detail, null, 1)}</pre>
                      </details>`
                }
              </td>
            </tr>`,
        )}
      </table>`;
    return c.html(page(`Incident #${incident.id}`, body, { identity }));
  });

  const decideForm = (verb: 'approve' | 'reject') =>
    app.post(`/ui/approvals/:id/${verb}`, async (c) => {
      const identity = requireDecider(c, verb);
      const id = Number(c.req.param('id'));
      if (!Number.isInteger(id) || id < 1)
        throw new AppError('NOT_FOUND', `no proposal ${c.req.param('id')}`);
      const fields = await form(c);
      const proposal =
        verb === 'approve'
          ? await heal.approve(id, identity)
          : await heal.reject(
              id,
              identity,
              (fields.reason ?? '').slice(0, 1000) || 'rejected in the dashboard',
            );
      return c.redirect(`/ui/incidents/${proposal.incidentId}`, 303);
    });
  decideForm('approve');
  decideForm('reject');
}
