import { startDocker } from './docker.ts';
import { ENGINE_KINDS, type EngineFixture, type EngineKind } from './engine.ts';
import { startPodman } from './podman.ts';

/** Starts the named engine on a private socket (see startDocker and startPodman). */
export function startEngine(kind: EngineKind): Promise<EngineFixture> {
  return kind === 'docker' ? startDocker() : startPodman();
}

/**
 * The engines a suite runs against: both, unless `DATAMANCY_TEST_ENGINES` (a comma-separated
 * list, for a quick local run) names fewer. An unknown name is an error, not a silent skip.
 */
export function testEngines(env: NodeJS.ProcessEnv = process.env): EngineKind[] {
  const wanted = env.DATAMANCY_TEST_ENGINES?.trim();
  if (wanted === undefined || wanted === '') return [...ENGINE_KINDS];
  const names = wanted.split(',').map((n) => n.trim());
  const unknown = names.filter((n) => !(ENGINE_KINDS as readonly string[]).includes(n));
  if (unknown.length > 0)
    throw new Error(
      `DATAMANCY_TEST_ENGINES: unknown engine(s) ${unknown.join(', ')}; known: ${ENGINE_KINDS.join(', ')}`,
    );
  return names as EngineKind[];
}
