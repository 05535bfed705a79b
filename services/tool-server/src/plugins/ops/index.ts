import { definePlugin } from '@datamancy/plugin-sdk';
import { OpsPluginConfigSchema, type OpsPluginConfig } from './config.ts';
import { sshExec } from './ssh-exec.ts';

export { OpsPluginConfigSchema, OpsTargetSchema } from './config.ts';
export type { OpsPluginConfig, OpsTarget } from './config.ts';

/**
 * The control plane's hands on a host: allowlisted commands over SSH to the `stackops`
 * account, whose forced-command wrapper (stack/ops/stackops-wrapper) is the real boundary.
 * See docs/ops.md.
 */
export const opsPlugin = definePlugin<OpsPluginConfig>({
  id: 'ops',
  version: '1.0.0',
  apiVersion: 1,
  description:
    "Allowlisted commands on the stack's hosts over SSH, through a forced-command wrapper.",
  capabilities: ['host.network.ssh'],
  requires: { api: '^1.0.0' },
  configSchema: OpsPluginConfigSchema,
  unavailableReason: (config) =>
    Object.keys(config.targets).length === 0
      ? 'no SSH target configured (set toolServer.plugins.ops.targets)'
      : undefined,
  tools: [sshExec],
});
