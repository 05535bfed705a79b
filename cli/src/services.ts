import { type Logger, type RunningServer, type Store, type TokenRegistry } from '@datamancy/core';
import { startBrowserService } from '@datamancy/browser';
import { DockerEngine, resolveEndpoint } from '@datamancy/container-engine';
import { startModelRouter } from '@datamancy/model-router';
import { startProbeService } from '@datamancy/probe';
import { startSpeechGateway } from '@datamancy/speech-gateway';
import { createEngine, discoverStack } from '@datamancy/stack-discovery';
import { startToolServer, type ToolServerConfig } from '@datamancy/tool-server';
import type { DatamancyConfig } from './config.ts';

export interface ServiceRuntime {
  config: DatamancyConfig;
  logger: Logger;
  tokens: TokenRegistry;
  store: Store;
  /** URLs of the services this process already started, by name. */
  urls: Readonly<Record<string, string>>;
}

export interface ServiceSpec {
  name: string;
  defaultPort: number;
  description: string;
  start(rt: ServiceRuntime): Promise<{ server: RunningServer; close(): Promise<void> }>;
}

/** Points the browser tools at the browser service this process runs, unless configured. */
function withBrowserUrl(config: ToolServerConfig, url: string | undefined): ToolServerConfig {
  const browser = (config.plugins.browser ?? {}) as { url?: string };
  if (url === undefined || browser.url !== undefined) return config;
  return { ...config, plugins: { ...config.plugins, browser: { ...browser, url } } };
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
        config: withBrowserUrl(rt.config.toolServer, rt.urls.browser),
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
        // browser service and tool server with the admin token (unless configured).
        selfServices: rt.urls,
        serviceToken: rt.config.auth.adminToken,
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
];

export function findService(name: string): ServiceSpec | undefined {
  return SERVICES.find((s) => s.name === name);
}
