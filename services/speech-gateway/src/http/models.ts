import { AppError, requestSignal, type Logger, type ServiceApp } from '@datamancy/core';
import { supportedUploads } from '../audio/prepare.ts';
import { TRANSCRIPT_FORMATS } from '../backends/types.ts';
import type { GatewayDeps } from './deps.ts';
import { speechFormats } from './speech.ts';

/** `GET /v1/models`: OpenAI's list shape, each model saying what it does and with which voices. */

const CREATED = Math.floor(Date.UTC(2024, 0, 1) / 1000);

export function registerModelRoutes(app: ServiceApp, deps: GatewayDeps): void {
  const { config, backends } = deps;

  const listModels = async (signal: AbortSignal, log: Logger) => {
    // A backend that cannot list its voices leaves the list empty, not the whole answer failed.
    const catalog = await deps.voices.catalog(signal).catch((err: unknown) => {
      log.warn({ err }, 'cannot list the voices');
      return { voices: [], detail: { voices_error: (err as Error).message } };
    });
    const stt = config.stt.models.map((id) => ({
      id,
      object: 'model' as const,
      created: CREATED,
      owned_by: 'datamancy',
      type: 'stt' as const,
      backend: backends.stt.label,
      response_formats: [...TRANSCRIPT_FORMATS],
      uploads: backends.stt.needsPcm ? supportedUploads(deps.tools) : 'as the upstream accepts',
      ...(backends.stt.languages === undefined ? {} : { languages: backends.stt.languages }),
    }));
    const tts = config.tts.models.map((id) => ({
      id,
      object: 'model' as const,
      created: CREATED,
      owned_by: 'datamancy',
      type: 'tts' as const,
      backend: backends.tts.label,
      response_formats: speechFormats(backends.tts, deps.tools.ffmpeg),
      voices: catalog.voices,
      aliases: deps.voices.aliases,
      ...catalog.detail,
    }));
    return [...stt, ...tts];
  };

  app.get('/v1/models', async (c) =>
    c.json({ object: 'list', data: await listModels(requestSignal(c), c.get('log')) }),
  );

  app.get('/v1/models/:id', async (c) => {
    const id = c.req.param('id');
    const model = (await listModels(requestSignal(c), c.get('log'))).find((m) => m.id === id);
    if (model === undefined) throw new AppError('NOT_FOUND', `no model "${id}"`);
    return c.json(model);
  });
}
