import {
  requestSignal,
  toValidationIssues,
  validationError,
  type ServiceApp,
} from '@datamancy/core';
import { detectAudioFormat, AUDIO_FORMATS } from '../audio/detect.ts';
import { toSpeechPcm, type SpeechPcm } from '../audio/prepare.ts';
import { AudioError, parseWav } from '../audio/wav.ts';
import type { UploadedAudio } from '../backends/types.ts';
import { fieldError } from '../errors.ts';
import { readMultipart, uploadTooLarge } from './body.ts';
import { primaryLanguage, runJob, type GatewayDeps } from './deps.ts';
import { renderTranscript } from './render.ts';
import { TranscriptionFieldsSchema, type TranscriptionFields } from './schemas.ts';

const TEXT_FIELDS = ['model', 'language', 'prompt', 'response_format', 'temperature'] as const;

/** The form's text fields, validated: 400 naming each bad field. */
function parseFields(form: FormData): TranscriptionFields {
  const raw: Record<string, unknown> = {};
  for (const name of TEXT_FIELDS) {
    const value = form.get(name);
    if (value === null) continue;
    if (typeof value !== 'string') throw fieldError(name, 'expected a text field, got a file');
    if (value !== '') raw[name] = value;
  }
  const parsed = TranscriptionFieldsSchema.safeParse(raw);
  if (!parsed.success)
    throw validationError('BAD_REQUEST', toValidationIssues(parsed.error.issues));
  return parsed.data;
}

/** The `file` part: present, a file, not empty, within the limit. */
async function readFilePart(form: FormData, maxBytes: number): Promise<UploadedAudio> {
  const file = form.get('file');
  if (file === null) throw fieldError('file', 'missing: attach the audio as the "file" field');
  if (typeof file === 'string')
    throw fieldError('file', 'expected a file upload, got a text field');
  if (file.size > maxBytes) throw uploadTooLarge(maxBytes);
  if (file.size === 0) throw fieldError('file', 'the uploaded file is empty');
  const bytes = new Uint8Array(await file.arrayBuffer());
  return { bytes, name: file.name || 'audio', type: file.type, format: detectAudioFormat(bytes) };
}

/** For backends that take the file as it is: it must look like audio; a WAV must parse. */
function checkPassThrough(file: UploadedAudio): number | undefined {
  if (file.format === undefined) {
    throw fieldError('file', `unrecognised audio; send one of ${AUDIO_FORMATS.join(', ')}`);
  }
  if (file.format !== 'wav') return undefined;
  try {
    return parseWav(file.bytes).durationS;
  } catch (err) {
    if (err instanceof AudioError) throw fieldError('file', `unreadable WAV: ${err.message}`);
    throw err;
  }
}

export function registerTranscriptionRoutes(app: ServiceApp, deps: GatewayDeps): void {
  const { config } = deps;
  const backend = deps.backends.stt;

  app.post('/v1/audio/transcriptions', async (c) => {
    const signal = requestSignal(c);
    const form = await readMultipart(c, config.maxUploadBytes);
    const fields = parseFields(form);
    const file = await readFilePart(form, config.maxUploadBytes);
    const model = fields.model ?? config.stt.models[0] ?? 'whisper-1';
    if (!config.stt.models.includes(model)) {
      throw fieldError(
        'model',
        `unknown model "${model}"; models: ${config.stt.models.join(', ')}`,
      );
    }
    const language = fields.language ?? config.stt.language;
    if (
      language !== undefined &&
      backend.languages !== undefined &&
      !backend.languages.includes(primaryLanguage(language))
    ) {
      throw fieldError(
        'language',
        `${backend.label} recognises ${backend.languages.join(', ')} only, not "${language}"`,
      );
    }
    await backend.check?.({ prompt: fields.prompt, language });

    const result = await runJob(
      deps,
      { operation: 'transcribe', backend: backend.name, signal, log: c.get('log') },
      async () => {
        let pcm: SpeechPcm | undefined;
        let durationS: number | undefined;
        if (backend.needsPcm) {
          pcm = await toSpeechPcm(file.bytes, file.format, deps.tools, signal);
          durationS = pcm.durationS;
        } else {
          durationS = checkPassThrough(file);
        }
        const answer = await backend.transcribe({
          file,
          pcm,
          model,
          language,
          prompt: fields.prompt,
          responseFormat: fields.response_format,
          temperature: fields.temperature,
          signal,
          log: c.get('log'),
        });
        return { answer, durationS };
      },
    );
    if (result.durationS !== undefined) {
      deps.metrics.audioSeconds.inc({ operation: 'transcribe' }, result.durationS);
    }
    const { answer } = result;
    if (answer.kind === 'raw') {
      return c.body(new Uint8Array(answer.body), 200, { 'content-type': answer.contentType });
    }
    const rendered = renderTranscript(answer.transcript, fields.response_format, result.durationS);
    c.get('log').info(
      {
        backend: backend.label,
        format: fields.response_format,
        chars: answer.transcript.text.length,
      },
      'transcribed',
    );
    return c.body(rendered.body, 200, { 'content-type': rendered.contentType });
  });
}
