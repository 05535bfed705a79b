/**
 * The control plane's view of a container engine. Engine-neutral on purpose: no Docker API
 * shapes leak through, so a Swarm or Kubernetes implementation can stand behind it later.
 */

export type ContainerState =
  'created' | 'running' | 'paused' | 'restarting' | 'exited' | 'dead' | 'removing' | 'unknown';
export type HealthState = 'healthy' | 'unhealthy' | 'starting' | 'none';

export interface PortBinding {
  containerPort: number;
  protocol: string;
  hostIp?: string;
  hostPort?: number;
}

export interface ContainerSummary {
  id: string;
  name: string;
  image: string;
  state: ContainerState;
  /** The engine's own words, e.g. "Up 3 minutes". */
  status: string;
  health: HealthState;
  labels: Record<string, string>;
  compose: { project?: string; service?: string; dependsOn: string[] };
  ports: PortBinding[];
  createdAt?: string;
}

export interface HealthcheckSpec {
  /** argv to run inside the container (CMD-SHELL becomes sh -c). */
  argv: string[];
  intervalS?: number;
  timeoutS?: number;
  retries?: number;
}

export interface ContainerDetails extends ContainerSummary {
  restartCount: number;
  startedAt?: string;
  finishedAt?: string;
  exitCode?: number;
  oomKilled: boolean;
  error?: string;
  pid?: number;
  restartPolicy?: string;
  healthcheck?: HealthcheckSpec;
  networks: string[];
  mounts: { source?: string; destination: string; type?: string; readOnly: boolean }[];
  /** The engine's inspect document, environment values redacted. */
  raw: Record<string, unknown>;
}

export interface ContainerStats {
  cpuPercent: number;
  onlineCpus: number;
  memoryBytes: number;
  memoryLimitBytes: number;
  memoryPercent: number;
  pids?: number;
  networkRxBytes?: number;
  networkTxBytes?: number;
  blockReadBytes?: number;
  blockWriteBytes?: number;
}

export interface LogLine {
  stream: 'stdout' | 'stderr';
  text: string;
}

export interface LogsOptions {
  tail?: number;
  /** Unix seconds. */
  since?: number;
  stdout?: boolean;
  stderr?: boolean;
  timestamps?: boolean;
  maxBytes: number;
}

export interface LogsResult {
  lines: LogLine[];
  bytes: number;
  truncated: boolean;
}

export interface ExecOptions {
  timeoutMs: number;
  maxOutputBytes: number;
  signal?: AbortSignal;
}

export interface ExecResult {
  exitCode: number | null;
  stdout: string;
  stderr: string;
  truncated: boolean;
  timedOut: boolean;
}

export interface EngineInfo {
  kind: 'docker';
  /** e.g. "Docker Engine" or "Podman Engine". */
  product: string;
  version: string;
  apiVersion: string;
  endpoint: string;
}

export interface ContainerEngine {
  readonly endpoint: string;
  ping(signal?: AbortSignal): Promise<EngineInfo>;
  list(options?: { all?: boolean; signal?: AbortSignal }): Promise<ContainerSummary[]>;
  inspect(idOrName: string, signal?: AbortSignal): Promise<ContainerDetails>;
  logs(idOrName: string, options: LogsOptions, signal?: AbortSignal): Promise<LogsResult>;
  stats(idOrName: string, signal?: AbortSignal): Promise<ContainerStats>;
  start(idOrName: string): Promise<void>;
  stop(idOrName: string, options?: { timeoutS?: number }): Promise<void>;
  restart(idOrName: string, options?: { timeoutS?: number }): Promise<void>;
  exec(idOrName: string, argv: readonly string[], options: ExecOptions): Promise<ExecResult>;
}
