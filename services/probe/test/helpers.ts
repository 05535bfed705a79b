import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CommonConfigSchema,
  createSilentLogger,
  generateToken,
  openSqliteStore,
  TokenRegistry,
  type Store,
} from '@datamancy/core';
import { freePort } from '@datamancy/testkit';
import { ProbeConfigSchema } from '../src/config.ts';
import { expandManifest } from '../src/manifest/expand.ts';
import type { Manifest, ManifestInput } from '../src/manifest/schema.ts';
import {
  startProbeService,
  type RunningProbeService,
  type StartProbeServiceOptions,
} from '../src/main.ts';
import type { Investigate } from '../src/runtime/orchestrator.ts';

/** A JSON answer; tests check its shape with assertions. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = any;

export const ADMIN = generateToken();
export const READER = generateToken();

export function manifestOf(document: ManifestInput, intervalS = 30): Manifest {
  return expandManifest(document, { domain: 'example.test', defaultIntervalS: intervalS });
}

export interface TestProbe extends RunningProbeService {
  url: string;
  dataDir: string;
  store: Store;
  /** fetch with the admin token (or another), JSON in and out. */
  call(
    method: string,
    path: string,
    body?: unknown,
    token?: string | null,
  ): Promise<{ status: number; body: Json; headers: Headers }>;
  stop(): Promise<void>;
}

export async function startTestProbe(options: {
  /** Unset: the default manifest (own services, plus `discover`). */
  manifest?: Manifest;
  discover?: StartProbeServiceOptions['discover'];
  selfServices?: Record<string, string>;
  store?: Store;
  config?: Record<string, unknown>;
  ocr?: StartProbeServiceOptions['ocr'];
  investigate?: Investigate;
  schedule?: boolean;
  /** Default: the admin token and `reader` (probe.read). */
  tokens?: TokenRegistry;
}): Promise<TestProbe> {
  const dataDir = mkdtempSync(join(tmpdir(), 'dm-probe-'));
  const common = CommonConfigSchema.parse({ dataDir, host: '127.0.0.1' });
  const config = ProbeConfigSchema.parse({ port: 0, startupSpreadS: 0, ...options.config });
  const tokens =
    options.tokens ??
    new TokenRegistry(ADMIN, [
      { name: 'reader', token: READER, scopes: ['host.network.http', 'probe.read'] },
    ]);
  const store = options.store ?? openSqliteStore(':memory:');
  const running = await startProbeService({
    common,
    config,
    logger: createSilentLogger(),
    tokens,
    store,
    ...(options.manifest === undefined ? {} : { manifest: options.manifest }),
    ...(options.discover === undefined ? {} : { discover: options.discover }),
    ...(options.selfServices === undefined ? {} : { selfServices: options.selfServices }),
    ocr: options.ocr ?? null,
    ...(options.investigate === undefined ? {} : { investigate: options.investigate }),
    schedule: options.schedule ?? false,
    serviceTokens: { toolServer: ADMIN, browser: ADMIN },
  });
  const url = running.server.url;
  return {
    ...running,
    url,
    dataDir,
    store,
    async call(method, path, body, token = ADMIN) {
      const headers: Record<string, string> = {};
      if (token !== null) headers.authorization = `Bearer ${token}`;
      if (body !== undefined) headers['content-type'] = 'application/json';
      const res = await fetch(`${url}${path}`, {
        method,
        headers,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = text === '' ? null : JSON.parse(text);
      } catch {
        // not JSON (HTML pages)
      }
      return { status: res.status, body: parsed, headers: res.headers };
    },
    async stop() {
      await running.close();
      if (options.store === undefined) await store.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A loopback port nothing listens on. */
export const closedPort = freePort;
