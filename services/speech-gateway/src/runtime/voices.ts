import type { TtsBackend, VoiceCatalog } from '../backends/types.ts';
import type { TtsConfig } from '../config.ts';
import { fieldError } from '../errors.ts';

/**
 * The voices a speech request may name: the configured list, else the backend's own (cached for
 * `ttlMs`; a failed lookup is not cached), plus the configured aliases.
 */
export class VoiceDirectory {
  readonly #config: TtsConfig;
  readonly #backend: TtsBackend;
  readonly #ttlMs: number;
  #cached: { at: number; catalog: Promise<VoiceCatalog> } | undefined;

  constructor(config: TtsConfig, backend: TtsBackend, ttlMs = 5 * 60_000) {
    this.#config = config;
    this.#backend = backend;
    this.#ttlMs = ttlMs;
  }

  get aliases(): Record<string, string> {
    return this.#config.aliases;
  }

  catalog(signal: AbortSignal): Promise<VoiceCatalog> {
    const configured = this.#config.voices;
    if (configured !== undefined) {
      return Promise.resolve({ voices: configured, accepts: (v) => configured.includes(v) });
    }
    const now = Date.now();
    if (this.#cached === undefined || now - this.#cached.at > this.#ttlMs) {
      const catalog = this.#backend.listVoices(signal);
      const entry = { at: now, catalog };
      this.#cached = entry;
      catalog.catch(() => {
        if (this.#cached === entry) this.#cached = undefined;
      });
    }
    return this.#cached.catalog;
  }

  /** The backend voice for a request's `voice` (alias resolved, default applied); 400 if unknown. */
  async resolve(requested: string | undefined, signal: AbortSignal): Promise<string> {
    const catalog = await this.catalog(signal);
    const wanted =
      requested ?? this.#config.defaultVoice ?? this.#backend.defaultVoice ?? catalog.voices[0];
    if (wanted === undefined) throw fieldError('voice', 'name a voice (the backend lists none)');
    const voice = this.#config.aliases[wanted] ?? wanted;
    if (!catalog.accepts(voice)) {
      const shown = catalog.voices.slice(0, 20).join(', ');
      const more =
        catalog.voices.length > 20 ? `, … (${catalog.voices.length} in all: GET /v1/models)` : '';
      throw fieldError('voice', `unknown voice "${wanted}"; voices: ${shown}${more}`);
    }
    return voice;
  }
}
