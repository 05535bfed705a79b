import { describe, expect, it } from 'vitest';
import { CommonConfigSchema, ConfigError, loadConfig } from '@datamancy/core';
import { SPEECH_GATEWAY_ENV_BINDINGS, SpeechGatewayConfigSchema } from '../src/config.ts';
import { startTestGateway } from './helpers.ts';

const schema = CommonConfigSchema.extend({
  speechGateway: SpeechGatewayConfigSchema.prefault({}),
});
const load = (env: Record<string, string>, file?: string) =>
  loadConfig({ schema, env, file, bindings: SPEECH_GATEWAY_ENV_BINDINGS });

describe('speech gateway configuration', () => {
  it('defaults to port 8091, 25 MiB uploads and the local commands', () => {
    const { speechGateway } = load({});
    expect(speechGateway).toMatchObject({
      port: 8091,
      maxUploadBytes: 25 * 1024 * 1024,
      maxInputChars: 4096,
      ffmpeg: 'auto',
      stt: { backend: 'local', models: ['whisper-1'], timeoutMs: 60_000 },
      tts: { backend: 'local', models: ['tts-1', 'tts-1-hd'], aliases: {}, timeoutMs: 30_000 },
    });
    expect(speechGateway.stt.local).toMatchObject({
      command: 'pocketsphinx_continuous',
      dict: '/usr/share/pocketsphinx/model/en-us/cmudict-en-us.dict',
      phrases: [],
      promptAsPhrases: true,
    });
    expect(speechGateway.tts.local).toEqual({ command: 'espeak-ng', wordsPerMinute: 175 });
    expect(speechGateway.host).toBeUndefined();
  });

  it('reads its environment variables', () => {
    const { speechGateway } = load({
      SPEECH_PORT: '9000',
      SPEECH_HOST: '0.0.0.0',
      SPEECH_MAX_UPLOAD_BYTES: '1048576',
      SPEECH_FFMPEG: 'off',
      SPEECH_STT_BACKEND: 'whisper-asr',
      SPEECH_STT_URL: 'http://whisper:9000',
      SPEECH_STT_MODELS: 'whisper-1, large-v3',
      SPEECH_STT_LANGUAGE: 'en',
      SPEECH_STT_TIMEOUT_MS: '5000',
      SPEECH_STT_PHRASES: 'restart the database, hello world',
      SPEECH_TTS_BACKEND: 'wyoming',
      SPEECH_TTS_URL: 'tcp://piper:10200',
      SPEECH_TTS_VOICES: 'en_US-lessac-medium',
      SPEECH_TTS_DEFAULT_VOICE: 'en_US-lessac-medium',
    });
    expect(speechGateway).toMatchObject({
      port: 9000,
      host: '0.0.0.0',
      maxUploadBytes: 1048576,
      ffmpeg: 'off',
      stt: {
        backend: 'whisper-asr',
        url: 'http://whisper:9000',
        models: ['whisper-1', 'large-v3'],
        language: 'en',
        timeoutMs: 5000,
        local: { phrases: ['restart the database', 'hello world'] },
      },
      tts: {
        backend: 'wyoming',
        url: 'tcp://piper:10200',
        voices: ['en_US-lessac-medium'],
        defaultVoice: 'en_US-lessac-medium',
      },
    });
  });

  it('rejects an upstream backend without a fitting url, naming the path and the variable', () => {
    const fail = (env: Record<string, string>) => {
      try {
        load(env);
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        return (err as ConfigError).issues;
      }
      throw new Error('expected a ConfigError');
    };
    expect(fail({ SPEECH_STT_BACKEND: 'openai' })).toEqual([
      { path: 'speechGateway.stt.url', message: 'backend "openai" needs a url' },
    ]);
    expect(
      fail({ SPEECH_TTS_BACKEND: 'wyoming', SPEECH_TTS_URL: 'http://piper:10200' })[0],
    ).toEqual({
      path: 'speechGateway.tts.url',
      message: expect.stringContaining('tcp://'),
    });
    expect(fail({ SPEECH_STT_BACKEND: 'wyoming', SPEECH_STT_URL: 'tcp://piper' })[0]?.message).toBe(
      'expected tcp://host:port (set by SPEECH_STT_URL)',
    );
    expect(fail({ SPEECH_MAX_UPLOAD_BYTES: '0' })[0]?.message).toContain('SPEECH_MAX_UPLOAD_BYTES');
    expect(fail({ SPEECH_STT_BACKEND: 'vosk' })[0]?.path).toBe('speechGateway.stt.backend');
  });

  it('parses the shipped example config', () => {
    const example = new URL('../speech-gateway.example.yaml', import.meta.url).pathname;
    const { speechGateway } = load({}, example);
    expect(speechGateway.port).toBe(8091);
    expect(speechGateway.tts.aliases).toEqual({ alloy: 'en-us', nova: 'en-us+f3' });
    expect(speechGateway).toEqual({
      ...SpeechGatewayConfigSchema.parse({}),
      tts: { ...SpeechGatewayConfigSchema.parse({}).tts, aliases: speechGateway.tts.aliases },
    });
  });

  it('refuses to start when a configured phrase has a word the dictionary lacks', async () => {
    await expect(
      startTestGateway({ stt: { local: { phrases: ['restart the databse'] } } }),
    ).rejects.toThrow(/speechGateway\.stt\.local\.phrases: .*databse/);
  });

  it('recognises against the configured phrases when the request brings none', async () => {
    const gateway = await startTestGateway({
      stt: { local: { phrases: ['hello world', 'restart the database', 'reboot the server'] } },
    });
    try {
      const speech = await gateway.speech({ input: 'reboot the server' });
      const res = await gateway.transcribe(
        {},
        { bytes: new Uint8Array(await speech.arrayBuffer()) },
      );
      expect(await res.json()).toEqual({ text: 'reboot the server' });
    } finally {
      await gateway.close();
    }
  });
});
