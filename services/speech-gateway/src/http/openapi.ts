import { z } from 'zod';
import { BEARER_SECURITY_SCHEMES, errorEnvelopeSchema, errorResponse } from '@datamancy/core';
import { SPEECH_CONTENT_TYPES, SPEECH_FORMATS } from '../audio/detect.ts';
import { SpeechGatewayConfigSchema } from '../config.ts';
import { createSpeechSchema, TranscriptionFieldsSchema } from './schemas.ts';

/**
 * The speech gateway's OpenAPI 3.1 document, served at `GET /openapi.json`. Request shapes are
 * generated from the zod schemas with the default configuration's limits.
 */

const json = (schema: unknown) => ({ 'application/json': { schema } });
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const error = errorResponse;
const num = { type: 'number' } as const;
/** The scope a route needs, as OpenAPI 3.1 role names on the bearer scheme. */
const scope = (name: string) => [{ bearer: [name] }];
const forbidden = (name: string) =>
  error(`FORBIDDEN: the token lacks \`${name}\` (\`missing\` names it); nothing was read or run`);

function bodySchema(schema: z.ZodType): Record<string, unknown> {
  const out = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Record<
    string,
    unknown
  >;
  delete out.$schema;
  return out;
}

const failures = {
  '400': error('a bad field; `issues[].path` names it (file, model, voice, response_format, ...)'),
  '401': error('missing or unknown token'),
  '403': forbidden('speech.use'),
  '413': error('PAYLOAD_TOO_LARGE: the upload (or body) is over the configured limit'),
  '429': error('RATE_LIMITED: the job queue is full; see Retry-After'),
  '502': error('UPSTREAM_ERROR: the backend failed; `backend` names it'),
  '504': error('UPSTREAM_TIMEOUT: the backend did not answer in time; `backend` names it'),
};

function transcriptionForm(): Record<string, unknown> {
  const fields = bodySchema(TranscriptionFieldsSchema) as {
    properties: Record<string, unknown>;
    required?: string[];
  };
  return {
    type: 'object',
    required: ['file'],
    properties: {
      file: {
        type: 'string',
        contentMediaType: 'application/octet-stream',
        description:
          'the audio; WAV always (decoded in-process), other formats (mp3, flac, ogg, webm, mp4) where ffmpeg is installed or the backend decodes them itself',
      },
      ...fields.properties,
    },
  };
}

const verboseJson = {
  type: 'object',
  properties: {
    task: { const: 'transcribe' },
    language: { type: 'string' },
    duration: { type: ['number', 'null'], description: 'seconds of audio' },
    text: { type: 'string' },
    segments: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          id: { type: 'integer' },
          start: num,
          end: num,
          text: { type: 'string' },
          seek: { type: 'integer' },
          tokens: { type: 'array', items: { type: 'integer' } },
          temperature: num,
        },
        additionalProperties: true,
      },
    },
    words: {
      type: 'array',
      description: 'word timings, when the backend gives them (local)',
      items: {
        type: 'object',
        properties: { word: { type: 'string' }, start: num, end: num },
      },
    },
  },
};

const model = {
  type: 'object',
  required: ['id', 'object', 'type'],
  properties: {
    id: { type: 'string', examples: ['whisper-1', 'tts-1'] },
    object: { const: 'model' },
    created: { type: 'integer' },
    owned_by: { type: 'string' },
    type: { enum: ['stt', 'tts'] },
    backend: { type: 'string', examples: ['pocketsphinx', 'espeak-ng', 'wyoming'] },
    response_formats: { type: 'array', items: { type: 'string' } },
    languages: { type: 'array', items: { type: 'string' }, description: 'stt, when limited' },
    uploads: { type: 'string', description: 'stt: the upload formats accepted' },
    voices: { type: 'array', items: { type: 'string' }, description: 'tts' },
    aliases: {
      type: 'object',
      additionalProperties: { type: 'string' },
      description: 'tts: request voice names mapped to backend voices',
    },
    variants: {
      type: 'array',
      items: { type: 'string' },
      description: 'espeak-ng: variants, used as `<voice>+<variant>`',
    },
  },
};

export function createOpenApiDocument(version: string): Record<string, unknown> {
  const config = SpeechGatewayConfigSchema.parse({});
  const audio = Object.fromEntries(
    SPEECH_FORMATS.map((format) => [
      SPEECH_CONTENT_TYPES[format],
      { schema: { type: 'string', contentMediaType: SPEECH_CONTENT_TYPES[format] } },
    ]),
  );
  return {
    openapi: '3.1.0',
    info: {
      title: 'Datamancy speech gateway',
      version,
      description:
        "OpenAI-compatible speech-to-text and text-to-speech in front of Whisper (whisper-asr-webservice), any OpenAI-compatible upstream, faster-whisper and Piper over the Wyoming protocol, or the local commands (pocketsphinx, espeak-ng) as the embedded default. With the local backend, a transcription's `prompt` is a phrase list (newlines or `|`) recognised as a grammar. Every route but /healthz needs `Authorization: Bearer <token>`: `/v1/*` and /openapi.json with the `speech.use` scope (or `admin`), /metrics with `metrics.read`. A token without it gets 403 before the upload is read or a backend called.",
    },
    servers: [{ url: 'http://127.0.0.1:8091' }],
    security: scope('speech.use'),
    components: {
      securitySchemes: BEARER_SECURITY_SCHEMES,
      schemas: {
        Error: errorEnvelopeSchema({
          code: 'BAD_REQUEST',
          issuePath: 'voice',
          extra: {
            backend: { type: 'string', description: '502/504: the backend that failed' },
            unknownWords: {
              type: 'array',
              items: { type: 'string' },
              description: 'words of a phrase list missing from the dictionary',
            },
          },
        }),
        Model: model,
        VerboseTranscription: verboseJson,
      },
    },
    paths: {
      '/healthz': {
        get: {
          summary: 'Liveness, the backends in use, jobs running and queued',
          security: [],
          responses: { '200': { description: 'healthy' } },
        },
      },
      '/metrics': {
        get: {
          summary: 'Prometheus metrics (scope metrics.read)',
          security: scope('metrics.read'),
          responses: {
            '200': { description: 'text format' },
            '401': failures['401'],
            '403': forbidden('metrics.read'),
          },
        },
      },
      '/openapi.json': {
        get: {
          summary: 'This document',
          responses: {
            '200': { description: 'OpenAPI 3.1' },
            '401': failures['401'],
            '403': failures['403'],
          },
        },
      },
      '/v1/models': {
        get: {
          summary: 'The configured STT and TTS models, with formats and voices',
          responses: {
            '200': {
              description: "OpenAI's list shape",
              content: json({
                type: 'object',
                properties: {
                  object: { const: 'list' },
                  data: { type: 'array', items: ref('Model') },
                },
              }),
            },
            '401': failures['401'],
            '403': failures['403'],
          },
        },
      },
      '/v1/models/{id}': {
        get: {
          summary: 'One model',
          parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
          responses: {
            '200': { description: 'the model', content: json(ref('Model')) },
            '401': failures['401'],
            '403': failures['403'],
            '404': error('no such model'),
          },
        },
      },
      '/v1/audio/transcriptions': {
        post: {
          summary: 'Speech to text (OpenAI-compatible)',
          description: `Upload limit ${config.maxUploadBytes} bytes by default (speechGateway.maxUploadBytes).`,
          requestBody: {
            required: true,
            content: { 'multipart/form-data': { schema: transcriptionForm() } },
          },
          responses: {
            '200': {
              description: 'the transcript in the asked-for response_format',
              content: {
                'application/json': {
                  schema: {
                    oneOf: [
                      {
                        type: 'object',
                        required: ['text'],
                        properties: { text: { type: 'string' } },
                      },
                      ref('VerboseTranscription'),
                    ],
                  },
                },
                'text/plain': { schema: { type: 'string' } },
                'application/x-subrip': { schema: { type: 'string' } },
                'text/vtt': { schema: { type: 'string' } },
              },
            },
            ...failures,
          },
        },
      },
      '/v1/audio/speech': {
        post: {
          summary: 'Text to speech (OpenAI-compatible)',
          description:
            'The local and Wyoming backends answer in wav (default) or pcm (24 kHz mono 16-bit), and in mp3/opus/aac/flac where ffmpeg is installed; an OpenAI-compatible upstream answers in what it supports (default mp3).',
          requestBody: {
            required: true,
            content: json(bodySchema(createSpeechSchema(config))),
          },
          responses: {
            '200': {
              description: 'the audio; header x-audio-duration-s where the gateway encoded it',
              content: audio,
            },
            ...failures,
            '415': error('body is not application/json'),
          },
        },
      },
    },
  };
}
