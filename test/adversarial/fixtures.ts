import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CAPABILITIES,
  CommonConfigSchema,
  createSilentLogger,
  generateToken,
  openSqliteStore,
  TokenRegistry,
  type Store,
} from '@datamancy/core';
import {
  expandManifest,
  ProbeConfigSchema,
  startProbeService,
  type ManifestInput,
  type RunningProbeService,
  type StartProbeServiceOptions,
} from '@datamancy/probe';
import { startToolServer, ToolServerConfigSchema } from '@datamancy/tool-server';

/** The identities an attacker may hold or forge, and the operator's. */
export const TOKENS = {
  /** The operator's admin token (a person). */
  admin: generateToken(),
  /** LiteLLM's token: an app-facing gateway that can be compromised. */
  litellm: generateToken(),
  /** A service token that (wrongly) holds admin: still never a person. */
  serviceAdmin: generateToken(),
  /** A person who may only look. */
  viewer: generateToken(),
};

export function testTokens(): TokenRegistry {
  return new TokenRegistry(TOKENS.admin, [
    {
      name: 'litellm',
      token: TOKENS.litellm,
      scopes: ['models.use', 'speech.use'],
      kind: 'service',
    },
    { name: 'rogue-service', token: TOKENS.serviceAdmin, scopes: ['admin'], kind: 'service' },
    { name: 'viewer', token: TOKENS.viewer, scopes: ['probe.read'], kind: 'person' },
  ]);
}

export interface AdversarialProbe extends RunningProbeService {
  url: string;
  store: Store;
  stop(): Promise<void>;
}

/** A probe on 127.0.0.1 with a real SQLite store and no schedule (rounds run when asked). */
export async function startProbe(
  options: {
    manifest?: ManifestInput;
    config?: Record<string, unknown>;
    tokens?: TokenRegistry;
    investigate?: StartProbeServiceOptions['investigate'];
  } = {},
): Promise<AdversarialProbe> {
  const dataDir = mkdtempSync(join(tmpdir(), 'dm-adv-probe-'));
  const store = openSqliteStore(join(dataDir, 'probe.sqlite'));
  const running = await startProbeService({
    common: CommonConfigSchema.parse({ dataDir, host: '127.0.0.1' }),
    config: ProbeConfigSchema.parse({ port: 0, startupSpreadS: 0, ...options.config }),
    logger: createSilentLogger(),
    tokens: options.tokens ?? testTokens(),
    store,
    manifest: expandManifest(options.manifest ?? { services: [] }, {
      domain: 'datamancy.test',
      defaultIntervalS: 3600,
    }),
    ocr: null,
    schedule: false,
    ...(options.investigate === undefined ? {} : { investigate: options.investigate }),
  });
  return {
    ...running,
    url: running.server.url,
    store,
    async stop() {
      await running.close();
      await store.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** An open incident with one proposal awaiting a person's approval. */
export async function seedApproval(
  probe: AdversarialProbe,
  service = 'vault',
): Promise<{ incidentId: number; proposalId: number }> {
  const now = Date.now();
  const incident = await probe.healStore.openIncident({
    service,
    fingerprint: `adversarial-${service}-${now}`,
    signature: 'crashed',
    at: now,
  });
  const proposal = await probe.healStore.addProposal({
    incidentId: incident.id,
    service,
    createdAt: now,
    action: 'restart',
    parameters: { container: service },
    confidence: 0.9,
    safety: 'needs_review',
    reasoning: 'seeded by the adversarial suite',
    finding: 'crashed',
    preview: {},
    status: 'awaiting_approval',
    decision: 'needs approval',
    expiresAt: now + 3_600_000,
  });
  return { incidentId: incident.id, proposalId: proposal.id };
}

/** What an approval attempt could have changed: the proposal, actions, patterns, windows. */
export interface HealSnapshot {
  status: string | undefined;
  decidedBy: string | null;
  actions: number;
  patterns: number;
}

export async function healSnapshot(
  probe: AdversarialProbe,
  proposalId: number,
): Promise<HealSnapshot> {
  const proposal = await probe.healStore.proposal(proposalId);
  const actions = await probe.healStore.actions({ incidentId: proposal?.incidentId ?? -1 });
  return {
    status: proposal?.status,
    decidedBy: proposal?.decidedBy ?? null,
    actions: actions.length,
    patterns: (await probe.healStore.patterns()).length,
  };
}

export interface AdversarialTools {
  url: string;
  stop(): Promise<void>;
}

/** The real tool server on 127.0.0.1, optionally on a container engine and with every capability. */
export async function startTools(
  options: { engineHost?: string; allCaps?: boolean; tokens?: TokenRegistry } = {},
): Promise<AdversarialTools> {
  const dataDir = mkdtempSync(join(tmpdir(), 'dm-adv-tools-'));
  const store = openSqliteStore(join(dataDir, 'tools.sqlite'));
  const running = await startToolServer({
    common: CommonConfigSchema.parse({
      dataDir,
      ...(options.engineHost === undefined
        ? {}
        : { containerEngine: { host: options.engineHost } }),
    }),
    config: ToolServerConfigSchema.parse({
      host: '127.0.0.1',
      port: 0,
      ...(options.allCaps === true ? { allowCaps: [...CAPABILITIES] } : {}),
    }),
    logger: createSilentLogger(),
    tokens: options.tokens ?? new TokenRegistry(TOKENS.admin),
    store,
  });
  return {
    url: running.server.url,
    async stop() {
      await running.close();
      await store.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
