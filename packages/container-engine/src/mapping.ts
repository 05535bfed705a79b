import type {
  ContainerDetails,
  ContainerState,
  ContainerStats,
  ContainerSummary,
  HealthState,
  HealthcheckSpec,
  LogLine,
  PortBinding,
} from './types.ts';
import { redactSecrets, type RedactionOptions } from './redaction.ts';

/** Turns Docker Engine API documents (Docker and Podman alike) into our engine-neutral shapes. */

type Json = Record<string, unknown>;
const obj = (v: unknown): Json =>
  v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : {};
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const num = (v: unknown): number | undefined =>
  typeof v === 'number' && Number.isFinite(v) ? v : undefined;

const STATES: readonly ContainerState[] = [
  'created',
  'running',
  'paused',
  'restarting',
  'exited',
  'dead',
  'removing',
];

export function parseState(value: unknown): ContainerState {
  const s = typeof value === 'string' ? value.toLowerCase() : '';
  if (s === 'stopped' || s === 'configured') return s === 'stopped' ? 'exited' : 'created';
  return (STATES as readonly string[]).includes(s) ? (s as ContainerState) : 'unknown';
}

export function parseHealth(value: unknown): HealthState {
  const s = typeof value === 'string' ? value.toLowerCase() : '';
  if (s === 'healthy' || s === 'unhealthy' || s === 'starting') return s;
  return 'none';
}

/** compose's `com.docker.compose.depends_on` ("db:service_healthy:false,redis:...") plus our own label. */
export function parseDependsOn(labels: Record<string, string>): string[] {
  const out = new Set<string>();
  for (const part of (labels['com.docker.compose.depends_on'] ?? '').split(',')) {
    const name = part.split(':')[0]?.trim();
    if (name) out.add(name);
  }
  for (const part of (labels['datamancy.depends-on'] ?? '').split(',')) {
    if (part.trim()) out.add(part.trim());
  }
  return [...out];
}

function labelsOf(value: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(obj(value))) if (typeof v === 'string') out[k] = v;
  return out;
}

function composeOf(labels: Record<string, string>): ContainerSummary['compose'] {
  const project = labels['com.docker.compose.project'] ?? labels['io.podman.compose.project'];
  const service = labels['com.docker.compose.service'] ?? labels['io.podman.compose.service'];
  return {
    ...(project === undefined ? {} : { project }),
    ...(service === undefined ? {} : { service }),
    dependsOn: parseDependsOn(labels),
  };
}

/** From `GET /containers/json`. */
export function mapSummary(c: Json): ContainerSummary {
  const labels = labelsOf(c.Labels);
  const names = Array.isArray(c.Names) ? (c.Names as unknown[]) : [];
  const status = str(c.Status) ?? '';
  const healthMatch = /\((healthy|unhealthy|health: starting|starting)\)/i.exec(status);
  const ports: PortBinding[] = (Array.isArray(c.Ports) ? (c.Ports as unknown[]) : []).map((p) => {
    const port = obj(p);
    const hostIp = str(port.IP);
    const hostPort = num(port.PublicPort);
    return {
      containerPort: num(port.PrivatePort) ?? 0,
      protocol: str(port.Type) ?? 'tcp',
      ...(hostIp === undefined ? {} : { hostIp }),
      ...(hostPort === undefined ? {} : { hostPort }),
    };
  });
  const created = num(c.Created);
  return {
    id: str(c.Id) ?? '',
    name: (str(names[0]) ?? '').replace(/^\//, ''),
    image: str(c.Image) ?? '',
    state: parseState(c.State),
    status,
    health: parseHealth(healthMatch?.[1]?.replace('health: ', '')),
    labels,
    compose: composeOf(labels),
    ports,
    ...(created === undefined ? {} : { createdAt: new Date(created * 1000).toISOString() }),
  };
}

const ZERO_TIME = /^0001-01-01/;
const time = (v: unknown): string | undefined => {
  const s = str(v);
  return s === undefined || ZERO_TIME.test(s) ? undefined : s;
};

function healthcheckOf(config: Json): HealthcheckSpec | undefined {
  const hc = obj(config.Healthcheck);
  const test = Array.isArray(hc.Test)
    ? (hc.Test as unknown[]).filter((t): t is string => typeof t === 'string')
    : [];
  if (test.length === 0 || test[0] === 'NONE') return undefined;
  let argv: string[];
  if (test[0] === 'CMD-SHELL') argv = ['/bin/sh', '-c', test.slice(1).join(' ')];
  else if (test[0] === 'CMD') argv = test.slice(1);
  else argv = ['/bin/sh', '-c', test.join(' ')];
  const ns = (v: unknown): number | undefined => {
    const n = num(v);
    return n === undefined || n === 0 ? undefined : n / 1e9;
  };
  const intervalS = ns(hc.Interval);
  const timeoutS = ns(hc.Timeout);
  const retries = num(hc.Retries);
  return {
    argv,
    ...(intervalS === undefined ? {} : { intervalS }),
    ...(timeoutS === undefined ? {} : { timeoutS }),
    ...(retries === undefined || retries === 0 ? {} : { retries }),
  };
}

/**
 * The engine's inspect document with its secrets replaced by `[redacted]` (see redaction.ts):
 * env, command line, entrypoint, healthcheck, labels, annotations, Podman's CreateCommand.
 */
export function redactInspect(raw: Json, options: RedactionOptions = {}): Json {
  return redactSecrets(raw, options);
}

/** The healthcheck argv as configured, for running it; never part of any output. */
const CLEAR_HEALTHCHECKS = new WeakMap<ContainerDetails, readonly string[]>();

/**
 * The argv of a container's own healthcheck, unredacted, when `details` came from
 * `mapDetails`; `details.healthcheck.argv` (redacted) otherwise.
 */
export function healthcheckArgv(details: ContainerDetails): readonly string[] | undefined {
  return CLEAR_HEALTHCHECKS.get(details) ?? details.healthcheck?.argv;
}

/**
 * From `GET /containers/{id}/json`. Every field is redacted (labels, healthcheck and the raw
 * document alike); `healthcheckArgv` keeps the argv as configured for running it.
 */
export function mapDetails(raw: Json, options: RedactionOptions = {}): ContainerDetails {
  const config = obj(raw.Config);
  const state = obj(raw.State);
  const hostConfig = obj(raw.HostConfig);
  const labels = labelsOf(config.Labels);
  const health = obj(state.Health);
  const ports: PortBinding[] = [];
  for (const [key, bindings] of Object.entries(obj(obj(raw.NetworkSettings).Ports))) {
    const [port, protocol] = key.split('/');
    const list = Array.isArray(bindings) ? (bindings as unknown[]) : [];
    if (list.length === 0) ports.push({ containerPort: Number(port), protocol: protocol ?? 'tcp' });
    for (const b of list) {
      const hostIp = str(obj(b).HostIp);
      const hostPort = Number(str(obj(b).HostPort) ?? NaN);
      ports.push({
        containerPort: Number(port),
        protocol: protocol ?? 'tcp',
        ...(hostIp === undefined ? {} : { hostIp }),
        ...(Number.isFinite(hostPort) ? { hostPort } : {}),
      });
    }
  }
  const stateName = parseState(state.Status);
  const exitCode = num(state.ExitCode);
  const startedAt = time(state.StartedAt);
  const finishedAt = time(state.FinishedAt);
  const error = str(state.Error);
  const pid = num(state.Pid);
  const restartPolicy = str(obj(hostConfig.RestartPolicy).Name);
  const healthcheck = healthcheckOf(config);
  const createdAt = time(raw.Created);
  const memory = num(hostConfig.Memory);
  const memorySwap = num(hostConfig.MemorySwap);
  const details: ContainerDetails = {
    id: str(raw.Id) ?? '',
    name: (str(raw.Name) ?? '').replace(/^\//, ''),
    image: str(config.Image) ?? str(raw.ImageName) ?? str(raw.Image) ?? '',
    state: stateName,
    status: stateName,
    health: parseHealth(health.Status),
    labels,
    compose: composeOf(labels),
    ports,
    ...(createdAt === undefined ? {} : { createdAt }),
    restartCount: num(raw.RestartCount) ?? 0,
    ...(startedAt === undefined ? {} : { startedAt }),
    ...(finishedAt === undefined ? {} : { finishedAt }),
    ...(exitCode === undefined || stateName === 'running' ? {} : { exitCode }),
    oomKilled: state.OOMKilled === true,
    ...(error === undefined ? {} : { error }),
    ...(pid === undefined || pid === 0 ? {} : { pid }),
    ...(restartPolicy === undefined ? {} : { restartPolicy }),
    ...(healthcheck === undefined ? {} : { healthcheck }),
    ...(memory === undefined || memory <= 0 ? {} : { memoryLimitBytes: memory }),
    ...(memorySwap === undefined || memorySwap === 0 ? {} : { memorySwapLimitBytes: memorySwap }),
    networks: Object.keys(obj(obj(raw.NetworkSettings).Networks)),
    mounts: (Array.isArray(raw.Mounts) ? (raw.Mounts as unknown[]) : []).map((m) => {
      const mount = obj(m);
      const source = str(mount.Source);
      const type = str(mount.Type);
      return {
        ...(source === undefined ? {} : { source }),
        destination: str(mount.Destination) ?? '',
        ...(type === undefined ? {} : { type }),
        readOnly: mount.RW === false,
      };
    }),
    raw,
  };
  const redacted = redactSecrets(details, options);
  if (healthcheck !== undefined) CLEAR_HEALTHCHECKS.set(redacted, healthcheck.argv);
  return redacted;
}

/** CPU and memory as `docker stats` computes them. */
export function computeStats(s: Json): ContainerStats {
  const cpu = obj(s.cpu_stats);
  const pre = obj(s.precpu_stats);
  const cpuTotal = num(obj(cpu.cpu_usage).total_usage) ?? 0;
  const preTotal = num(obj(pre.cpu_usage).total_usage) ?? 0;
  const system = num(cpu.system_cpu_usage) ?? 0;
  const preSystem = num(pre.system_cpu_usage) ?? 0;
  const percpu = obj(cpu.cpu_usage).percpu_usage;
  const onlineCpus = num(cpu.online_cpus) ?? (Array.isArray(percpu) ? percpu.length : 1);
  const cpuDelta = cpuTotal - preTotal;
  const systemDelta = system - preSystem;
  const cpuPercent =
    systemDelta > 0 && cpuDelta > 0 ? (cpuDelta / systemDelta) * onlineCpus * 100 : 0;

  const mem = obj(s.memory_stats);
  const memStats = obj(mem.stats);
  const usage = num(mem.usage) ?? 0;
  // cgroup v1 reports total_inactive_file, v2 inactive_file; docker subtracts it (page cache).
  const inactive = num(memStats.total_inactive_file) ?? num(memStats.inactive_file) ?? 0;
  const memoryBytes = Math.max(0, usage - (inactive < usage ? inactive : 0));
  const memoryLimitBytes = num(mem.limit) ?? 0;

  let rx = 0;
  let tx = 0;
  for (const net of Object.values(obj(s.networks))) {
    rx += num(obj(net).rx_bytes) ?? 0;
    tx += num(obj(net).tx_bytes) ?? 0;
  }
  let read = 0;
  let write = 0;
  const io = obj(s.blkio_stats).io_service_bytes_recursive;
  for (const entry of Array.isArray(io) ? (io as unknown[]) : []) {
    const op = str(obj(entry).op)?.toLowerCase();
    if (op === 'read') read += num(obj(entry).value) ?? 0;
    if (op === 'write') write += num(obj(entry).value) ?? 0;
  }
  const pids = num(obj(s.pids_stats).current);
  return {
    cpuPercent: Math.round(cpuPercent * 100) / 100,
    onlineCpus,
    memoryBytes,
    memoryLimitBytes,
    memoryPercent:
      memoryLimitBytes > 0 ? Math.round((memoryBytes / memoryLimitBytes) * 10_000) / 100 : 0,
    ...(pids === undefined ? {} : { pids }),
    networkRxBytes: rx,
    networkTxBytes: tx,
    blockReadBytes: read,
    blockWriteBytes: write,
  };
}

/**
 * Splits the engine's multiplexed stdout/stderr stream (8-byte frame headers) into lines; a
 * TTY container's raw stream is all stdout.
 */
export function demuxLines(buffer: Buffer): LogLine[] {
  const chunks: { stream: LogLine['stream']; data: Buffer }[] = [];
  const framed =
    buffer.length >= 8 && buffer[0]! <= 2 && buffer[1] === 0 && buffer[2] === 0 && buffer[3] === 0;
  if (!framed) {
    chunks.push({ stream: 'stdout', data: buffer });
  } else {
    let offset = 0;
    while (offset + 8 <= buffer.length) {
      const type = buffer[offset]!;
      const size = buffer.readUInt32BE(offset + 4);
      const data = buffer.subarray(offset + 8, Math.min(buffer.length, offset + 8 + size));
      chunks.push({ stream: type === 2 ? 'stderr' : 'stdout', data });
      offset += 8 + size;
    }
  }
  const lines: LogLine[] = [];
  const partial: Record<LogLine['stream'], string> = { stdout: '', stderr: '' };
  for (const { stream, data } of chunks) {
    const parts = (partial[stream] + data.toString('utf8')).split('\n');
    partial[stream] = parts.pop() ?? '';
    for (const text of parts) lines.push({ stream, text: text.replace(/\r$/, '') });
  }
  for (const stream of ['stdout', 'stderr'] as const)
    if (partial[stream] !== '') lines.push({ stream, text: partial[stream] });
  return lines;
}
