/**
 * Checks of the request bodies the control-plane policy reads. Each names the keys it accepts
 * (an allowlist: the engine decodes JSON keys case-insensitively, so `privileged` would be
 * `Privileged` to it and a blocklist would miss it) and returns the object to forward. The
 * proxy sends that object re-serialised, never the bytes it received, so the engine decodes
 * exactly what was checked (no duplicate keys, no escapes read two ways).
 */

/** The body as the proxy read it. */
export type BodyFacts =
  { kind: 'empty' } | { kind: 'json'; value: unknown } | { kind: 'invalid'; reason: string };

export interface Refusal {
  ok: false;
  reason: string;
}
/** The object to forward (undefined: forward no body), or why the body is refused. */
export type BodyCheck = { ok: true; body: Record<string, unknown> | undefined } | Refusal;

type Json = Record<string, unknown>;

const fail = (reason: string): Refusal => ({ ok: false, reason });

/**
 * dockerode serialises the options object it was given, signal included: `abortSignal`
 * arrives as `{}` (and as `abortSignal=` or `abortSignal=%7B%7D` in a query). It carries
 * nothing; it is accepted in that form only and dropped before forwarding.
 */
export const DOCKERODE_ARTEFACT = 'abortSignal';

function isArtefact(key: string, value: unknown): boolean {
  return (
    key === DOCKERODE_ARTEFACT &&
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    Object.keys(value).length === 0
  );
}

/** The body as an object without the dockerode artefact, or why it is not one. */
function asObject(facts: BodyFacts): Json | string {
  if (facts.kind === 'invalid') return facts.reason;
  if (facts.kind === 'empty') return {};
  const value = facts.value;
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return 'the body is not a JSON object';
  return Object.fromEntries(Object.entries(value).filter(([k, v]) => !isArtefact(k, v)));
}

const isInt = (v: unknown, min: number, max: number): v is number =>
  typeof v === 'number' && Number.isSafeInteger(v) && v >= min && v <= max;

/** Resource fields `POST /containers/{id}/update` may change; all integers. -1: unlimited swap. */
export const UPDATE_KEYS: Readonly<Record<string, readonly [number, number]>> = {
  Memory: [0, 2 ** 50],
  MemorySwap: [-1, 2 ** 50],
  MemoryReservation: [0, 2 ** 50],
  NanoCpus: [0, 2 ** 40],
  CpuShares: [0, 262_144],
  CpuQuota: [-1, 2 ** 40],
  CpuPeriod: [0, 1_000_000],
};

export function checkUpdateBody(facts: BodyFacts): BodyCheck {
  const body = asObject(facts);
  if (typeof body === 'string') return fail(body);
  const keys = Object.keys(body);
  if (keys.length === 0) return fail('an update without resource fields');
  for (const key of keys) {
    const range = Object.hasOwn(UPDATE_KEYS, key) ? UPDATE_KEYS[key] : undefined;
    if (range === undefined)
      return fail(`update key "${key}" is not a resource limit this policy lets change`);
    if (!isInt(body[key], range[0], range[1]))
      return fail(`update key "${key}" must be an integer from ${range[0]} to ${range[1]}`);
  }
  return { ok: true, body };
}

/** An exec's process: Cmd as argv, attached output, nothing that changes who or where it runs. */
export interface ExecRequest {
  argv: string[];
  body: Json;
}

const MAX_ARGV = 64;
const MAX_ARG_LENGTH = 4096;

/**
 * Keys of an exec create body and the values the policy accepts. Keys that could change who
 * runs the command or how (`User`, `Privileged`, `Env`, `WorkingDir`, `AttachStdin`) are
 * accepted only with their default value, which Docker's own CLI sends.
 */
const EXEC_KEYS: Readonly<Record<string, (v: unknown) => string | undefined>> = {
  Cmd: () => undefined, // checked below
  AttachStdout: (v) => (typeof v === 'boolean' ? undefined : 'must be a boolean'),
  AttachStderr: (v) => (typeof v === 'boolean' ? undefined : 'must be a boolean'),
  Tty: (v) => (typeof v === 'boolean' ? undefined : 'must be a boolean'),
  AttachStdin: (v) => (v === false ? undefined : 'stdin may not be attached'),
  Privileged: (v) => (v === false ? undefined : 'privileged exec is never allowed'),
  User: (v) => (v === '' ? undefined : 'a User override is never allowed'),
  WorkingDir: (v) => (v === '' ? undefined : 'a WorkingDir override is never allowed'),
  Env: (v) =>
    v === null || (Array.isArray(v) && v.length === 0)
      ? undefined
      : 'an Env override is never allowed',
  DetachKeys: (v) => (v === '' ? undefined : 'DetachKeys is not allowed'),
  ConsoleSize: (v) =>
    v === null || (Array.isArray(v) && v.length === 2 && v.every((n) => isInt(n, 0, 65_535)))
      ? undefined
      : 'must be [height, width]',
};

export function checkExecBody(facts: BodyFacts): { ok: true; exec: ExecRequest } | Refusal {
  const body = asObject(facts);
  if (typeof body === 'string') return fail(body);
  for (const [key, value] of Object.entries(body)) {
    const check = Object.hasOwn(EXEC_KEYS, key) ? EXEC_KEYS[key] : undefined;
    if (check === undefined) return fail(`exec key "${key}" is not allowed`);
    const problem = check(value);
    if (problem !== undefined) return fail(`exec ${key}: ${problem}`);
  }
  const cmd = body.Cmd;
  if (
    !Array.isArray(cmd) ||
    cmd.length === 0 ||
    cmd.length > MAX_ARGV ||
    !cmd.every((a) => typeof a === 'string' && a.length > 0 && a.length <= MAX_ARG_LENGTH)
  ) {
    return fail(`exec Cmd must be 1 to ${MAX_ARGV} non-empty strings (argv, no shell)`);
  }
  return { ok: true, exec: { argv: cmd as string[], body } };
}

/** `POST /containers/{id}/stop|restart`: dockerode repeats the query as a body (`{"t":10}`). */
export function checkTimeoutBody(facts: BodyFacts, queryT: string | undefined): BodyCheck {
  const body = asObject(facts);
  if (typeof body === 'string') return fail(body);
  for (const [key, value] of Object.entries(body)) {
    if (key !== 't') return fail(`body key "${key}" is not allowed here`);
    if (!isInt(value, 0, 3600)) return fail('t must be an integer from 0 to 3600');
    if (queryT !== undefined && String(value) !== queryT)
      return fail('t in the body differs from t in the query');
  }
  return { ok: true, body: Object.keys(body).length === 0 ? undefined : body };
}

/** `POST /exec/{id}/resize`: dockerode repeats `h` and `w` as a body. */
export function checkResizeBody(facts: BodyFacts): BodyCheck {
  const body = asObject(facts);
  if (typeof body === 'string') return fail(body);
  for (const [key, value] of Object.entries(body)) {
    if (key !== 'h' && key !== 'w') return fail(`body key "${key}" is not allowed here`);
    if (!isInt(value, 0, 65_535)) return fail(`${key} must be an integer from 0 to 65535`);
  }
  return { ok: true, body: Object.keys(body).length === 0 ? undefined : body };
}
