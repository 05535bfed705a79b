import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Running the real `datamancy` bin in tests, with an environment free of the caller's settings. */

export const BIN = join(dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'datamancy.js');

export const CLEAN_ENV: Record<string, string> = Object.fromEntries(
  Object.entries(process.env).filter(
    (entry): entry is [string, string] =>
      entry[1] !== undefined &&
      !['DATAMANCY_', 'TOOLSERVER_', 'KFUNCDB_', 'LLM_', 'COMPOSE_', 'PROBE_'].some((p) =>
        entry[0].startsWith(p),
      ) &&
      !['DOMAIN', 'DOCKER_HOST', 'POSTGRES_PASSWORD', 'XDG_RUNTIME_DIR', 'KFUN_URL'].includes(
        entry[0],
      ),
  ),
);

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI to completion, blocking (simple cases). */
export function runCliSync(args: string[], env: Record<string, string> = {}): CliResult {
  const res = spawnSync(process.execPath, [BIN, ...args], {
    env: { ...CLEAN_ENV, ...env },
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { code: res.status, stdout: res.stdout, stderr: res.stderr };
}

/** Runs the CLI to completion without blocking, so several may run at once. */
export function runCli(
  args: string[],
  options: { cwd?: string; env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<CliResult> {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: options.cwd ?? tmpdir(),
    env: { ...CLEAN_ENV, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: options.timeoutMs ?? 30_000,
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

export interface Served {
  child: ChildProcess;
  /** The tool server's URL. */
  url: string;
  /** The probe's URL when serve ran it. */
  probeUrl?: string;
  logs: string[];
  exited: Promise<number | null>;
}

const urlOf = (buffer: string, service: string): string | undefined =>
  new RegExp(`"service":"${service}"[^\\n]*"url":"(http:\\/\\/127\\.0\\.0\\.1:\\d+)"`).exec(
    buffer,
  )?.[1];

/** `datamancy serve` on free ports; resolves once the whole control plane says it is up. */
export function serveCli(args: string[], env: Record<string, string> = {}): Promise<Served> {
  const ports = ['toolServer', 'browser', 'probe', 'modelRouter', 'speechGateway'].flatMap((s) => [
    '--set',
    `${s}.port=0`,
  ]);
  const child = spawn(process.execPath, [BIN, 'serve', ...ports, ...args], {
    env: { ...CLEAN_ENV, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: string[] = [];
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  );
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`serve did not start:\n${logs.join('')}`)),
      30_000,
    );
    let buffer = '';
    child.stdout.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      logs.push(chunk.toString());
      const url = urlOf(buffer, 'tool-server');
      if (url !== undefined && buffer.includes('datamancy control plane is up')) {
        clearTimeout(timer);
        const probeUrl = urlOf(buffer, 'probe');
        resolve({ child, url, ...(probeUrl === undefined ? {} : { probeUrl }), logs, exited });
      }
    });
    child.stderr.on('data', (chunk: Buffer) => logs.push(chunk.toString()));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited ${code}:\n${logs.join('')}`));
    });
  });
}
