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
  /** HostConfig.Memory; absent when the container has no memory limit. */
  memoryLimitBytes?: number;
  /** HostConfig.MemorySwap (memory plus swap; -1 unlimited); absent when unset. */
  memorySwapLimitBytes?: number;
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

/** What the engine reports about a container's life; Docker's `Action`, colon detail dropped. */
export type ContainerEventAction =
  | 'create'
  | 'start'
  | 'stop'
  | 'kill'
  | 'die'
  | 'restart'
  | 'oom'
  | 'health_status'
  | (string & {});

export interface ContainerEvent {
  /** ISO 8601, millisecond precision. */
  time: string;
  /** The container's name (without a leading slash). */
  container: string;
  id: string;
  action: ContainerEventAction;
  /** On `die`. */
  exitCode?: number;
  /** On `kill`, when the engine names it (Docker does; Podman 4 does not). */
  signal?: string;
  /** On `health_status`: healthy, unhealthy, starting. */
  health?: string;
}

export interface EventsQuery {
  /** A Date, an ISO timestamp, or a span back from now such as "10m", "90s", "2h", "1d". */
  since: Date | string;
  /** Same forms; default now, so the answer never waits for events to come. */
  until?: Date | string;
  /** Only this container (name or id). */
  container?: string;
  /** Keep at most this many, the newest. */
  limit?: number;
  signal?: AbortSignal;
}

export interface ResourceUpdate {
  memoryBytes?: number;
  /** Memory plus swap, as Docker's MemorySwap; -1 for unlimited swap. */
  memorySwapBytes?: number;
}

/** Why a container stopped, told from its events (see exit-classifier.ts). */
export type ExitClassification = 'operator-stop' | 'crash' | 'oom' | 'unknown';

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
  /** Container events in [since, until], oldest first. */
  events(query: EventsQuery): Promise<ContainerEvent[]>;
  /** Changes resource limits of a container in place (running or not). */
  updateResources(idOrName: string, update: ResourceUpdate, signal?: AbortSignal): Promise<void>;
}

export interface NetworkSpec {
  name: string;
  internal: boolean;
  subnet?: string;
  /** Where the engine picks dynamic addresses (inside `subnet`); fixed ones stay outside it. */
  ipRange?: string;
  labels: Record<string, string>;
}

export interface NetworkSummary {
  id: string;
  name: string;
  internal: boolean;
  labels: Record<string, string>;
  subnets: string[];
}
