import { stringify } from 'yaml';
import { GENERATED_HEADER } from './render.ts';
import type { Catalog } from './schema.ts';

/**
 * The model router's configuration in the stack (`model-router/datamancy.yaml`, read through
 * DATAMANCY_CONFIG): each catalog model served by the router, as an always-on URL backend on
 * the stack's vLLM. Per-model process, container or sleep backends are configured here by hand
 * in a deployment that swaps models (docs/model-router.md).
 */
export function renderModelRouterConfig(catalog: Catalog): string {
  const vllm = catalog.services.find((s) => s.name === 'vllm');
  // no vLLM (the local profile): no always-on models; the router answers an empty list
  const models = (vllm === undefined ? [] : catalog.ai.models)
    .filter((m) => m.service === 'model-router')
    .map((m) => ({
      name: m.upstreamModel ?? m.name,
      aliases: m.upstreamModel === undefined || m.upstreamModel === m.name ? [] : [m.name],
      memoryGiB: 0,
      backend: { kind: 'url', url: `http://vllm:${String(vllm?.port ?? 8000)}` },
    }));
  return GENERATED_HEADER + stringify({ modelRouter: { models } }, { lineWidth: 0 });
}
