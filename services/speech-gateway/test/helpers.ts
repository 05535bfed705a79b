import { readFileSync } from 'node:fs';
import type { z } from 'zod';
import {
  CommonConfigSchema,
  createSilentLogger,
  generateToken,
  TokenRegistry,
  type Logger,
} from '@datamancy/core';
import { SpeechGatewayConfigSchema } from '../src/config.ts';
import { startSpeechGateway } from '../src/main.ts';

export const ADMIN = generateToken();
/** A service token that may use speech (LiteLLM's). */
export const SPEAKER = generateToken();
/** A token that may read metrics only (Prometheus). */
export const SCRAPER = generateToken();
/** A token with another service's scope. */
export const OUTSIDER = generateToken();

export type TestConfig = Partial<z.input<typeof SpeechGatewayConfigSchema>>;

export interface Upload {
  bytes: Uint8Array;
  name?: string;
  type?: string;
}

/** The real gateway on 127.0.0.1 and a free port (ffmpeg off unless asked for). */
export async function startTestGateway(
  overrides: TestConfig = {},
  options: { env?: Record<string, string | undefined>; logger?: Logger } = {},
) {
  const common = CommonConfigSchema.parse({});
  const config = SpeechGatewayConfigSchema.parse({
    host: '127.0.0.1',
    port: 0,
    ffmpeg: 'off',
    ...overrides,
  });
  const gateway = await startSpeechGateway({
    common,
    config,
    logger: options.logger ?? createSilentLogger(),
    tokens: new TokenRegistry(ADMIN, [
      { name: 'litellm', token: SPEAKER, scopes: ['speech.use'], kind: 'service' },
      { name: 'prometheus', token: SCRAPER, scopes: ['metrics.read'], kind: 'service' },
      { name: 'router-user', token: OUTSIDER, scopes: ['models.use'], kind: 'service' },
    ]),
    env: options.env ?? { PATH: process.env.PATH },
  });
  const url = gateway.server.url;
  const auth = { authorization: `Bearer ${ADMIN}` };
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

  /** `POST /v1/audio/transcriptions` with the file (if any) and text fields. */
  const transcribe = (fields: Record<string, string>, file?: Upload, token = ADMIN) => {
    const form = new FormData();
    if (file !== undefined) {
      form.append(
        'file',
        new Blob([file.bytes], { type: file.type ?? 'audio/wav' }),
        file.name ?? 'speech.wav',
      );
    }
    for (const [key, value] of Object.entries(fields)) form.append(key, value);
    return fetch(`${url}/v1/audio/transcriptions`, {
      method: 'POST',
      headers: bearer(token),
      body: form,
    });
  };
  const speech = (body: unknown, token = ADMIN) =>
    fetch(`${url}/v1/audio/speech`, {
      method: 'POST',
      headers: { ...bearer(token), 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  const get = (path: string, token = ADMIN) => fetch(`${url}${path}`, { headers: bearer(token) });
  return { ...gateway, url, auth, transcribe, speech, get };
}

export type TestGateway = Awaited<ReturnType<typeof startTestGateway>>;

export interface ErrorBody {
  error: {
    code: string;
    message: string;
    backend?: string;
    unknownWords?: string[];
    issues?: { path: string; message: string }[];
  };
}

export const fixture = (name: string): Buffer =>
  readFileSync(new URL(`./fixtures/wyoming/${name}`, import.meta.url));

/** A WAV file of a tone (16-bit, any rate and channel count). */
export function toneWav(options: { rate: number; channels: number; seconds: number; hz?: number }) {
  const frames = Math.round(options.rate * options.seconds);
  const data = Buffer.alloc(frames * options.channels * 2);
  for (let f = 0; f < frames; f++) {
    const value = Math.round(
      10_000 * Math.sin((2 * Math.PI * (options.hz ?? 440) * f) / options.rate),
    );
    for (let ch = 0; ch < options.channels; ch++)
      data.writeInt16LE(value, (f * options.channels + ch) * 2);
  }
  const header = Buffer.alloc(44);
  header.write('RIFF', 0);
  header.writeUInt32LE(36 + data.length, 4);
  header.write('WAVE', 8);
  header.write('fmt ', 12);
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20);
  header.writeUInt16LE(options.channels, 22);
  header.writeUInt32LE(options.rate, 24);
  header.writeUInt32LE(options.rate * options.channels * 2, 28);
  header.writeUInt16LE(options.channels * 2, 32);
  header.writeUInt16LE(16, 34);
  header.write('data', 36);
  header.writeUInt32LE(data.length, 40);
  return Buffer.concat([header, data]);
}
