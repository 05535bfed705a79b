import { execFile } from 'node:child_process';
import { existsSync, readFileSync, statfsSync } from 'node:fs';
import { createServer } from 'node:net';
import { lookup } from 'node:dns/promises';
import { totalmem } from 'node:os';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import {
  composeVariables,
  effectiveProfiles,
  isStandalone,
  PROFILES,
  renderCompose,
  type Catalog,
} from '@datamancy/catalog';
import { createEngine } from '@datamancy/stack-discovery';
import { UsageError } from '../errors.ts';
import { openStackDir, readEnvFile, type StackDir } from '../stack-dir.ts';

/**
 * `datamancy doctor`: pre-flight checks before the stack comes up. Each check is a small
 * function returning pass, warn or fail with a one-line detail and, unless it passed, a
 * one-line fix. Nothing here connects anywhere but the container engine's API and the system
 * resolver; ports are only bound for a moment, never connected to.
 */

export type CheckStatus = 'pass' | 'warn' | 'fail';

export interface CheckResult {
  name: string;
  status: CheckStatus;
  detail: string;
  hint?: string;
}

export type Profile = (typeof PROFILES)[number];

export interface Requirement {
  /** GiB (2^30 bytes), as are all figures doctor prints. */
  ramGiB: number;
  diskGiB: number;
}

/**
 * What the stack needs: `bootstrap` is the base every run counts, each other selected profile
 * adds its row. All five profiles ("full"): 18 GB RAM, 80 GB disk.
 */
export const PROFILE_REQUIREMENTS: Readonly<Record<Profile, Requirement>> = {
  bootstrap: { ramGiB: 8, diskGiB: 20 },
  databases: { ramGiB: 2, diskGiB: 10 },
  applications: { ramGiB: 6, diskGiB: 30 },
  infrastructure: { ramGiB: 1, diskGiB: 10 },
  bootstrap_vector_dbs: { ramGiB: 1, diskGiB: 10 },
  // a stack of its own, counted alone
  local: { ramGiB: 4, diskGiB: 10 },
};

/** Below the requirement but at least this share of it: a warning, not a failure. */
export const RAM_WARN_RATIO = 0.75;

/** Tried in order; the first that answers is reported. */
export const COMPOSE_TOOLS: readonly (readonly string[])[] = [
  ['docker', 'compose', 'version'],
  ['docker-compose', 'version'],
  ['podman-compose', 'version'],
];

export const DEFAULT_PORTS: readonly number[] = [80, 443];

const ENGINE_TIMEOUT_MS = 3000;
const DNS_TIMEOUT_MS = 3000;
const EXEC_TIMEOUT_MS = 5000;
const GPU_DEVICE = '/dev/nvidia0';

type Engine = ReturnType<typeof createEngine>;

const GIB = 2 ** 30;
export const gib = (bytes: number): string => `${(bytes / GIB).toFixed(1)} GiB`;

/** `--profile` values: repeatable, comma-separated, `all`; default bootstrap. */
export function parseProfiles(values: readonly string[] | undefined): Profile[] {
  const names = (values ?? [])
    .flatMap((v) => v.split(','))
    .map((v) => v.trim())
    .filter((v) => v !== '');
  if (names.length === 0) return ['bootstrap'];
  const chosen = new Set<Profile>();
  for (const name of names) {
    // all: the main stack's profiles (a standalone profile such as local is a stack of its own)
    if (name === 'all') PROFILES.filter((p) => !isStandalone(p)).forEach((p) => chosen.add(p));
    else if ((PROFILES as readonly string[]).includes(name)) chosen.add(name as Profile);
    else
      throw new UsageError(
        `--profile: unknown profile "${name}"; valid: ${[...PROFILES, 'all'].join(', ')}`,
      );
  }
  const standalone = [...chosen].filter(isStandalone);
  if (standalone.length > 0 && chosen.size > 1)
    throw new UsageError(
      `--profile: ${standalone.join(', ')} is a stack of its own and cannot be combined with ${[...chosen].filter((p) => !isStandalone(p)).join(', ') || 'another profile'}`,
    );
  return PROFILES.filter((p) => chosen.has(p));
}

/** The sum for the selected profiles (bootstrap always counted) and a name for the set. */
export function requirementFor(
  profiles: readonly Profile[],
  table: Readonly<Record<Profile, Requirement>> = PROFILE_REQUIREMENTS,
): Requirement & { label: string } {
  // a standalone profile (local) is counted alone; every other selection on top of bootstrap
  const only = profiles[0];
  const counted = new Set<Profile>(
    profiles.length === 1 && only !== undefined && isStandalone(only)
      ? [only]
      : ['bootstrap', ...profiles],
  );
  let ramGiB = 0;
  let diskGiB = 0;
  for (const p of counted) {
    ramGiB += table[p].ramGiB;
    diskGiB += table[p].diskGiB;
  }
  const label = PROFILES.filter((p) => !isStandalone(p)).every((p) => counted.has(p))
    ? 'full'
    : PROFILES.filter((p) => counted.has(p)).join('+');
  return { ramGiB, diskGiB, label };
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
    timer.unref();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

const errorText = (err: unknown): string => (err instanceof Error ? err.message : String(err));

// 1. .env

export function checkEnvFile(
  stack: StackDir,
  env: Record<string, string> | undefined,
): CheckResult {
  const name = '.env';
  if (env === undefined)
    return {
      name,
      status: 'fail',
      detail: `${stack.envPath} is missing`,
      hint: `run datamancy init --domain <your domain> --dir ${stack.dir}`,
    };
  const { required } = composeVariables(renderCompose(stack.catalog));
  const missing = required.filter((v) => env[v] === undefined || env[v] === '');
  if (missing.length > 0)
    return {
      name,
      status: 'fail',
      detail: `${stack.envPath} lacks ${String(missing.length)} variable(s) the compose file needs: ${missing.join(', ')}`,
      hint: `run datamancy init --dir ${stack.dir} (it fills in what is missing and keeps the rest)`,
    };
  return {
    name,
    status: 'pass',
    detail: `${stack.envPath} defines all ${String(required.length)} variables the compose file needs`,
  };
}

// 2. container engine and compose tool

/** The engine as container-engine resolves it (DOCKER_HOST, else the usual sockets). */
export function engineFromEnv(env: NodeJS.ProcessEnv = process.env): Engine {
  return createEngine(env.DOCKER_HOST, env.XDG_RUNTIME_DIR);
}

/**
 * Pings the engine for its name and version. A container list comes first: it can be
 * aborted, so an engine that accepts the connection and never answers leaves nothing open.
 */
export async function checkEngine(
  engine: () => Pick<Engine, 'ping' | 'list' | 'endpoint'>,
  timeoutMs = ENGINE_TIMEOUT_MS,
): Promise<CheckResult> {
  const name = 'container engine';
  let target: Pick<Engine, 'ping' | 'list' | 'endpoint'>;
  try {
    target = engine();
  } catch (err) {
    return {
      name,
      status: 'fail',
      detail: errorText(err),
      hint: 'set DOCKER_HOST to unix:///path/to/docker.sock or tcp://host:port, or unset it',
    };
  }
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    await withTimeout(target.list({ all: false, signal }), timeoutMs + 500, target.endpoint);
    const info = await withTimeout(target.ping(signal), timeoutMs, target.endpoint);
    return {
      name,
      status: 'pass',
      detail: `${info.product} ${info.version} (API ${info.apiVersion}) at ${info.endpoint}`,
    };
  } catch (err) {
    return {
      name,
      status: 'fail',
      // the engine's message carries its own advice after the first ';'
      detail: signal.aborted
        ? `no answer from ${target.endpoint} within ${String(timeoutMs / 1000)} s`
        : (errorText(err).split(';')[0] ?? ''),
      hint: 'start Docker (systemctl start docker) or the Podman API (systemctl enable --now podman.socket), or point DOCKER_HOST at it',
    };
  }
}

/** The first line a command prints when it exits 0 within the timeout, else undefined. */
function firstLineOf(
  argv: readonly string[],
  timeoutMs = EXEC_TIMEOUT_MS,
): Promise<string | undefined> {
  const [file, ...args] = argv;
  if (file === undefined) return Promise.resolve(undefined);
  return new Promise((done) => {
    execFile(file, args, { timeout: timeoutMs, encoding: 'utf8' }, (err, stdout) => {
      if (err !== null) done(undefined);
      else
        done(
          stdout
            .split('\n')
            .find((l) => l.trim() !== '')
            ?.trim() ?? '',
        );
    });
  });
}

export async function checkComposeTool(
  candidates: readonly (readonly string[])[] = COMPOSE_TOOLS,
): Promise<CheckResult> {
  const name = 'compose tool';
  for (const argv of candidates) {
    const line = await firstLineOf(argv);
    if (line !== undefined)
      return { name, status: 'pass', detail: `${argv.slice(0, -1).join(' ')}: ${line}` };
  }
  return {
    name,
    status: 'warn',
    detail: `none found (tried ${candidates.map((c) => c.slice(0, -1).join(' ')).join(', ')})`,
    hint: 'optional: datamancy up talks to the Engine API itself; install docker-compose-plugin to use docker compose directly',
  };
}

// 3. ports

/** Binds host:port for a moment and closes at once; the bind error, if any. */
export function tryListen(port: number, host: string): Promise<NodeJS.ErrnoException | undefined> {
  return new Promise((done) => {
    const server = createServer();
    server.once('error', (err: NodeJS.ErrnoException) => done(err));
    server.listen({ port, host, exclusive: true }, () => server.close(() => done(undefined)));
  });
}

/** Whether a container named `caddy` is running per the engine; false when it cannot tell. */
export async function caddyRunning(
  engine: () => Pick<Engine, 'list'>,
  timeoutMs = ENGINE_TIMEOUT_MS,
): Promise<boolean> {
  try {
    const list = await withTimeout(
      engine().list({ all: false, signal: AbortSignal.timeout(timeoutMs) }),
      timeoutMs,
      'container list',
    );
    return list.some((c) => c.name === 'caddy' && c.state === 'running');
  } catch {
    return false;
  }
}

export async function checkPort(
  port: number,
  options: { host?: string; servedByCaddy?: () => Promise<boolean> } = {},
): Promise<CheckResult> {
  const name = `port ${String(port)}`;
  const host = options.host ?? '0.0.0.0';
  const err = await tryListen(port, host);
  if (err === undefined) return { name, status: 'pass', detail: `free on ${host}` };
  // the stack already up: fine, whether the port is in use or (unprivileged) out of reach
  if (
    (err.code === 'EADDRINUSE' || err.code === 'EACCES') &&
    (await options.servedByCaddy?.()) === true
  )
    return { name, status: 'pass', detail: "served by the stack's caddy" };
  if (err.code === 'EADDRINUSE') {
    return {
      name,
      status: 'fail',
      detail: `port ${String(port)} is taken by another process`,
      hint: `find it with ss -ltnp 'sport = :${String(port)}' and stop it: the stack's caddy publishes 80 and 443`,
    };
  }
  if (err.code === 'EACCES')
    return {
      name,
      status: 'fail',
      detail: `not allowed to listen on ${host}:${String(port)} (EACCES)`,
      hint: `run as root, or allow unprivileged ports: sysctl net.ipv4.ip_unprivileged_port_start=80`,
    };
  return {
    name,
    status: 'fail',
    detail: `cannot listen on ${host}:${String(port)}: ${err.code ?? err.message}`,
    hint: 'the stack publishes 80 and 443 on every address of this host',
  };
}

// 4. RAM and disk

export function checkMemory(
  totalBytes: number,
  need: Requirement & { label: string },
): CheckResult {
  const name = 'memory';
  const needBytes = need.ramGiB * GIB;
  const detail = `${gib(totalBytes)} total; ${need.label} needs ${gib(needBytes)}`;
  if (totalBytes >= needBytes) return { name, status: 'pass', detail };
  return {
    name,
    status: totalBytes >= needBytes * RAM_WARN_RATIO ? 'warn' : 'fail',
    detail,
    hint: 'add RAM or select fewer profiles (--profile); short of it, services get OOM-killed',
  };
}

/** Where the data goes: STACK_DATA_DIR against the stack dir, else the stack dir itself. */
export function dataPath(stack: StackDir, env: Record<string, string> | undefined): string {
  const configured = env?.STACK_DATA_DIR;
  if (configured !== undefined && configured !== '') {
    const path = resolve(stack.dir, configured);
    if (existsSync(path)) return path;
  }
  return resolve(stack.dir);
}

export function checkDisk(
  path: string,
  need: Requirement & { label: string },
  freeBytes?: number,
): CheckResult {
  const name = 'disk';
  let free = freeBytes;
  if (free === undefined) {
    try {
      const s = statfsSync(path);
      free = s.bavail * s.bsize;
    } catch (err) {
      return {
        name,
        status: 'fail',
        detail: `cannot read free space at ${path}: ${errorText(err)}`,
      };
    }
  }
  const needBytes = need.diskGiB * GIB;
  const detail = `${gib(free)} free at ${path}; ${need.label} needs ${gib(needBytes)}`;
  if (free >= needBytes) return { name, status: 'pass', detail };
  return {
    name,
    status: 'fail',
    detail,
    hint: 'free up space, or put the data on a larger disk: datamancy init --data-dir <dir>',
  };
}

// 5. GPU

/** Services of the selected profiles (after effectiveProfiles) that want a GPU. */
export function gpuServices(catalog: Catalog, profiles: readonly Profile[]): string[] {
  const effective = effectiveProfiles(catalog);
  return catalog.services
    .filter(
      (s) => s.gpu && (effective.get(s.name) ?? []).some((p) => profiles.includes(p as Profile)),
    )
    .map((s) => s.name);
}

export async function checkGpu(services: readonly string[]): Promise<CheckResult> {
  const name = 'GPU';
  if (services.length === 0)
    return { name, status: 'pass', detail: 'not needed: no selected service uses a GPU' };
  const forWhom = `(for ${services.join(', ')})`;
  if (existsSync(GPU_DEVICE)) return { name, status: 'pass', detail: `${GPU_DEVICE} ${forWhom}` };
  const line = await firstLineOf(['nvidia-smi', '-L']);
  if (line !== undefined) return { name, status: 'pass', detail: `${line} ${forWhom}` };
  return {
    name,
    status: 'warn',
    detail: `no NVIDIA GPU found (no ${GPU_DEVICE}, no working nvidia-smi) ${forWhom}`,
    hint: 'vLLM needs an NVIDIA GPU and the NVIDIA container toolkit; without one leave vLLM out or point the model router at a CPU backend',
  };
}

// 6. DNS

/** auth.<domain> and one other public host name of the selected profiles. */
export function dnsNames(catalog: Catalog, profiles: readonly Profile[], domain: string): string[] {
  const effective = effectiveProfiles(catalog);
  const selected = (s: Catalog['services'][number]): boolean =>
    (effective.get(s.name) ?? []).some((p) => profiles.includes(p as Profile));
  const others = catalog.services.filter((s) => s.hostname !== undefined && s.hostname !== 'auth');
  const other = (others.find(selected) ?? others[0])?.hostname;
  return ['auth', ...(other === undefined ? [] : [other])].map((h) => `${h}.${domain}`);
}

/** Special-use names (RFC 6761) no DNS server answers for: only a hosts file can. */
const SPECIAL_USE = /\.(test|example|invalid|localhost)$/;

/** The address a hosts file gives `host`, or undefined. */
export function hostsFileAddress(host: string, hostsFile = '/etc/hosts'): string | undefined {
  let text: string;
  try {
    text = readFileSync(hostsFile, 'utf8');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n')) {
    const [address, ...names] = line.replace(/#.*/, '').trim().split(/\s+/);
    if (address !== undefined && address !== '' && names.includes(host)) return address;
  }
  return undefined;
}

export async function checkDns(
  names: readonly string[],
  domain: string,
  timeoutMs = DNS_TIMEOUT_MS,
  hostsFile = '/etc/hosts',
): Promise<CheckResult[]> {
  return Promise.all(
    names.map(async (host): Promise<CheckResult> => {
      const name = `DNS ${host}`;
      if (SPECIAL_USE.test(host)) {
        // never sent to a DNS server: special-use names resolve from the hosts file or not at all
        const address = hostsFileAddress(host, hostsFile);
        return address === undefined
          ? {
              name,
              status: 'warn',
              detail: `not in ${hostsFile} (a special-use name no DNS server answers)`,
              hint: `add "<this host's address> ${names.join(' ')} …" to ${hostsFile}`,
            }
          : { name, status: 'pass', detail: `${hostsFile} gives ${address}` };
      }
      try {
        const { address } = await withTimeout(lookup(host), timeoutMs, host);
        return { name, status: 'pass', detail: `resolves to ${address}` };
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        return {
          name,
          status: 'warn',
          detail: `does not resolve (${code ?? errorText(err)})`,
          hint: `add a wildcard DNS record *.${domain} pointing at this host, or for a private domain /etc/hosts entries (<this host's address> ${names.join(' ')} …)`,
        };
      }
    }),
  );
}

// all of it

export interface DoctorOptions {
  stack: StackDir;
  profiles: readonly Profile[];
  engine?: () => Engine;
  ports?: readonly number[];
  portHost?: string;
  requirements?: Readonly<Record<Profile, Requirement>>;
  composeTools?: readonly (readonly string[])[];
  progress?: (what: string) => void;
}

export async function runDoctor(options: DoctorOptions): Promise<CheckResult[]> {
  const { stack, profiles } = options;
  const progress = options.progress ?? (() => undefined);
  let cached: Engine | undefined;
  const engine = (): Engine => (cached ??= (options.engine ?? engineFromEnv)());
  const env = readEnvFile(stack.envPath);
  const checks: CheckResult[] = [];

  progress('.env');
  checks.push(checkEnvFile(stack, env));
  progress('container engine');
  checks.push(await checkEngine(engine));
  progress('compose tool');
  checks.push(await checkComposeTool(options.composeTools));
  for (const port of options.ports ?? DEFAULT_PORTS) {
    progress(`port ${String(port)}`);
    checks.push(
      await checkPort(port, {
        ...(options.portHost === undefined ? {} : { host: options.portHost }),
        servedByCaddy: () => caddyRunning(engine),
      }),
    );
  }
  progress('memory and disk');
  const need = requirementFor(profiles, options.requirements);
  checks.push(checkMemory(totalmem(), need));
  checks.push(checkDisk(dataPath(stack, env), need));
  progress('GPU');
  checks.push(await checkGpu(gpuServices(stack.catalog, profiles)));
  progress('DNS');
  const domain = env?.DOMAIN;
  if (domain === undefined || domain === '')
    checks.push({
      name: 'DNS',
      status: 'warn',
      detail: `no DOMAIN (${env === undefined ? `${stack.envPath} is missing` : `not set in ${stack.envPath}`})`,
      hint: `run datamancy init --domain <your domain> --dir ${stack.dir}`,
    });
  else checks.push(...(await checkDns(dnsNames(stack.catalog, profiles, domain), domain)));
  return checks;
}

export function summarize(checks: readonly CheckResult[]): Record<CheckStatus, number> {
  const summary = { pass: 0, warn: 0, fail: 0 };
  for (const c of checks) summary[c.status] += 1;
  return summary;
}

const SYMBOL: Readonly<Record<CheckStatus, string>> = { pass: '✓', warn: '!', fail: '✗' };

export function formatTable(checks: readonly CheckResult[]): string {
  const width = Math.max(...checks.map((c) => c.name.length));
  const lines: string[] = [];
  for (const c of checks) {
    lines.push(`${SYMBOL[c.status]} ${c.name.padEnd(width)}  ${c.detail}`);
    if (c.status !== 'pass' && c.hint !== undefined)
      lines.push(`  ${' '.repeat(width)}  → ${c.hint}`);
  }
  const s = summarize(checks);
  lines.push('', `${String(s.pass)} passed, ${String(s.warn)} warnings, ${String(s.fail)} failed`);
  return `${lines.join('\n')}\n`;
}

interface DoctorFlags {
  dir: string;
  catalog?: string;
  profile?: string[];
  json?: boolean;
}

export function registerDoctor(program: Command): void {
  program
    .command('doctor')
    .description(
      'pre-flight checks before bringing the stack up: .env, container engine, ports 80/443, RAM, disk, GPU, DNS',
    )
    .option('--dir <dir>', 'the stack directory', 'stack')
    .option('--catalog <file>', 'the catalog (default <dir>/catalog.yaml)')
    .option(
      '--profile <name...>',
      `profiles to check for (repeatable or comma-separated; ${PROFILES.join(', ')}, all); default bootstrap`,
    )
    .option('--json', 'print {checks, summary} as JSON')
    .addHelpText(
      'after',
      [
        '',
        'Each check passes, warns or fails; warnings and failures say how to fix them.',
        'RAM and disk needed: bootstrap 8 GiB / 20 GiB; databases +2/+10, applications +6/+30,',
        'infrastructure +1/+10, bootstrap_vector_dbs +1/+10 (all: 18 GiB / 80 GiB).',
        'Exit code: 0 nothing failed, 1 a check failed, 2 a usage mistake. No secret is printed.',
        '',
        'Examples:',
        '  datamancy doctor',
        '  datamancy doctor --profile all',
        '  datamancy doctor --profile bootstrap,databases --json',
        '  DOCKER_HOST=unix:///run/user/1000/podman/podman.sock datamancy doctor',
      ].join('\n'),
    )
    .action(async (flags: DoctorFlags) => {
      const profiles = parseProfiles(flags.profile);
      const stack = openStackDir(flags);
      const tty = process.stderr.isTTY;
      const checks = await runDoctor({
        stack,
        profiles,
        ...(tty ? { progress: (what) => process.stderr.write(`\r\x1b[Kchecking ${what}…`) } : {}),
      });
      if (tty) process.stderr.write('\r\x1b[K');
      const summary = summarize(checks);
      process.stdout.write(
        flags.json === true
          ? `${JSON.stringify({ checks, summary }, null, 2)}\n`
          : formatTable(checks),
      );
      if (summary.fail > 0) process.exitCode = 1;
    });
}
