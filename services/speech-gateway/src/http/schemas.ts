import { z } from 'zod';
import { SPEECH_FORMATS } from '../audio/detect.ts';
import { TRANSCRIPT_FORMATS } from '../backends/types.ts';
import type { SpeechGatewayConfig } from '../config.ts';

/** Request shapes of the OpenAI-compatible endpoints; limits come from the service config. */

const languageCode = z
  .string()
  .regex(/^[a-z]{2,3}([-_][A-Za-z]{2,4})?$/, 'expected an ISO-639-1 code such as "en"');

/** The text fields of `POST /v1/audio/transcriptions` (the `file` part is checked apart). */
export const TranscriptionFieldsSchema = z.object({
  model: z
    .string()
    .min(1)
    .max(200)
    .optional()
    .describe('one of the configured STT models; default the first'),
  language: languageCode.optional(),
  prompt: z
    .string()
    .max(20_000)
    .optional()
    .describe(
      'local backend: a phrase list (newlines or `|`) recognised as a grammar; whisper: the initial prompt',
    ),
  response_format: z.enum(TRANSCRIPT_FORMATS).default('json'),
  temperature: z.coerce.number().min(0).max(1).optional(),
});
export type TranscriptionFields = z.output<typeof TranscriptionFieldsSchema>;

export function createSpeechSchema(config: Pick<SpeechGatewayConfig, 'maxInputChars'>) {
  return z.object({
    model: z
      .string()
      .min(1)
      .max(200)
      .optional()
      .describe('one of the configured TTS models; default the first'),
    input: z
      .string()
      .max(config.maxInputChars)
      .refine((text) => text.trim() !== '', { message: 'must hold some text' })
      .describe('the text to speak'),
    voice: z
      .string()
      .min(1)
      .max(200)
      .optional()
      .describe('a voice of GET /v1/models (or an alias)'),
    response_format: z
      .enum(SPEECH_FORMATS)
      .optional()
      .describe("one of the backend's formats (GET /v1/models); default wav, or mp3 upstream"),
    speed: z.number().min(0.25).max(4).default(1),
    instructions: z.string().max(4096).optional().describe('accepted for compatibility; ignored'),
  });
}
export type SpeechRequest = z.output<ReturnType<typeof createSpeechSchema>>;
