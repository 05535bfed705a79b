import { execFile } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { BrowserClient, ToolServerClient } from '@datamancy/clients';
import {
  isEntryModule,
  COMMON_ENV_BINDINGS,
  CommonConfigSchema,
  createSsrfGuard,
  OpenAiUpstream,
  listen,
  runStandalone,
  stackAllowHosts,
  type CommonConfig,
  type Logger,
  type RunningServer,
  type Store,
  type TokenRegistry,
} from '@datamancy/core';
import { createInvestigator } from './agent/investigator.ts';
import { createApp } from './app.ts';
import { HealEngine, type ToolCaller } from './heal/engine.ts';
import { createSender } from './heal/notify.ts';
import { HealStore } from './heal/store.ts';
import { createAttemptRunner } from './checks/dispatch.ts';
import { RestartHistory, type InspectedContainer } from './checks/container.ts';
import { ProbeHttp } from './checks/http.ts';
import { tesseractOcr, type Ocr } from './checks/ocr.ts';
import { ProofStore } from './checks/proofs.ts';
import type { AttemptRunner } from './checks/run.ts';
import { PROBE_ENV_BINDINGS, ProbeConfigSchema, type ProbeConfig } from './config.ts';
import { createDashboardAuth } from './http/session.ts';
import { expandManifest, loadManifestFile } from './manifest/expand.ts';
import type { Manifest, ManifestInput } from './manifest/schema.ts';
import { Orchestrator, type Investigate, type RoundReport } from './runtime/orchestrator.ts';
import { Scheduler } from './runtime/scheduler.ts';
import { ProbeRepository } from './store/repo.ts';
import { SessionStore } from './store/sessions.ts';

export interface StartProbeServiceOptions {
  common: CommonConfig;
  config: ProbeConfig;
  logger: Logger;
  tokens: TokenRegistry;
  store: Store;
  /** Control-plane services this process runs (name → base URL), watched without a manifest. */
  selfServices?: Readonly<Record<string, string>>;
  /**
   * Tokens for the tool server and browser service this process runs (`selfServices`), used
   * when the config names no token. Never sent to a configured URL: a service elsewhere gets
   * the configured token or none.
   */
  serviceTokens?: { toolServer?: string | undefined; browser?: string | undefined };
  /** A manifest given directly (tests, `serve` with discovery); beats `manifestPath`. */
  manifest?: Manifest;
  /** OCR for browser checks; default: tesseract when installed. `null`: none. */
  ocr?: Ocr | null;
  investigate?: Investigate;
  /** Finds the running stack's services when no manifest is configured (`serve` passes one). */
  discover?: (signal: AbortSignal) => Promise<Discovered>;
  /** Start the schedule (default true); tests drive rounds by hand. */
  schedule?: boolean;
}

export interface RunningProbeService {
  server: RunningServer;
  heal: HealEngine;
  healStore: HealStore;
  orchestrator: Orchestrator;
  scheduler: Scheduler;
  repo: ProbeRepository;
  proofs: ProofStore;
  close(): Promise<void>;
}

/** The control plane's own services, watched by `/healthz`. */
export function selfServices(
  services: Readonly<Record<string, string>>,
): ManifestInput['services'] {
  return Object.entries(services).map(([name, url]) => ({
    name,
    group: 'control plane',
    description: `Datamancy ${name}`,
    checks: [
      {
        kind: 'http',
        name: 'healthz',
        url: `${url.replace(/\/+$/, '')}/healthz`,
        expectStatus: [200],
        json: { path: 'status', equals: 'ok' },
        latencyBudgetMs: 1000,
      },
    ],
  }));
}

/** The manifest used when none is configured: the control plane's own services. */
export function selfManifest(
  services: Readonly<Record<string, string>>,
  intervalS: number,
  domain: string,
): Manifest {
  return expandManifest(
    { services: selfServices(services) },
    { domain, defaultIntervalS: intervalS },
  );
}

/** What a discovery of the running stack found (see `@datamancy/stack-discovery`). */
export interface Discovered {
  services: readonly unknown[];
  warnings: readonly string[];
}

/** Longest a start-up discovery may take before the probe starts without it. */
export const DISCOVERY_TIMEOUT_MS = 10_000;

/**
 * Without a manifest: the control plane's own services plus what `discover` finds (the live
 * container engine, when `probe.discover` is on). A discovery that fails or produces an
 * invalid manifest is logged and left out; the probe starts anyway.
 */
async function defaultManifest(
  options: StartProbeServiceOptions,
  logger: Logger,
): Promise<{ manifest: Manifest; source: string }> {
  const { config, common } = options;
  const expand = { domain: common.domain, defaultIntervalS: config.intervalS };
  const own = selfServices(options.selfServices ?? {});
  if (!config.discover || options.discover === undefined) {
    return { manifest: expandManifest({ services: own }, expand), source: 'self' };
  }
  try {
    const found = await options.discover(AbortSignal.timeout(DISCOVERY_TIMEOUT_MS));
    for (const warning of found.warnings) logger.warn({ warning }, 'discovery');
    const taken = new Set(own.map((s) => s.name));
    const services = [
      ...own,
      ...(found.services as ManifestInput['services']).filter((s) => !taken.has(s.name)),
    ];
    const manifest = expandManifest({ services }, expand);
    return { manifest, source: `self + discovered (${services.length - own.length})` };
  } catch (err) {
    logger.warn({ err }, 'discovery failed: watching the control plane only');
    return { manifest: expandManifest({ services: own }, expand), source: 'self' };
  }
}

/** Every host the manifest's checks name, so the SSRF guard lets the probe reach them. */
export function manifestHosts(manifest: Manifest): string[] {
  const hosts = new Set<string>();
  for (const service of manifest.services) {
    for (const check of service.checks) {
      if ('url' in check) hosts.add(new URL(check.url).hostname.replace(/^\[|\]$/g, ''));
      else if (check.kind === 'tcp') hosts.add(check.host);
    }
  }
  return [...hosts];
}

function tesseractInstalled(binary: string): Promise<boolean> {
  return new Promise((resolve) => {
    execFile(binary, ['--version'], { timeout: 5000 }, (err) => resolve(err === null));
  });
}

export async function startProbeService(
  options: StartProbeServiceOptions,
): Promise<RunningProbeService> {
  const { config, common } = options;
  const logger = options.logger.child({ service: 'probe' });
  let manifest: Manifest;
  let source: string;
  if (options.manifest !== undefined) {
    manifest = options.manifest;
    source = 'given';
  } else if (config.manifestPath !== undefined) {
    manifest = loadManifestFile(config.manifestPath, {
      domain: common.domain,
      defaultIntervalS: config.intervalS,
    });
    source = config.manifestPath;
  } else {
    ({ manifest, source } = await defaultManifest(options, logger));
  }
  logger.info({ services: manifest.services.length, source }, 'probe manifest loaded');

  const guard = createSsrfGuard({
    allowHosts: stackAllowHosts(common.domain, [...config.allowHosts, ...manifestHosts(manifest)]),
  });
  const http = new ProbeHttp(guard, config.concurrency.http);
  const proofs = new ProofStore(config.proofsDir ?? join(common.dataDir, 'proofs'));
  const browserUrl = config.browser.url ?? options.selfServices?.browser;
  const toolUrl = config.toolServer.url ?? options.selfServices?.['tool-server'];
  const browserToken =
    config.browser.token ??
    (config.browser.url === undefined ? options.serviceTokens?.browser : undefined);
  const toolToken =
    config.toolServer.token ??
    (config.toolServer.url === undefined ? options.serviceTokens?.toolServer : undefined);
  let ocr: Ocr | undefined;
  if (options.ocr !== undefined) ocr = options.ocr ?? undefined;
  else if (config.ocr.enabled && (await tesseractInstalled(config.ocr.binary))) {
    ocr = tesseractOcr(config.ocr.binary, config.ocr.language);
  } else if (config.ocr.enabled) {
    logger.warn(
      { binary: config.ocr.binary },
      'tesseract not found: browser checks with ocr: true will say OCR is unavailable',
    );
  }
  const browser =
    browserUrl === undefined
      ? undefined
      : {
          browser: new BrowserClient({
            baseUrl: browserUrl,
            token: browserToken,
            timeoutMs: 120_000,
          }),
          proofs,
          ocr,
        };
  const tools =
    toolUrl === undefined
      ? undefined
      : new ToolServerClient({
          baseUrl: toolUrl,
          token: toolToken,
          timeoutMs: 60_000,
        });
  const inspect =
    tools === undefined
      ? undefined
      : async (name: string, signal: AbortSignal): Promise<InspectedContainer> =>
          (await tools.callTool<InspectedContainer>('docker_inspect', { container: name }, signal))
            .result;

  let investigate = options.investigate;
  if (investigate === undefined && config.agent.enabled) {
    if (common.llm.baseUrl === undefined) {
      logger.warn(
        'probe.agent.enabled is set but llm.baseUrl (LLM_BASE_URL) is not: the rules judge alone',
      );
    } else {
      investigate = createInvestigator({
        llm: new OpenAiUpstream({
          baseUrl: common.llm.baseUrl,
          apiKey: common.llm.apiKey,
          timeoutMs: common.llm.timeoutMs,
        }),
        model: common.llm.model,
        maxSteps: common.llm.maxSteps,
        maxEvidenceChars: config.agent.maxEvidenceChars,
        tools,
        logger,
      });
      logger.info(
        { model: common.llm.model },
        'probe: LLM investigator on (verdicts recorded beside the rules)',
      );
    }
  }

  const repo = new ProbeRepository(options.store);
  await repo.migrate();
  const healStore = new HealStore(options.store);
  await healStore.migrate();
  const sessions = new SessionStore(options.store);
  await sessions.migrate();
  const pruneSessions = (): Promise<number> =>
    sessions.prune((name, digest) => options.tokens.lookup(name, digest) !== undefined);
  // Sessions of tokens removed or rotated while the probe was down end now.
  await pruneSessions();
  // The HMAC key of the former stateless cookies: nothing reads it any more.
  await rm(join(common.dataDir, 'probe-session.key'), { force: true });
  // Metrics hooks, bound once the app (and its registry) exists.
  const hooks: {
    onRound?: (report: RoundReport) => void;
    onCheck?: (kind: string, status: string) => void;
    heal?: (report: RoundReport) => void;
  } = {};
  const dispatch = createAttemptRunner({
    http,
    guard,
    browser,
    inspect,
    restarts: new RestartHistory(),
  });
  const runAttempt: AttemptRunner = async (check, signal) => {
    const attempt = await dispatch(check, signal);
    hooks.onCheck?.(check.kind, attempt.status);
    return attempt;
  };
  const orchestrator = new Orchestrator({
    repo,
    runAttempt,
    limits: {
      global: config.concurrency.global,
      perKind: {
        http: config.concurrency.http,
        tcp: config.concurrency.tcp,
        browser: config.concurrency.browser,
        container: config.concurrency.container,
        ai: config.concurrency.ai,
      },
    },
    logger,
    investigate,
    onRound: (report) => {
      hooks.onRound?.(report);
      hooks.heal?.(report);
    },
  });
  await orchestrator.init(manifest);
  const callTool: ToolCaller | undefined =
    tools === undefined
      ? undefined
      : async (name, args, signal) => (await tools.callTool(name, args, signal)).result;
  const heal = new HealEngine({
    store: healStore,
    orchestrator,
    config: config.heal,
    tools: callTool,
    send: createSender(config.heal.notify, logger),
    logger: logger.child({ component: 'heal' }),
  });
  await heal.resume();
  const scheduler = new Scheduler(orchestrator, {
    jitter: config.jitter,
    startupSpreadS: config.startupSpreadS,
    logger,
  });

  const auth = createDashboardAuth({
    sessions,
    tokens: options.tokens,
    sessionHours: config.dashboard.sessionHours,
    trustedProxies: config.dashboard.trustedProxies,
    adminGroups: config.dashboard.adminGroups,
  });
  const built = createApp({
    logger,
    tokens: options.tokens,
    orchestrator,
    scheduler,
    repo,
    proofs,
    runAttempt,
    guard,
    browserAvailable: browser !== undefined,
    heal,
    healStore,
    auth,
    sessions,
    health: () => ({ scheduled: options.schedule !== false }),
  });
  hooks.onRound = built.metrics.onRound;
  hooks.heal = (report) => heal.onRound(report);
  hooks.onCheck = built.metrics.onCheck;

  // Retention: raw results become hourly rollups after rawDays; everything goes after keepDays.
  const retention = async (): Promise<void> => {
    const now = Date.now();
    const { folded, orphanProofs } = await repo.applyRetention(
      now - config.retention.rawDays * 86_400_000,
      now - config.retention.keepDays * 86_400_000,
    );
    for (const name of orphanProofs) {
      const path = proofs.pathOf(name);
      if (path !== undefined) await rm(path, { force: true });
    }
    if (folded > 0)
      logger.info({ folded, proofsRemoved: orphanProofs.length }, 'probe retention applied');
    const ended = await pruneSessions();
    if (ended > 0) logger.info({ ended }, 'expired or revoked dashboard sessions removed');
  };
  const retentionTimer = setInterval(
    () => void retention().catch((err: unknown) => logger.error({ err }, 'retention failed')),
    3_600_000,
  );
  retentionTimer.unref();
  const approvalTimer = setInterval(
    () =>
      void heal
        .expireApprovals()
        .catch((err: unknown) => logger.error({ err }, 'approval expiry failed')),
    60_000,
  );
  approvalTimer.unref();

  const server = await listen(built.app, {
    host: config.host ?? common.host,
    port: config.port,
    logger,
    name: 'probe',
  });
  if (options.schedule !== false) scheduler.start();
  return {
    server,
    heal,
    healStore,
    orchestrator,
    scheduler,
    repo,
    proofs,
    close: async () => {
      clearInterval(retentionTimer);
      clearInterval(approvalTimer);
      await scheduler.stop();
      await heal.close();
      await server.close();
      await repo.flush();
      http.close();
    },
  };
}

/** Standalone entry: `tsx services/probe/src/main.ts` (the CLI's `serve probe` is the usual way). */
async function main(): Promise<void> {
  await runStandalone({
    schema: CommonConfigSchema.extend({ probe: ProbeConfigSchema.prefault({}) }),
    bindings: [...COMMON_ENV_BINDINGS, ...PROBE_ENV_BINDINGS],
    env: process.env,
    needsStore: true,
    start: ({ config, logger, tokens, store }) => {
      if (store === undefined) throw new Error('the probe needs a store');
      return startProbeService({ common: config, config: config.probe, logger, tokens, store });
    },
  });
}

if (isEntryModule(import.meta.url)) {
  await main();
}
