import { execNamesOf, isExecAllowed, type ExecAllowlist } from '@datamancy/container-engine';
import {
  checkExecBody,
  checkResizeBody,
  checkTimeoutBody,
  checkUpdateBody,
  type BodyCheck,
  type BodyFacts,
} from './bodies.ts';
import type { PolicyName } from './config.ts';
import { parseTarget, type RequestTarget } from './target.ts';

/**
 * The proxy's decision, as a pure function of the request and the facts gathered about it.
 * `decide` answers `need` when it lacks a fact (the body, the target container, whether an exec
 * id is ours); the proxy gathers that one fact and asks again, at most once per kind. Anything
 * not matched by a row of CONTROL_PLANE_ROUTES is denied.
 */

export interface PolicyOptions {
  policy: PolicyName;
  execAllowlist: ExecAllowlist;
  bodyLimitBytes: number;
}

/** What the request line and headers say. */
export interface PolicyRequest {
  method: string;
  /** The request target as received (`req.url`). */
  url: string;
  /** The client asked for a connection upgrade (dockerode's `hijack`). */
  upgrade: boolean;
  /** The Content-Length header, when given. */
  contentLength: number | undefined;
  /** The body is sent with Transfer-Encoding (its length unknown until read). */
  chunked: boolean;
}

/** The target container, as the engine's inspect describes it. */
export interface ContainerFacts {
  id: string;
  name: string;
  composeService?: string | undefined;
  labels: Readonly<Record<string, string>>;
}

export interface PolicyFacts {
  body?: BodyFacts;
  /** null: the engine has no such container. */
  container?: ContainerFacts | null;
  /** Whether this proxy created the exec named in the path (and it has not expired). */
  execKnown?: boolean;
}

/** What to send upstream as the body. */
export type ForwardBody = { kind: 'pipe' } | { kind: 'none' } | { kind: 'json'; value: unknown };

export type Decision =
  | {
      action: 'allow';
      /** `METHOD /path` without version prefix or query, for logs. */
      display: string;
      route: string;
      /** The target to send upstream (the container's full id in place of the name given). */
      url: string;
      body: ForwardBody;
      /** Remember the exec id the engine answers with (exec create). */
      trackExec: boolean;
      /** The container or exec the request acts on (the container's full id once inspected). */
      subject?: string;
    }
  | { action: 'deny'; display: string; status: 403 | 404 | 413; reason: string; route?: string }
  | { action: 'need'; need: 'body' }
  | { action: 'need'; need: 'container' | 'exec'; id: string };

/** Containers carrying this label are never changed by Datamancy (the tool server's rule). */
export const UNMANAGED_LABEL = 'datamancy.manage';

type BodyRule = 'none' | 'pipe' | 'timeout' | 'update' | 'exec' | 'resize';

interface Route {
  id: string;
  methods: readonly string[];
  /** Anchored; the group `id` names the container or exec. */
  pattern: RegExp;
  /** Query keys allowed and the values each may take. */
  query: Readonly<Record<string, RegExp>>;
  body: BodyRule;
  /** `container`: inspected first (refusal of unmanaged containers, the exec allowlist). */
  subject?: 'container' | 'exec';
  /** May be sent as a connection upgrade (exec start with `hijack: true`). */
  upgrade?: boolean;
}

const NAME = '(?<id>[A-Za-z0-9][A-Za-z0-9_.-]{0,254})';
const ANY_BOOL = /^[A-Za-z0-9]{0,8}$/;
const INT = /^-?\d{1,10}$/;
const TIME = /^[A-Za-z0-9.:+-]{0,64}$/;
const FILTERS = /^[\s\S]{0,4096}$/;
/** dockerode's serialised AbortSignal (see bodies.ts). */
const ARTEFACT = { abortSignal: /^(\{\})?$/ };

/** The control-plane policy: exactly what packages/container-engine sends at run time. */
export const CONTROL_PLANE_ROUTES: readonly Route[] = [
  { id: 'ping', methods: ['GET', 'HEAD'], pattern: /^\/_ping$/, query: {}, body: 'none' },
  { id: 'version', methods: ['GET'], pattern: /^\/version$/, query: ARTEFACT, body: 'none' },
  { id: 'info', methods: ['GET'], pattern: /^\/info$/, query: ARTEFACT, body: 'none' },
  {
    id: 'container.list',
    methods: ['GET'],
    pattern: /^\/containers\/json$/,
    query: { all: ANY_BOOL, limit: INT, size: ANY_BOOL, filters: FILTERS, ...ARTEFACT },
    body: 'none',
  },
  {
    id: 'container.inspect',
    methods: ['GET'],
    pattern: new RegExp(`^/containers/${NAME}/json$`),
    query: { size: ANY_BOOL, ...ARTEFACT },
    body: 'none',
  },
  {
    id: 'container.logs',
    methods: ['GET'],
    pattern: new RegExp(`^/containers/${NAME}/logs$`),
    query: {
      follow: ANY_BOOL,
      stdout: ANY_BOOL,
      stderr: ANY_BOOL,
      timestamps: ANY_BOOL,
      since: TIME,
      until: TIME,
      tail: /^(all|\d{1,9})$/,
      ...ARTEFACT,
    },
    body: 'none',
  },
  {
    id: 'container.stats',
    methods: ['GET'],
    pattern: new RegExp(`^/containers/${NAME}/stats$`),
    query: { stream: ANY_BOOL, 'one-shot': ANY_BOOL, ...ARTEFACT },
    body: 'none',
  },
  {
    id: 'events',
    methods: ['GET'],
    pattern: /^\/events$/,
    query: { since: TIME, until: TIME, filters: FILTERS, ...ARTEFACT },
    body: 'none',
  },
  {
    id: 'container.start',
    methods: ['POST'],
    pattern: new RegExp(`^/containers/${NAME}/start$`),
    query: {},
    // API < 1.24 read a HostConfig from this body; no body at all is accepted.
    body: 'none',
    subject: 'container',
  },
  {
    id: 'container.stop',
    methods: ['POST'],
    pattern: new RegExp(`^/containers/${NAME}/stop$`),
    query: { t: /^\d{1,4}$/ },
    body: 'timeout',
    subject: 'container',
  },
  {
    id: 'container.restart',
    methods: ['POST'],
    pattern: new RegExp(`^/containers/${NAME}/restart$`),
    query: { t: /^\d{1,4}$/ },
    body: 'timeout',
    subject: 'container',
  },
  {
    id: 'container.update',
    methods: ['POST'],
    pattern: new RegExp(`^/containers/${NAME}/update$`),
    query: {},
    body: 'update',
    subject: 'container',
  },
  {
    id: 'exec.create',
    methods: ['POST'],
    pattern: new RegExp(`^/containers/${NAME}/exec$`),
    query: {},
    body: 'exec',
    subject: 'container',
  },
  {
    id: 'exec.start',
    methods: ['POST'],
    pattern: /^\/exec\/(?<id>[A-Za-z0-9]{1,128})\/start$/,
    query: {},
    // The command, user and privileges were fixed (and checked) at create; start's body
    // (Detach, Tty) cannot change them, and behind an upgrade it is part of the stream.
    body: 'pipe',
    subject: 'exec',
    upgrade: true,
  },
  {
    id: 'exec.resize',
    methods: ['POST'],
    pattern: /^\/exec\/(?<id>[A-Za-z0-9]{1,128})\/resize$/,
    query: { h: /^\d{1,5}$/, w: /^\d{1,5}$/ },
    body: 'resize',
    subject: 'exec',
  },
  {
    id: 'exec.inspect',
    methods: ['GET'],
    pattern: /^\/exec\/(?<id>[A-Za-z0-9]{1,128})\/json$/,
    query: {},
    body: 'none',
    subject: 'exec',
  },
];

function describe(method: string, url: string): string {
  const path = url.split('?')[0] ?? '';
  return `${method} ${path.length > 200 ? `${path.slice(0, 200)}…` : path}`;
}

function match(
  path: string,
  method: string,
): { route: Route; id: string | undefined } | { deny: string } {
  let pathMatched: Route | undefined;
  for (const route of CONTROL_PLANE_ROUTES) {
    const m = route.pattern.exec(path);
    if (m === null) continue;
    if (route.methods.includes(method)) return { route, id: m.groups?.id };
    pathMatched ??= route;
  }
  return {
    deny:
      pathMatched === undefined
        ? 'not on its allowlist'
        : `only ${pathMatched.methods.join('/')} is allowed on this path`,
  };
}

function checkQuery(route: Route, query: ReadonlyMap<string, string>): string | undefined {
  for (const [key, value] of query) {
    const pattern = Object.hasOwn(route.query, key) ? route.query[key] : undefined;
    if (pattern === undefined) return `query key "${key}" is not allowed on this route`;
    if (!pattern.test(value)) return `query value of "${key}" is malformed`;
  }
  return undefined;
}

function checkBody(route: Route, body: BodyFacts, target: RequestTarget): BodyCheck {
  switch (route.body) {
    case 'timeout':
      return checkTimeoutBody(body, target.query.get('t'));
    case 'update':
      return checkUpdateBody(body);
    case 'resize':
      return checkResizeBody(body);
    case 'exec': {
      const exec = checkExecBody(body);
      return exec.ok ? { ok: true, body: exec.exec.body } : exec;
    }
    case 'none':
    case 'pipe':
      return { ok: true, body: undefined };
  }
}

/** Decides one request under `options.policy`, given what is known so far. */
export function decide(
  options: PolicyOptions,
  request: PolicyRequest,
  facts: PolicyFacts = {},
): Decision {
  const display = describe(request.method, request.url);
  if (options.policy === 'full') {
    return {
      action: 'allow',
      display,
      route: 'full',
      url: request.url,
      body: { kind: 'pipe' },
      trackExec: false,
    };
  }
  const deny = (
    shown: string,
    reason: string,
    status: 403 | 404 | 413 = 403,
    route?: string,
  ): Decision => ({
    action: 'deny',
    display: shown,
    status,
    reason,
    ...(route === undefined ? {} : { route }),
  });

  const parsed = parseTarget(request.url);
  if (!parsed.ok) return deny(display, parsed.reason);
  const target = parsed.target;
  const shown = `${request.method} ${target.path}`;
  const denyRoute = (reason: string, status: 403 | 404 | 413 = 403, route?: string): Decision =>
    deny(shown, reason, status, route);

  const matched = match(target.path, request.method);
  if ('deny' in matched) return denyRoute(matched.deny);
  const { route, id } = matched;
  if (request.upgrade && route.upgrade !== true)
    return denyRoute('a connection upgrade is allowed only on exec start', 403, route.id);
  // Behind an upgrade the proxy forwards exactly the announced body and nothing after it, so
  // no second request can follow it to the engine: the body's length must be announced.
  if (request.upgrade && request.chunked)
    return denyRoute('a chunked body behind a connection upgrade', 403, route.id);
  if (request.upgrade && (request.contentLength ?? 0) > options.bodyLimitBytes)
    return denyRoute(`body over ${options.bodyLimitBytes} bytes`, 413, route.id);
  const queryProblem = checkQuery(route, target.query);
  if (queryProblem !== undefined) return denyRoute(queryProblem, 403, route.id);

  const hasBody = request.chunked || (request.contentLength ?? 0) > 0;
  if (route.body === 'none' && hasBody) return denyRoute('this route takes no body', 403, route.id);
  const readsBody = route.body !== 'none' && route.body !== 'pipe';
  if (readsBody && (request.contentLength ?? 0) > options.bodyLimitBytes) {
    return denyRoute(`body over ${options.bodyLimitBytes} bytes`, 413, route.id);
  }

  if (route.subject === 'exec' && id !== undefined) {
    if (facts.execKnown === undefined) return { action: 'need', need: 'exec', id };
    if (!facts.execKnown)
      return denyRoute(`exec ${id.slice(0, 12)} was not created through this proxy`, 403, route.id);
  }

  let body: BodyCheck = { ok: true, body: undefined };
  if (readsBody) {
    if (facts.body === undefined) return { action: 'need', need: 'body' };
    body = checkBody(route, facts.body, target);
    if (!body.ok) return denyRoute(body.reason, 403, route.id);
  }

  let forwardId = id;
  if (route.subject === 'container' && id !== undefined) {
    if (facts.container === undefined) return { action: 'need', need: 'container', id };
    const container = facts.container;
    if (container === null) return denyRoute(`No such container: ${id}`, 404, route.id);
    if (container.labels[UNMANAGED_LABEL] === 'false') {
      return denyRoute(`${container.name} is labelled ${UNMANAGED_LABEL}=false`, 403, route.id);
    }
    if (route.body === 'exec') {
      const argv = (body.ok ? (body.body?.Cmd as string[] | undefined) : undefined) ?? [];
      const names = execNamesOf({
        name: container.name,
        compose: { service: container.composeService },
      });
      if (!isExecAllowed(options.execAllowlist, names, argv)) {
        // the program, not its arguments: those may carry secrets, and the reason is logged
        return denyRoute(
          `${JSON.stringify((argv[0] ?? '').slice(0, 100))} with ${argv.length - 1} argument(s) is not on the exec allowlist of ${container.name}`,
          403,
          route.id,
        );
      }
    }
    // Act on the container that was checked, not on whatever the name means a moment later.
    forwardId = container.id;
  }

  // Every route with an id has the shape /<kind>/<id>/<action>.
  const segments = target.path.split('/');
  if (forwardId !== undefined) segments[2] = forwardId;
  const path = segments.join('/');
  return {
    action: 'allow',
    display: shown,
    route: route.id,
    url: `${target.versionPrefix}${path}${target.rawQuery === '' ? '' : `?${target.rawQuery}`}`,
    body: !readsBody
      ? { kind: 'pipe' }
      : body.ok && body.body !== undefined
        ? { kind: 'json', value: body.body }
        : { kind: 'none' },
    trackExec: route.id === 'exec.create',
    ...(forwardId === undefined ? {} : { subject: forwardId }),
  };
}

/** The denial message Docker clients print (`message`), naming the request and the policy. */
export function denialMessage(
  policy: PolicyName,
  decision: Extract<Decision, { action: 'deny' }>,
): string {
  return decision.status === 404
    ? `datamancy docker-proxy: ${decision.reason}`
    : `datamancy docker-proxy: ${decision.display} is not allowed by the ${policy} policy (${decision.reason})`;
}
