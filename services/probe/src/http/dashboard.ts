import {
  AppError,
  hasScope,
  requireSameOrigin,
  type Identity,
  type ServiceApp,
  type ServiceContext,
  type TokenRegistry,
} from '@datamancy/core';
import type { CheckResult, Evidence } from '../checks/types.ts';
import type { ServiceState } from '../judge/state.ts';
import type { Orchestrator, RecentRound, ServiceView } from '../runtime/orchestrator.ts';
import type { ProbeRepository, TransitionRecord } from '../store/repo.ts';
import { summarize } from './api.ts';
import { html, raw, type Raw } from './html.ts';
import type { DashboardAuth } from './session.ts';

/**
 * The dashboard: server-rendered HTML, no framework, no client-side JavaScript at all (its CSP
 * allows none). `/` shows every service at a glance; `/ui/services/:name` the evidence and
 * history of one. Styles come from `/ui/dashboard.css`, never inline.
 */

export interface DashboardDeps {
  orchestrator: Orchestrator;
  repo: ProbeRepository;
  tokens: TokenRegistry;
  auth: DashboardAuth;
}

const STATE_LABEL: Record<ServiceState, string> = {
  up: 'Up',
  degraded: 'Degraded',
  down: 'Down',
  blocked: 'Blocked',
  maintenance: 'Maintenance',
  pending: 'Pending',
};

const CSS = `
:root{--bg:#0f1419;--panel:#171d24;--line:#28313b;--text:#e6e9ec;--muted:#8b96a3;--up:#2fb67c;--degraded:#e0a526;--down:#e5484d;--blocked:#9a7bd8;--maintenance:#3d8bfd;--pending:#6b7785}
*{box-sizing:border-box}body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:var(--bg);color:var(--text)}
a{color:inherit}header{display:flex;gap:16px;align-items:center;padding:14px 24px;border-bottom:1px solid var(--line);background:var(--panel);position:sticky;top:0}
header h1{font-size:16px;margin:0;font-weight:600}header nav{margin-left:auto;display:flex;gap:12px;align-items:center;color:var(--muted)}
main{padding:20px 24px;max-width:1400px;margin:0 auto}.summary{display:flex;gap:10px;flex-wrap:wrap;margin-bottom:18px}
.pill{padding:6px 12px;border-radius:999px;background:var(--panel);border:1px solid var(--line);font-weight:600}
.pill b{font-size:18px;margin-right:6px}.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(250px,1fr));gap:12px}
.card{display:block;text-decoration:none;background:var(--panel);border:1px solid var(--line);border-left:5px solid var(--pending);border-radius:8px;padding:12px;min-height:120px}
.card:hover{border-color:var(--muted)}.card h3{margin:0 0 4px;font-size:15px;display:flex;justify-content:space-between;gap:8px}
.card .meta{color:var(--muted);font-size:12px}.card img{width:100%;height:90px;object-fit:cover;object-position:top;border-radius:4px;margin-top:8px;border:1px solid var(--line)}
.s-up{border-left-color:var(--up)}.s-degraded{border-left-color:var(--degraded)}.s-down{border-left-color:var(--down)}.s-blocked{border-left-color:var(--blocked)}.s-maintenance{border-left-color:var(--maintenance)}
.badge{font-size:11px;padding:2px 8px;border-radius:999px;color:#0b0f13;font-weight:700;white-space:nowrap;background:var(--pending)}
.b-up{background:var(--up)}.b-degraded{background:var(--degraded)}.b-down{background:var(--down)}.b-blocked{background:var(--blocked)}.b-maintenance{background:var(--maintenance)}
.b-pass{background:var(--up)}.b-fail{background:var(--down)}.b-unknown{background:var(--pending)}
.spark{display:block;margin-top:6px}h2{font-size:15px;margin:24px 0 8px;color:var(--muted);text-transform:uppercase;letter-spacing:.05em}
table{width:100%;border-collapse:collapse;background:var(--panel);border:1px solid var(--line);border-radius:8px;overflow:hidden}
th,td{text-align:left;padding:8px 10px;border-bottom:1px solid var(--line);vertical-align:top}th{color:var(--muted);font-weight:600;font-size:12px}
details summary{cursor:pointer;color:var(--muted)}pre{white-space:pre-wrap;word-break:break-word;background:#0b0f13;padding:8px;border-radius:4px;max-height:300px;overflow:auto;margin:6px 0}
.evidence img{max-width:480px;width:100%;border:1px solid var(--line);border-radius:4px}.muted{color:var(--muted)}.note{background:var(--panel);border:1px solid var(--line);border-radius:8px;padding:10px 12px;margin:10px 0}
button,input{font:inherit}button{background:#2b3540;color:var(--text);border:1px solid var(--line);border-radius:6px;padding:6px 12px;cursor:pointer}button:hover{border-color:var(--muted)}
form.inline{display:inline}.brand{text-decoration:none}.title{display:flex;gap:12px;align-items:center}
.c-up{color:var(--up)}.c-degraded{color:var(--degraded)}.c-down{color:var(--down)}.c-blocked{color:var(--blocked)}.c-maintenance{color:var(--maintenance)}.login h2{margin-top:0}.login{max-width:380px;margin:12vh auto;background:var(--panel);border:1px solid var(--line);border-radius:10px;padding:24px}
.login input{width:100%;padding:8px;margin:8px 0 14px;background:#0b0f13;color:var(--text);border:1px solid var(--line);border-radius:6px}.error{color:var(--down)}
`;

export function page(
  title: string,
  body: Raw,
  options: { refreshS?: number; identity?: Identity } = {},
): string {
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width,initial-scale=1" />
        ${options.refreshS === undefined ? '' : raw(`<meta http-equiv="refresh" content="${options.refreshS}">`)}
        <title>${title} · Datamancy probe</title>
        <link rel="stylesheet" href="${STYLESHEET}" />
      </head>
      <body>
        <header>
          <h1><a href="/" class="brand">Datamancy · probe</a></h1>
          <nav>
            ${
              options.identity === undefined
                ? ''
                : html`<a href="/">Services</a> <a href="/ui/incidents">Incidents</a>
                    <span>${options.identity.name}</span>
                    <form class="inline" method="post" action="/logout">
                      <button type="submit">Log out</button>
                    </form>`
            }
          </nav>
        </header>
        <main>${body}</main>
      </body>
    </html>`.value;
}

export function ago(at: number | null, now = Date.now()): string {
  if (at === null) return 'never';
  const s = Math.max(0, Math.round((now - at) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86_400)}d ago`;
}

/** Latency sparkline of recent rounds: a line, failed rounds marked red. */
export function sparkline(rounds: readonly RecentRound[], width = 220, height = 34): Raw {
  if (rounds.length < 2)
    return html`<svg
      class="spark"
      width="${width}"
      height="${height}"
      role="img"
      aria-label="no history yet"
    ></svg>`;
  const max = Math.max(...rounds.map((r) => r.latencyMs), 1);
  const x = (i: number): number => Math.round((i / (rounds.length - 1)) * (width - 4) + 2);
  const y = (v: number): number => Math.round(height - 3 - (v / max) * (height - 8));
  const points = rounds.map((r, i) => `${x(i)},${y(r.latencyMs)}`).join(' ');
  const marks = rounds
    .map((r, i) =>
      r.outcome === 'fail' || r.outcome === 'degraded'
        ? `<circle cx="${x(i)}" cy="${y(r.latencyMs)}" r="2.5" fill="${r.outcome === 'fail' ? '#e5484d' : '#e0a526'}"/>`
        : '',
    )
    .join('');
  const last = rounds[rounds.length - 1];
  return html`<svg
    class="spark"
    width="${width}"
    height="${height}"
    viewBox="0 0 ${width} ${height}"
    role="img"
    aria-label="latency of the last ${rounds.length} rounds, latest ${Math.round(last?.latencyMs ?? 0)} ms"
  >
    <polyline fill="none" stroke="#5aa9e6" stroke-width="1.5" points="${points}" />
    ${raw(marks)}
  </svg>`;
}

function latestProof(checks: readonly CheckResult[]): string | undefined {
  return checks
    .filter((c) => c.evidence.proof !== undefined)
    .sort((a, b) => b.startedAt - a.startedAt)[0]?.evidence.proof;
}

function card(view: ServiceView, recent: readonly RecentRound[]): Raw {
  const failing = view.checks.filter((c) => c.status === 'fail' || c.status === 'degraded');
  const proof = latestProof(view.checks);
  const latency = recent[recent.length - 1]?.latencyMs;
  return html`<a class="card s-${view.state}" href="/ui/services/${encodeURIComponent(view.name)}">
    <h3>
      <span>${view.name}</span
      ><span class="badge b-${view.state}"
        >${STATE_LABEL[view.state]}${view.flapping ? ' · flapping' : ''}</span
      >
    </h3>
    <div class="meta">
      ${view.checks.length} check(s) ·
      ${latency === undefined ? 'no rounds yet' : `${Math.round(latency)} ms`} ·
      ${ago(view.lastRoundAt)}
    </div>
    ${view.blockedBy === null ? '' : html`<div class="meta">blocked by <b>${view.blockedBy}</b></div>`}
    ${failing.length === 0 ? '' : html`<div class="meta">${failing[0]?.check}: ${failing[0]?.message.slice(0, 120)}</div>`}
    ${sparkline(recent)}
    ${proof === undefined ? '' : html`<img loading="lazy" src="/proofs/${proof}" alt="latest screenshot of ${view.name}" />`}
  </a>`;
}

function evidenceBlock(e: Evidence): Raw {
  const rows: [string, Raw | string][] = [];
  if (e.url !== undefined) rows.push(['URL', e.url]);
  if (e.httpStatus !== undefined) rows.push(['HTTP status', String(e.httpStatus)]);
  if (e.finalUrl !== undefined) rows.push(['Final URL', e.finalUrl]);
  if (e.title !== undefined && e.title !== '') rows.push(['Title', e.title]);
  if (e.error !== undefined) rows.push(['Error', `${e.error.code}: ${e.error.message}`]);
  if (e.signatures !== undefined)
    rows.push([
      'Error signatures',
      e.signatures.map((s) => `${s.description}: “${s.excerpt}”`).join('\n'),
    ]);
  if (e.loginWall !== undefined) rows.push(['Login wall', e.loginWall ? 'yes' : 'no']);
  if (e.certificate !== undefined)
    rows.push([
      'Certificate',
      `${e.certificate.subject} by ${e.certificate.issuer}, valid to ${e.certificate.validTo} (${e.certificate.daysLeft} days)`,
    ]);
  if (e.container !== undefined) rows.push(['Container', JSON.stringify(e.container, null, 1)]);
  if (e.ai !== undefined) rows.push(['AI', `${e.ai.mode} · ${e.ai.model}`]);
  if (e.textExcerpt !== undefined && e.textExcerpt !== '')
    rows.push(['Text', html`<pre>${e.textExcerpt}</pre>`]);
  if (e.ocrExcerpt !== undefined && e.ocrExcerpt !== '')
    rows.push(['OCR', html`<pre>${e.ocrExcerpt}</pre>`]);
  return html`<div class="evidence">
    ${
      e.reasons.length === 0
        ? ''
        : html`<ul>
            ${e.reasons.map((r) => html`<li>${r}</li>`)}
          </ul>`
    }
    <table>
      ${rows.map(
        ([k, v]) =>
          html`<tr>
            <th>${k}</th>
            <td>${typeof v === 'string' ? html`<pre>${v}</pre>` : v}</td>
          </tr>`,
      )}
    </table>
    ${
      e.proof === undefined
        ? ''
        : html`<p>
            <a href="/proofs/${e.proof}"
              ><img src="/proofs/${e.proof}" alt="screenshot evidence"
            /></a>
          </p>`
    }
  </div>`;
}

/** `open`: failing checks show their evidence unfolded (the current checks, not history). */
function checkRow(c: CheckResult, open = false): Raw {
  return html`<tr><td><b>${c.check}</b><div class="muted">${c.kind}${c.critical ? '' : ' · non-critical'}</div></td>
<td><span class="badge b-${c.status}">${c.status}</span>${c.attempts > 1 ? html`<div class="muted">after ${c.attempts} attempts</div>` : ''}</td>
<td>${Math.round(c.latencyMs)} ms</td><td>${c.message}<div class="muted">${new Date(c.startedAt).toISOString()}</div>
<details${open && c.status === 'fail' ? raw(' open') : ''}><summary>Evidence</summary>${evidenceBlock(c.evidence)}</details></td></tr>`;
}

function transitionRow(t: TransitionRecord): Raw {
  return html`<tr>
    <td>${new Date(t.at).toISOString()}</td>
    <td>
      <span class="badge b-${t.from}">${t.from}</span> →
      <span class="badge b-${t.to}">${t.to}</span>
    </td>
    <td>${t.reason}${t.alert ? ' · alerted' : ''}</td>
  </tr>`;
}

function wantsHtml(c: ServiceContext): boolean {
  return (c.req.header('accept') ?? '').includes('text/html');
}

/** The dashboard's stylesheet (public: the login page needs it). */
export const STYLESHEET = '/ui/dashboard.css';

/** Answered without an identity. `/logout` works with an expired session too. */
export const DASHBOARD_PUBLIC_PATHS = ['/login', '/logout', STYLESHEET];

/** Unauthenticated browsers go to the login page; API clients get the 401 envelope. */
export function redirectToLogin(c: ServiceContext): Response | undefined {
  if (c.req.method !== 'GET' || !wantsHtml(c)) return undefined;
  const next = c.req.path === '/' ? '' : `?next=${encodeURIComponent(c.req.path)}`;
  return c.redirect(`/login${next}`, 302);
}

function safeNext(value: string | undefined): string {
  return value !== undefined && /^\/(?!\/)[\w\-./%]*$/.test(value) ? value : '/';
}

export function registerDashboard(app: ServiceApp, deps: DashboardDeps): void {
  const { orchestrator, repo } = deps;

  app.get('/', (c) => {
    const views = orchestrator.views();
    const summary = summarize(views.map((v) => v.state));
    const order: ServiceState[] = ['down', 'degraded', 'blocked', 'pending', 'maintenance', 'up'];
    const sorted = [...views].sort(
      (a, b) => order.indexOf(a.state) - order.indexOf(b.state) || a.name.localeCompare(b.name),
    );
    const groups = new Map<string, ServiceView[]>();
    for (const v of sorted) {
      const key = v.group ?? '';
      groups.set(key, [...(groups.get(key) ?? []), v]);
    }
    const pressure = orchestrator.pressure();
    const body = html`<div class="summary">
        <span class="pill"><b>${summary.total}</b>services</span>
        <span class="pill c-up"><b>${summary.healthy}</b>up</span>
        <span class="pill c-degraded"><b>${summary.degraded}</b>degraded</span>
        <span class="pill c-down"><b>${summary.failed}</b>down</span>
        <span class="pill c-blocked"><b>${summary.blocked}</b>blocked</span>
        <span class="pill c-maintenance"><b>${summary.maintenance}</b>maintenance</span>
        <span class="pill muted"><b>${summary.pending}</b>pending</span>
        <span class="pill muted"
          >${pressure.running} check(s) running, ${pressure.waiting} waiting</span
        >
      </div>
      ${views.length === 0 ? html`<div class="note">No services to watch yet. Point <code>SERVICES_MANIFEST_PATH</code> at a manifest, or run <code>datamancy discover</code>.</div>` : ''}
      ${[...groups].map(
        ([group, list]) =>
          html`${group === '' ? '' : html`<h2>${group}</h2>`}
            <div class="grid">${list.map((v) => card(v, orchestrator.recent(v.name)))}</div>`,
      )}`;
    return c.html(page('Overview', body, { refreshS: 15, identity: c.get('identity') }));
  });

  app.get('/ui/services/:name', async (c) => {
    const view = orchestrator.view(c.req.param('name'));
    if (view === undefined)
      throw new AppError('NOT_FOUND', `no service named "${c.req.param('name')}"`);
    await repo.flush();
    const [transitions, results] = await Promise.all([
      repo.transitions(view.name, 30),
      repo.results(view.name, { limit: 40 }),
    ]);
    const identity = c.get('identity');
    const deps = view.dependsOn.map((name) => ({
      name,
      state: orchestrator.view(name)?.state ?? 'pending',
    }));
    const body = html`<p><a href="/">← all services</a></p>
      <h1 class="title">
        ${view.name}
        <span class="badge b-${view.state}">${STATE_LABEL[view.state]}</span
        >${view.flapping ? html`<span class="badge b-degraded">flapping</span>` : ''}
      </h1>
      <p class="muted">
        ${view.description ?? ''}
        ${view.container === undefined ? '' : html`· container <code>${view.container}</code>`} ·
        every ${view.intervalS}s · ${STATE_LABEL[view.state].toLowerCase()} since
        ${new Date(view.since).toISOString()} · last round
        ${ago(view.lastRoundAt)}${view.lastOutcome === null ? '' : ` (${view.lastOutcome.replaceAll('_', ' ')})`}
      </p>
      ${
        view.blockedBy === null
          ? ''
          : html`<div class="note">
              Blocked by
              <a href="/ui/services/${encodeURIComponent(view.blockedBy)}"
                ><b>${view.blockedBy}</b></a
              >, which is down: this service is still probed but not alerted on.
            </div>`
      }
      ${view.inMaintenance ? html`<div class="note">In a maintenance window: monitored, not alerted on.</div>` : ''}
      ${deps.length === 0 ? '' : html`<p>Depends on: ${deps.map((d) => html`<a href="/ui/services/${encodeURIComponent(d.name)}">${d.name}</a> <span class="badge b-${d.state}">${d.state}</span> `)}</p>`}
      ${hasScope(identity, 'admin') ? html`<form method="post" action="/ui/services/${encodeURIComponent(view.name)}/probe"><button type="submit">Probe now</button></form>` : ''}
      <h2>Latency, last rounds</h2>
      ${sparkline(orchestrator.recent(view.name), 600, 60)}
      <h2>Checks</h2>
      <table>
        <tr>
          <th>Check</th>
          <th>Status</th>
          <th>Latency</th>
          <th>Result and evidence</th>
        </tr>
        ${view.checks.map((c) => checkRow(c, true))}
      </table>
      <h2>State history</h2>
      ${
        transitions.length === 0
          ? html`<p class="muted">No transitions yet.</p>`
          : html`<table>
              <tr>
                <th>When</th>
                <th>Change</th>
                <th>Why</th>
              </tr>
              ${transitions.map(transitionRow)}
            </table>`
      }
      <h2>Recent results</h2>
      <table>
        <tr>
          <th>Check</th>
          <th>Status</th>
          <th>Latency</th>
          <th>Result and evidence</th>
        </tr>
        ${results.map((c) => checkRow(c))}
      </table>`;
    return c.html(page(view.name, body, { identity }));
  });

  app.get(STYLESHEET, (c) => {
    c.header('content-type', 'text/css; charset=utf-8');
    c.header('cache-control', 'public, max-age=3600');
    return c.body(CSS);
  });

  // Cross-site posts of session and SSO identities are refused before this (createServiceApp).
  app.post('/ui/services/:name/probe', async (c) => {
    if (!hasScope(c.get('identity'), 'admin'))
      throw new AppError('FORBIDDEN', 'probing on demand needs the admin scope');
    const name = c.req.param('name');
    if (!orchestrator.has(name)) throw new AppError('NOT_FOUND', `no service named "${name}"`);
    await orchestrator.probeService(name, 'manual');
    return c.redirect(`/ui/services/${encodeURIComponent(name)}`, 303);
  });

  const loginPage = (error?: string, next = '/'): string =>
    page(
      'Log in',
      html`<form class="login" method="post" action="/login">
        <h2>Log in</h2>
        <p class="muted">
          Paste an API token (the admin token, or one from <code>datamancy token create</code>).
          Behind the stack's SSO you are logged in already.
        </p>
        ${error === undefined ? '' : html`<p class="error">${error}</p>`}
        <input type="hidden" name="next" value="${next}" /><label
          >Token<input
            type="password"
            name="token"
            autocomplete="current-password"
            autofocus
            required
        /></label>
        <button type="submit">Log in</button>
      </form>`,
    );

  app.get('/login', (c) => c.html(loginPage(undefined, safeNext(c.req.query('next')))));

  app.post('/login', async (c) => {
    requireSameOrigin(c); // login CSRF: another site must not sign a browser in as its token
    const form = await c.req.parseBody();
    const token = typeof form.token === 'string' ? form.token.trim() : '';
    const next = safeNext(typeof form.next === 'string' ? form.next : undefined);
    const identity = token === '' ? undefined : deps.tokens.authenticate(token);
    if (identity === undefined) {
      c.get('log').warn({ ip: c.req.header('x-forwarded-for') }, 'dashboard login refused');
      return c.html(loginPage('That token is not valid.', next), 401);
    }
    await deps.auth.login(c, token, identity);
    c.get('log').info({ caller: identity.name }, 'dashboard login');
    return c.redirect(next, 303);
  });

  app.post('/logout', async (c) => {
    requireSameOrigin(c);
    await deps.auth.logout(c);
    return c.redirect('/login', 303);
  });
}
