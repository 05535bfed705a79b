import { definePlugin } from '@datamancy/plugin-sdk';
import { CorePluginConfigSchema, type CorePluginConfig } from './config.ts';
import { httpGet, tcpCheck } from './http-tools.ts';
import {
  hashSha256,
  jsonGetPath,
  normalizeWhitespace,
  nowUtcIso,
  uuidGenerate,
} from './text-tools.ts';

export const corePlugin = definePlugin<CorePluginConfig>({
  id: 'core',
  version: '1.0.0',
  apiVersion: 1,
  description:
    'HTTP and TCP reachability through the SSRF guard, plus small text and data utilities.',
  capabilities: [],
  requires: { api: '^1.0.0' },
  configSchema: CorePluginConfigSchema,
  tools: [httpGet, tcpCheck, normalizeWhitespace, uuidGenerate, nowUtcIso, jsonGetPath, hashSha256],
});
