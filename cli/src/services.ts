import { type Logger, type RunningServer, type Store, type TokenRegistry } from '@datamancy/core';
import { startBrowserService } from '@datamancy/browser';
import { DockerEngine, resolveEndpoint } from '@datamancy/container-engine';
import { startDockerProxy } from '@datamancy/docker-proxy';
import { startModelRouter } from '@datamancy/model-router';
import { startProbeService } from '@datamancy/probe';
import { startSpeechGateway } from '@datamancy/speech-gateway';
import { createEngine, discoverStack } from '@datamancy/stack-discovery';
import { startToolServer, type ToolServerConfig } from '@datamancy/tool-server';
import type { DatamancyConfig } from './config.ts';
import type { ServiceTokens } from './service-tokens.ts';

export interface ServiceRuntime {
  config: DatamancyConfig;
  logger: Logger;
  tokens: TokenRegistry;
  store: Store;
  /** URLs of the services this process already started, by name. */
  urls: Readonly<Record<string, string>>;
  /** Least-scope tokens for the calls between them (never the admin token). */
  serviceTokens: ServiceTokens;
}

export interface ServiceSpec {
  name: string;
  defaultPort: number;
  description: string;
  /** Started only when named (`serve docker-proxy`), never by a plain `serve`. */
  explicitOnly?: boolean;
  /** Checks no token and keeps no state: run alone, it gets no admin token and no store. */
  stateless?: boolean;
  start(rt: ServiceRuntime): Promise<{ server: RunningServer; close(): Promise<void> }>;
}

/**
 * Points the browser tools at the browser service this process runs, with the token made for
 * that call, unless a browser URL is configured (then only a configured token goes there).
 */
function withBrowser(
  config: ToolServerConfig,
  url: string | undefined,
  token: string,
): ToolServerConfig {
  const browser = (config.plugins.browser ?? {}) as { url?: string; token?: string };
  if (url === undefined || browser.url !== undefined) return config;
  return {
    ...config,
    plugins: { ...config.plugins, browser: { ...browser, url, token: browser.token ?? token } },
  };
}

/** Every service `datamancy serve` can run, in start order (the browser before its users). */
export const SERVICES: readonly ServiceSpec[] = [
  {
    name: 'browser',
    defaultPort: 3000,
    description: 'headless Chromium: screenshots, DOM, accessibility snapshots, SSO login',
    start: (rt) =>
      startBrowserService({
        common: rt.config,
        config: rt.config.browser,
        logger: rt.logger,
        tokens: rt.tokens,
      }),
  },
  {
    name: 'tool-server',
    defaultPort: 8081,
    description: 'agent tools: OpenAI functions, MCP, chat proxy',
    start: (rt) =>
      startToolServer({
        common: rt.config,
        config: withBrowser(
          rt.config.toolServer,
          rt.urls.browser,
          rt.serviceTokens.toolServerToBrowser,
        ),
        logger: rt.logger,
        tokens: rt.tokens,
        store: rt.store,
      }),
  },
  {
    name: 'model-router',
    defaultPort: 8010,
    description:
      'keeps the configured models resident in GPU memory; OpenAI-compatible (none by default)',
    start: (rt) =>
      startModelRouter({
        common: rt.config,
        config: rt.config.modelRouter,
        logger: rt.logger,
        tokens: rt.tokens,
        // container backends start and stop their containers through the engine
        containers: () =>
          new DockerEngine(
            resolveEndpoint(rt.config.containerEngine.host, rt.config.containerEngine.runtimeDir),
          ),
      }),
  },
  {
    name: 'speech-gateway',
    defaultPort: 8091,
    description:
      'OpenAI-compatible speech-to-text and text-to-speech (local espeak-ng and pocketsphinx by default)',
    start: (rt) =>
      startSpeechGateway({
        common: rt.config,
        config: rt.config.speechGateway,
        logger: rt.logger,
        tokens: rt.tokens,
      }),
  },
  {
    name: 'probe',
    defaultPort: 8089,
    description: 'monitoring: checks, verdicts with evidence, history, dashboard at /',
    start: (rt) =>
      startProbeService({
        common: rt.config,
        config: rt.config.probe,
        logger: rt.logger,
        tokens: rt.tokens,
        store: rt.store,
        // Without a manifest it watches the services this process runs, and calls the
        // browser service and tool server here with tokens of their own (unless configured).
        selfServices: rt.urls,
        serviceTokens: {
          toolServer: rt.serviceTokens.probeToToolServer,
          browser: rt.serviceTokens.probeToBrowser,
        },
        // ...and what the local container engine runs, if one answers.
        discover: async (signal) => {
          const { containerEngine, domain } = rt.config;
          const result = await discoverStack({
            engine: createEngine(containerEngine.host, containerEngine.runtimeDir),
            onEngineError: 'warn',
            domain,
            signal,
          });
          return { services: result.manifest.services, warnings: result.warnings };
        },
      }),
  },
  {
    name: 'docker-proxy',
    defaultPort: 2375,
    description:
      'allowlisting Docker Engine API proxy in front of the engine socket (only when named: it exposes the engine)',
    explicitOnly: true,
    stateless: true,
    start: (rt) =>
      startDockerProxy({
        config: rt.config.dockerProxy,
        defaultHost: rt.config.host,
        logger: rt.logger,
      }),
  },
];

/** What a plain `datamancy serve` starts: every service not marked explicitOnly. */
export const DEFAULT_SERVICES: readonly ServiceSpec[] = SERVICES.filter(
  (s) => s.explicitOnly !== true,
);

export function findService(name: string): ServiceSpec | undefined {
  return SERVICES.find((s) => s.name === name);
}
