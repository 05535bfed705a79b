import { request } from 'node:http';
import type { ContainerFacts } from './policy.ts';

/** The proxy's own calls to the engine: `_ping` for /healthz, inspect for the policy's facts. */

const MAX_INSPECT_BYTES = 4 * 1024 * 1024;

export class EngineCallError extends Error {
  readonly code: string | undefined;
  constructor(message: string, code?: string) {
    super(message);
    this.name = 'EngineCallError';
    this.code = code;
  }
}

function get(
  socketPath: string,
  path: string,
  timeoutMs: number,
): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { socketPath, path, method: 'GET', headers: { host: 'docker' }, timeout: timeoutMs },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_INSPECT_BYTES) {
            req.destroy(new EngineCallError(`the engine's answer to ${path} is too large`));
            return;
          }
          chunks.push(chunk);
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () =>
      req.destroy(new EngineCallError(`the engine did not answer ${path} within ${timeoutMs} ms`)),
    );
    req.on('error', (err: NodeJS.ErrnoException) =>
      reject(err instanceof EngineCallError ? err : new EngineCallError(err.message, err.code)),
    );
    req.end();
  });
}

/** Whether the engine answers `GET /_ping` with 200; the failure's reason otherwise. */
export async function pingEngine(
  socketPath: string,
  timeoutMs = 2000,
): Promise<{ ok: true } | { ok: false; reason: string }> {
  try {
    const res = await get(socketPath, '/_ping', timeoutMs);
    return res.status === 200
      ? { ok: true }
      : { ok: false, reason: `_ping answered ${res.status}` };
  } catch (err) {
    const e = err as EngineCallError;
    return { ok: false, reason: e.code ?? e.message };
  }
}

type Json = Record<string, unknown>;

/** The facts the policy needs about a container; null when the engine has none by that name. */
export async function inspectContainer(
  socketPath: string,
  idOrName: string,
  timeoutMs = 10_000,
): Promise<ContainerFacts | null> {
  const res = await get(socketPath, `/containers/${encodeURIComponent(idOrName)}/json`, timeoutMs);
  if (res.status === 404) return null;
  if (res.status !== 200) {
    throw new EngineCallError(`the engine answered ${res.status} to inspecting ${idOrName}`);
  }
  let raw: Json;
  try {
    raw = JSON.parse(res.body.toString('utf8')) as Json;
  } catch {
    throw new EngineCallError(`the engine's inspect of ${idOrName} is not JSON`);
  }
  const config = (raw.Config ?? {}) as Json;
  const labels = (
    typeof config.Labels === 'object' && config.Labels !== null ? config.Labels : {}
  ) as Record<string, string>;
  const id = typeof raw.Id === 'string' ? raw.Id : '';
  if (!/^[A-Za-z0-9]{12,128}$/.test(id)) {
    throw new EngineCallError(`the engine's inspect of ${idOrName} has no usable Id`);
  }
  const service = labels['com.docker.compose.service'] ?? labels['io.podman.compose.service'];
  return {
    id,
    name: (typeof raw.Name === 'string' ? raw.Name : '').replace(/^\//, ''),
    composeService: typeof service === 'string' ? service : undefined,
    labels,
  };
}
