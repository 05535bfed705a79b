/** The self-healing loop's vocabulary: incidents, findings, proposals, actions, patterns. */

export const ACTIONS = [
  'restart',
  'start',
  'wait_for_health',
  'restart_dependents',
  'exec',
  'scale_memory',
  'config_change',
  'recreate',
  'data_migration',
  'security_update',
] as const;
export type ActionKind = (typeof ACTIONS)[number];

/** Actions the control plane can carry out itself through the tool server. */
export const EXECUTABLE: ReadonlySet<ActionKind> = new Set([
  'restart',
  'start',
  'wait_for_health',
  'restart_dependents',
  'exec',
  'scale_memory',
]);

export type Safety = 'safe' | 'needs_review' | 'forbidden';

export type IncidentStage =
  'diagnosing' | 'awaiting_approval' | 'acting' | 'verifying' | 'escalated' | 'resolved';

/** What one analyzer concluded from the evidence. */
export interface Finding {
  /** e.g. `crashed`, `oom-killed`, `restart-loop`, `port-closed`, `hung`, `app-error`. */
  id: string;
  summary: string;
  confidence: number;
  /** Lines of evidence that support it. */
  evidence: string[];
  /** When set, nothing may act on the service (operator stop, unmanaged container). */
  blocksAction?: string;
}

export interface ProposalInput {
  action: ActionKind;
  parameters: Record<string, unknown>;
  confidence: number;
  reasoning: string;
  /** The finding it answers. */
  finding: string;
}

export type ProposalStatus =
  | 'awaiting_approval'
  | 'approved'
  | 'rejected'
  | 'expired'
  | 'refused'
  | 'executing'
  | 'executed'
  | 'failed'
  | 'verified'
  | 'superseded';

export interface Proposal extends ProposalInput {
  id: number;
  incidentId: number;
  service: string;
  createdAt: number;
  safety: Safety;
  /** The tool's dry-run answer: target, current state, dependents. */
  preview: unknown;
  status: ProposalStatus;
  /** Why policy decided as it did (auto, approval, refused and why). */
  decision: string;
  decidedBy: string | null;
  decidedAt: number | null;
  expiresAt: number | null;
}

export interface Incident {
  id: number;
  service: string;
  status: 'open' | 'resolved';
  stage: IncidentStage;
  fingerprint: string;
  /** The normalised log line and failing checks the fingerprint is made of. */
  signature: string;
  openedAt: number;
  updatedAt: number;
  resolvedAt: number | null;
  resolution: string | null;
  /** Dependents blocked by this incident's service. */
  dependents: string[];
  findings: Finding[];
  /** Notification kinds already sent (deduplication). */
  notified: string[];
}

export interface ActionRecord {
  id: number;
  proposalId: number;
  incidentId: number;
  service: string;
  action: ActionKind;
  parameters: Record<string, unknown>;
  status: 'started' | 'done' | 'failed' | 'interrupted';
  startedAt: number;
  finishedAt: number | null;
  before: unknown;
  after: unknown;
  error: string | null;
}

export interface TimelineEvent {
  id: number;
  incidentId: number;
  at: number;
  kind: string;
  message: string;
  detail: unknown;
}

export interface Pattern {
  fingerprint: string;
  action: ActionKind;
  approvedSuccesses: number;
  failures: number;
  autonomous: boolean;
  updatedAt: number;
}
