import { stringify } from 'yaml';
import { GENERATED_HEADER } from './render.ts';
import type { AiModel, Catalog } from './schema.ts';

/**
 * LiteLLM's config.yaml: one entry per catalog model, each pointing at the catalog service
 * that serves it (the model router for chat, TEI for embeddings, the speech gateway for
 * audio); keys by `os.environ/NAME` (the renderer passes each to LiteLLM's container), the
 * master key and the spend database from `.env`.
 */

/** LiteLLM's dummy key for upstreams that want none (its OpenAI client insists on one). */
const NO_KEY = 'unused';

export function litellmApiBase(model: AiModel, catalog: Catalog): string {
  const service = catalog.services.find((s) => s.name === model.service);
  return `http://${model.service}:${String(service?.port ?? 80)}${model.apiPath}`;
}

export function renderLitellmConfig(catalog: Catalog): string {
  const document = {
    model_list: catalog.ai.models.map((m) => ({
      model_name: m.name,
      litellm_params: {
        model: `openai/${m.upstreamModel ?? m.name}`,
        api_base: litellmApiBase(m, catalog),
        api_key: m.apiKeyEnv === undefined ? NO_KEY : `os.environ/${m.apiKeyEnv}`,
      },
      model_info: { mode: m.mode },
    })),
    litellm_settings: { drop_params: true, request_timeout: 600 },
    general_settings: {
      master_key: 'os.environ/LITELLM_MASTER_KEY',
      database_url: 'os.environ/DATABASE_URL',
    },
  };
  return GENERATED_HEADER + stringify(document, { lineWidth: 0 });
}
