import { HttpClient, type ClientOptions } from './http.ts';

export type ServiceStateName = 'pending' | 'up' | 'degraded' | 'down' | 'blocked' | 'maintenance';
export type RoundOutcomeName = 'pass' | 'pass_after_retry' | 'degraded' | 'fail';

export interface CheckResultInfo {
  service: string;
  check: string;
  kind: 'http' | 'tcp' | 'browser' | 'container' | 'ai';
  critical: boolean;
  status: 'pass' | 'degraded' | 'fail' | 'unknown';
  attempts: number;
  latencyMs: number;
  startedAt: number;
  message: string;
  evidence: { reasons: string[]; proof?: string; [key: string]: unknown };
}

export interface ServiceViewInfo {
  name: string;
  description?: string;
  group?: string;
  state: ServiceStateName;
  since: number;
  blockedBy: string | null;
  flapping: boolean;
  inMaintenance: boolean;
  lastRoundAt: number | null;
  lastOutcome: RoundOutcomeName | null;
  intervalS: number;
  dependsOn: string[];
  checks: CheckResultInfo[];
}

export interface RoundReportInfo extends ServiceViewInfo {
  outcome: RoundOutcomeName | null;
  transition?: { from: ServiceStateName; to: ServiceStateName; reason: string };
  alert: boolean;
  llmVerdict?: unknown;
}

export interface ProbeSummary {
  total: number;
  healthy: number;
  degraded: number;
  failed: number;
  blocked?: number;
  maintenance?: number;
  pending?: number;
}

export interface MaintenanceWindowInfo {
  id: number;
  service: string;
  startsAt: number;
  endsAt: number;
  reason: string;
  createdBy: string;
  createdAt: number;
}

export interface IncidentInfo {
  id: number;
  service: string;
  status: 'open' | 'resolved';
  stage: string;
  fingerprint: string;
  signature: string;
  openedAt: number;
  updatedAt: number;
  resolvedAt: number | null;
  resolution: string | null;
  dependents: string[];
  findings: { id: string; summary: string; confidence: number; evidence: string[] }[];
}

export interface ProposalInfo {
  id: number;
  incidentId: number;
  service: string;
  action: string;
  parameters: Record<string, unknown>;
  confidence: number;
  safety: 'safe' | 'needs_review' | 'forbidden';
  reasoning: string;
  status: string;
  decision: string;
  decidedBy: string | null;
  expiresAt: number | null;
  preview: unknown;
}

export interface IncidentDetail {
  incident: IncidentInfo;
  timeline: { at: number; kind: string; message: string; detail: unknown }[];
  proposals: ProposalInfo[];
  actions: {
    id: number;
    action: string;
    status: string;
    startedAt: number;
    finishedAt: number | null;
    error: string | null;
  }[];
}

/** Typed client of the probe service (port 8089). */
export class ProbeClient {
  readonly http: HttpClient;
  constructor(options: ClientOptions) {
    this.http = new HttpClient(options);
  }

  services(): Promise<{ summary: ProbeSummary; services: ServiceViewInfo[] }> {
    return this.http.request('GET', '/services');
  }

  service(
    name: string,
  ): Promise<{ service: ServiceViewInfo; transitions: unknown[]; rounds: unknown[] }> {
    return this.http.request('GET', `/services/${encodeURIComponent(name)}`);
  }

  /** One round of one service now. */
  probeService(name: string, signal?: AbortSignal): Promise<RoundReportInfo> {
    return this.http.request(
      'POST',
      `/services/${encodeURIComponent(name)}/probe`,
      undefined,
      signal,
    );
  }

  stackProbe(
    services?: string[],
  ): Promise<{ id: string; summary: ProbeSummary; services: RoundReportInfo[] }> {
    return this.http.request(
      'POST',
      '/start-stack-probe',
      services === undefined ? {} : { services },
    );
  }

  startProbe(urls: string[], options: { browser?: boolean } = {}): Promise<unknown> {
    return this.http.request('POST', '/start-probe', { services: urls, ...options });
  }

  maintenance(): Promise<{ windows: MaintenanceWindowInfo[] }> {
    return this.http.request('GET', '/maintenance');
  }

  addMaintenance(input: {
    service: string;
    durationMinutes?: number;
    start?: string;
    end?: string;
    reason: string;
  }): Promise<MaintenanceWindowInfo> {
    return this.http.request('POST', '/maintenance', input);
  }

  deleteMaintenance(id: number): Promise<unknown> {
    return this.http.request('DELETE', `/maintenance/${id}`);
  }

  incidents(
    q: { status?: 'open' | 'resolved' | 'all'; service?: string; limit?: number } = {},
  ): Promise<{ incidents: IncidentInfo[] }> {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(q)) if (v !== undefined) params.set(k, String(v));
    const query = params.toString();
    return this.http.request('GET', `/incidents${query === '' ? '' : `?${query}`}`);
  }

  incident(id: number): Promise<IncidentDetail> {
    return this.http.request('GET', `/incidents/${id}`);
  }

  approvals(): Promise<{ approvals: (ProposalInfo & { incident?: IncidentInfo })[] }> {
    return this.http.request('GET', '/approvals');
  }

  approve(proposalId: number): Promise<{ proposal: ProposalInfo }> {
    return this.http.request('POST', `/approvals/${proposalId}/approve`);
  }

  reject(proposalId: number, reason: string): Promise<{ proposal: ProposalInfo }> {
    return this.http.request('POST', `/approvals/${proposalId}/reject`, { reason });
  }

  analyze(
    service: string,
  ): Promise<{ incident?: IncidentInfo; findings: unknown[]; proposals: ProposalInfo[] }> {
    return this.http.request('POST', '/analyze-and-propose-fixes', { service });
  }

  executeFix(proposalId: number): Promise<{ proposal: ProposalInfo }> {
    return this.http.request('POST', '/execute-fix', { proposalId });
  }
}
