import { definePlugin } from '@datamancy/plugin-sdk';
import { HostPluginConfigSchema, type HostPluginConfig, type HostPluginDeps } from './config.ts';
import { hostExecReadonly, hostInfo } from './host-tools.ts';
import { createReadTools } from './read-tools.ts';
import { createWriteTools } from './write-tools.ts';

/**
 * The control plane's hands on the machine: container engine reads (host.docker.inspect),
 * lifecycle and exec (host.docker.write, mutating), and host reading (host.shell.read).
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
      ...createReadTools(deps.engine),
      ...createWriteTools(deps.engine),
      hostInfo,
      hostExecReadonly,
    ],
  });
}
