import {
  DockerEngine,
  resolveEndpoint,
  type ContainerEngine,
  type ContainerState,
  type PortBinding,
} from '@datamancy/container-engine';

/**
 * The live container engine's view: every container with its state, compose identity and
 * labels. Discovery uses it to name the containers of compose services and to find running
 * containers the compose files do not know.
 */

export interface LiveContainer {
  name: string;
  image: string;
  state: ContainerState;
  labels: Record<string, string>;
  compose: { project?: string; service?: string; dependsOn: string[] };
  ports: PortBinding[];
}

/** Only `list` is needed; any ContainerEngine (or a stand-in) will do. */
export type ContainerLister = Pick<ContainerEngine, 'list' | 'endpoint'>;

export interface EngineSnapshot {
  endpoint: string;
  containers: LiveContainer[];
}

/** Lists every container (running or not); engine failures propagate as the engine's AppError. */
export async function loadEngineSnapshot(
  engine: ContainerLister,
  options: { signal?: AbortSignal } = {},
): Promise<EngineSnapshot> {
  const list = await engine.list({
    all: true,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  return {
    endpoint: engine.endpoint,
    containers: list.map((c) => ({
      name: c.name,
      image: c.image,
      state: c.state,
      labels: c.labels,
      compose: c.compose,
      ports: c.ports,
    })),
  };
}

/** The Docker-API engine at `host` (`unix:///…`, `tcp://…`), else the usual sockets. */
export function createEngine(host: string | undefined, runtimeDir?: string): ContainerEngine {
  return new DockerEngine(resolveEndpoint(host, runtimeDir));
}
