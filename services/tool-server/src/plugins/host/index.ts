import { definePlugin } from '@datamancy/plugin-sdk';
import { HostPluginConfigSchema, type HostPluginConfig, type HostPluginDeps } from './config.ts';
import { createEventsTool } from './events-tool.ts';
import { hostExecReadonly, hostInfo } from './host-tools.ts';
import { createMemoryTool } from './memory-tool.ts';
import { createReadTools } from './read-tools.ts';
import { createOutputRedactor } from './redact-output.ts';
import { createWriteTools } from './write-tools.ts';

/**
 * The control plane's hands on the machine: container engine reads, events and exit
 * classification (host.docker.inspect), lifecycle, exec and memory limits (host.docker.write,
 * mutating), and host reading (host.shell.read).
 * The plugin loads with no capability of its own; each tool is gated by its own.
 */
export function createHostPlugin(deps: HostPluginDeps) {
  return definePlugin<HostPluginConfig>({
    id: 'host',
    version: '1.0.0',
    apiVersion: 1,
    description: 'Container engine (Docker API: Docker or Podman) and read-only host information.',
    capabilities: [],
    requires: { api: '^1.0.0' },
    configSchema: HostPluginConfigSchema,
    tools: [
      ...createReadTools(deps.engine, createOutputRedactor()),
      createEventsTool(deps.engine),
      ...createWriteTools(deps.engine),
      createMemoryTool(deps.engine),
      hostInfo,
      hostExecReadonly,
    ],
  });
}
