import { describe, expect, it } from 'vitest';
import {
  decide,
  denialMessage,
  type BodyFacts,
  type ContainerFacts,
  type Decision,
  type PolicyFacts,
  type PolicyOptions,
  type PolicyRequest,
} from '../src/index.ts';

const OPTIONS: PolicyOptions = {
  policy: 'control-plane',
  execAllowlist: {
    'stack-web-1': [['echo', 'hello']],
    db: [['pg_isready', '*']],
  },
  bodyLimitBytes: 64 * 1024,
};
const FULL_ID = 'a'.repeat(64);
const EXEC_ID = 'e'.repeat(64);
const WEB: ContainerFacts = {
  id: FULL_ID,
  name: 'stack-web-1',
  composeService: 'web',
  labels: { 'com.docker.compose.service': 'web' },
};
const DB: ContainerFacts = {
  id: 'b'.repeat(64),
  name: 'stack-db-1',
  composeService: 'db',
  labels: {},
};

interface Case {
  method: string;
  url: string;
  body?: unknown;
  /** A body the proxy could not parse. */
  invalidBody?: string;
  contentLength?: number;
  chunked?: boolean;
  upgrade?: boolean;
  container?: ContainerFacts | null;
  execKnown?: boolean;
}

function request(c: Case): PolicyRequest {
  const length =
    c.contentLength ??
    (c.body === undefined && c.invalidBody === undefined
      ? undefined
      : Buffer.byteLength(c.invalidBody ?? JSON.stringify(c.body)));
  return {
    method: c.method,
    url: c.url,
    upgrade: c.upgrade ?? false,
    contentLength: length,
    chunked: c.chunked ?? false,
  };
}

/** Runs decide the way the proxy does: each `need` answered from the case, at most 3 rounds. */
function settle(c: Case, options: PolicyOptions = OPTIONS): Decision {
  let facts: PolicyFacts = {};
  const needs: string[] = [];
  for (let round = 0; round < 4; round++) {
    const decision = decide(options, request(c), facts);
    if (decision.action !== 'need') return decision;
    expect(needs).not.toContain(decision.need);
    needs.push(decision.need);
    if (decision.need === 'body') {
      const body: BodyFacts =
        c.invalidBody !== undefined
          ? { kind: 'invalid', reason: c.invalidBody }
          : c.body === undefined
            ? { kind: 'empty' }
            : { kind: 'json', value: c.body };
      facts = { ...facts, body };
    } else if (decision.need === 'container') {
      facts = { ...facts, container: c.container === undefined ? WEB : c.container };
    } else {
      facts = { ...facts, execKnown: c.execKnown ?? false };
    }
  }
  throw new Error('decide kept asking');
}

const allowedTable: [string, Case][] = [
  ['ping', { method: 'GET', url: '/_ping' }],
  ['ping by HEAD', { method: 'HEAD', url: '/_ping' }],
  ['version', { method: 'GET', url: '/version' }],
  ['version with an API version prefix', { method: 'GET', url: '/v1.41/version' }],
  ['info', { method: 'GET', url: '/info' }],
  ['list', { method: 'GET', url: '/containers/json?all=true' }],
  [
    'list with filters',
    { method: 'GET', url: '/containers/json?all=1&filters=%7B%22label%22%3A%5B%22a%3Db%22%5D%7D' },
  ],
  [
    'list with dockerode abortSignal artefact',
    { method: 'GET', url: '/containers/json?all=true&abortSignal=%7B%7D' },
  ],
  ['list with empty abortSignal artefact', { method: 'GET', url: '/containers/json?abortSignal=' }],
  ['inspect', { method: 'GET', url: '/containers/stack-web-1/json' }],
  ['inspect by id', { method: 'GET', url: `/v1.43/containers/${FULL_ID}/json` }],
  [
    'logs with follow',
    { method: 'GET', url: '/containers/web/logs?follow=true&stdout=true&stderr=true&tail=100' },
  ],
  [
    'logs since a time',
    { method: 'GET', url: '/containers/web/logs?since=1700000000&timestamps=false' },
  ],
  ['stats one-shot', { method: 'GET', url: '/containers/web/stats?stream=false' }],
  [
    'events',
    {
      method: 'GET',
      url: '/events?since=1700000000&until=1700000100.5&filters=%7B%22type%22%3A%5B%22container%22%5D%7D',
    },
  ],
  ['start', { method: 'POST', url: '/containers/web/start' }],
  ['start with an empty body', { method: 'POST', url: '/containers/web/start', contentLength: 0 }],
  [
    'stop with t in query and body (dockerode)',
    { method: 'POST', url: '/containers/web/stop?t=10', body: { t: 10 } },
  ],
  ['restart', { method: 'POST', url: '/containers/web/restart?t=5' }],
  [
    'update memory',
    { method: 'POST', url: '/containers/web/update', body: { Memory: 268435456, MemorySwap: -1 } },
  ],
  [
    'update cpu fields',
    {
      method: 'POST',
      url: '/containers/web/update',
      body: {
        NanoCpus: 500000000,
        CpuShares: 512,
        CpuQuota: 50000,
        CpuPeriod: 100000,
        MemoryReservation: 1,
      },
    },
  ],
  [
    'update with the dockerode artefact',
    { method: 'POST', url: '/containers/web/update', body: { Memory: 1048576, abortSignal: {} } },
  ],
  [
    'an allowlisted exec (by container name)',
    {
      method: 'POST',
      url: '/containers/stack-web-1/exec',
      body: { Cmd: ['echo', 'hello'], AttachStdout: true, AttachStderr: true, Tty: false },
    },
  ],
  [
    'an allowlisted exec (by compose service, wildcard)',
    {
      method: 'POST',
      url: '/containers/stack-db-1/exec',
      body: { Cmd: ['pg_isready', '-U', 'postgres'], AttachStdout: true },
      container: DB,
    },
  ],
  [
    'an exec with the Docker CLI defaults',
    {
      method: 'POST',
      url: '/v1.41/containers/stack-web-1/exec',
      body: {
        Cmd: ['echo', 'hello'],
        User: '',
        Privileged: false,
        Tty: false,
        ConsoleSize: [24, 80],
        AttachStdin: false,
        AttachStderr: true,
        AttachStdout: true,
        DetachKeys: '',
        Env: null,
        WorkingDir: '',
      },
    },
  ],
  [
    'exec start (hijacked) of a known exec',
    {
      method: 'POST',
      url: `/exec/${EXEC_ID}/start`,
      upgrade: true,
      execKnown: true,
      contentLength: 30,
    },
  ],
  [
    'exec start (not hijacked) of a known exec',
    {
      method: 'POST',
      url: `/exec/${EXEC_ID}/start`,
      execKnown: true,
      body: { Detach: false, Tty: false },
    },
  ],
  [
    'exec resize of a known exec',
    {
      method: 'POST',
      url: `/exec/${EXEC_ID}/resize?h=24&w=80`,
      body: { h: 24, w: 80 },
      execKnown: true,
    },
  ],
  [
    'exec inspect of a known exec',
    { method: 'GET', url: `/exec/${EXEC_ID}/json`, execKnown: true },
  ],
];

describe('control-plane policy: what the control plane calls is allowed', () => {
  it.each(allowedTable)('%s', (_name, c) => {
    const decision = settle(c);
    expect(decision, JSON.stringify(decision)).toMatchObject({ action: 'allow' });
  });
});

/** [name, case, status, a fragment of the reason] */
const deniedTable: [string, Case, number, string][] = [
  // routes never allowed
  [
    'container create',
    { method: 'POST', url: '/containers/create', body: { Image: 'x' } },
    403,
    'not on its allowlist',
  ],
  [
    'container create behind a version prefix',
    { method: 'POST', url: '/v1.41/containers/create?name=x' },
    403,
    'not on its allowlist',
  ],
  [
    'image pull',
    { method: 'POST', url: '/images/create?fromImage=alpine&tag=latest' },
    403,
    'not on its allowlist',
  ],
  [
    'image build',
    { method: 'POST', url: '/build?t=x', chunked: true },
    403,
    'not on its allowlist',
  ],
  ['image push', { method: 'POST', url: '/images/alpine/push' }, 403, 'not on its allowlist'],
  ['image load', { method: 'POST', url: '/images/load' }, 403, 'not on its allowlist'],
  [
    'archive read (leaks files)',
    { method: 'GET', url: '/containers/web/archive?path=/etc/shadow' },
    403,
    'not on its allowlist',
  ],
  [
    'archive stat',
    { method: 'HEAD', url: '/containers/web/archive?path=/' },
    403,
    'not on its allowlist',
  ],
  [
    'archive write',
    { method: 'PUT', url: '/containers/web/archive?path=/', chunked: true },
    403,
    'not on its allowlist',
  ],
  [
    'export (leaks files)',
    { method: 'GET', url: '/containers/web/export' },
    403,
    'not on its allowlist',
  ],
  [
    'kill',
    { method: 'POST', url: '/containers/web/kill?signal=KILL' },
    403,
    'not on its allowlist',
  ],
  [
    'attach',
    { method: 'POST', url: '/containers/web/attach?stream=1&stdin=1', upgrade: true },
    403,
    'not on its allowlist',
  ],
  [
    'rename',
    { method: 'POST', url: '/containers/web/rename?name=db' },
    403,
    'not on its allowlist',
  ],
  ['delete', { method: 'DELETE', url: '/containers/web?force=true' }, 403, 'not on its allowlist'],
  ['delete of an inspect path', { method: 'DELETE', url: '/containers/web/json' }, 403, 'only GET'],
  ['prune', { method: 'POST', url: '/containers/prune' }, 403, 'not on its allowlist'],
  ['commit', { method: 'POST', url: '/commit?container=web' }, 403, 'not on its allowlist'],
  ['volume create', { method: 'POST', url: '/volumes/create' }, 403, 'not on its allowlist'],
  ['volume list', { method: 'GET', url: '/volumes' }, 403, 'not on its allowlist'],
  ['secrets', { method: 'GET', url: '/secrets' }, 403, 'not on its allowlist'],
  ['plugins', { method: 'POST', url: '/plugins/pull?remote=x' }, 403, 'not on its allowlist'],
  ['swarm init', { method: 'POST', url: '/swarm/init' }, 403, 'not on its allowlist'],
  ['service create', { method: 'POST', url: '/services/create' }, 403, 'not on its allowlist'],
  ['network create', { method: 'POST', url: '/networks/create' }, 403, 'not on its allowlist'],
  [
    'network connect',
    { method: 'POST', url: '/networks/backend/connect' },
    403,
    'not on its allowlist',
  ],
  [
    'session (BuildKit)',
    { method: 'POST', url: '/session', upgrade: true },
    403,
    'not on its allowlist',
  ],
  [
    'Podman libpod API',
    { method: 'POST', url: '/v4.0.0/libpod/containers/create' },
    403,
    'not on its allowlist',
  ],
  [
    'libpod without version',
    { method: 'POST', url: '/libpod/containers/create' },
    403,
    'not on its allowlist',
  ],
  // traversal and normalisation
  ['dot-dot traversal', { method: 'POST', url: '/containers/web/../create' }, 403, 'dot segment'],
  [
    'dot-dot to a denied route from an allowed prefix',
    { method: 'GET', url: '/containers/json/../../images/json' },
    403,
    'dot segment',
  ],
  ['single-dot segment', { method: 'POST', url: '/containers/./web/start' }, 403, 'dot segment'],
  [
    'encoded dot-dot',
    { method: 'POST', url: '/containers/%2e%2e/create' },
    403,
    'percent-encoding',
  ],
  [
    'encoded dot-dot upper case',
    { method: 'POST', url: '/containers/web/%2E%2E/%2E%2E/build' },
    403,
    'percent-encoding',
  ],
  [
    'encoded slash',
    { method: 'POST', url: '/containers/web%2F..%2Fcreate/start' },
    403,
    'percent-encoding',
  ],
  ['encoded letter', { method: 'POST', url: '/containers/cre%61te' }, 403, 'percent-encoding'],
  ['double slash', { method: 'GET', url: '/containers//json' }, 403, 'empty path segment'],
  ['leading double slash', { method: 'GET', url: '//containers/json' }, 403, 'empty path segment'],
  ['trailing slash', { method: 'GET', url: '/containers/json/' }, 403, 'empty path segment'],
  [
    'trailing slash on start',
    { method: 'POST', url: '/containers/web/start/' },
    403,
    'empty path segment',
  ],
  ['backslash', { method: 'POST', url: '/containers\\create' }, 403, 'unexpected characters'],
  ['space', { method: 'GET', url: '/containers/json /x' }, 403, 'unexpected characters'],
  ['non-ASCII', { method: 'GET', url: '/contаiners/json' }, 403, 'unexpected characters'],
  [
    'absolute-form target',
    { method: 'GET', url: 'http://docker/containers/json' },
    403,
    'not an absolute path',
  ],
  ['fragment', { method: 'GET', url: '/containers/json#x' }, 403, 'fragment'],
  [
    'over-long target',
    { method: 'GET', url: `/containers/${'a'.repeat(9000)}/json` },
    403,
    'too long',
  ],
  // case tricks
  ['upper-case route', { method: 'GET', url: '/Containers/json' }, 403, 'not on its allowlist'],
  ['upper-case create', { method: 'POST', url: '/CONTAINERS/CREATE' }, 403, 'not on its allowlist'],
  [
    'upper-case action',
    { method: 'POST', url: '/containers/web/START' },
    403,
    'not on its allowlist',
  ],
  [
    'upper-case version prefix',
    { method: 'GET', url: '/V1.41/containers/json' },
    403,
    'not on its allowlist',
  ],
  ['lower-case method', { method: 'post', url: '/containers/web/start' }, 403, 'only POST'],
  // API versions
  [
    'API version below 1.24 (start read a HostConfig body then)',
    { method: 'POST', url: '/v1.23/containers/web/start' },
    403,
    'API version 1.23',
  ],
  ['API version 2', { method: 'GET', url: '/v2.0/containers/json' }, 403, 'API version 2.0'],
  [
    'double version prefix',
    { method: 'GET', url: '/v1.41/v1.41/containers/json' },
    403,
    'not on its allowlist',
  ],
  ['version prefix alone', { method: 'GET', url: '/v1.41' }, 403, 'nothing after'],
  // query tricks
  [
    'a query key twice',
    { method: 'POST', url: '/containers/web/stop?t=1&t=2' },
    403,
    'given twice',
  ],
  [
    'a query key twice, once encoded',
    { method: 'POST', url: '/containers/web/stop?t=1&%74=2' },
    403,
    'given twice',
  ],
  [
    'semicolon in the query',
    { method: 'POST', url: '/containers/web/stop?t=1;signal=KILL' },
    403,
    '";"',
  ],
  [
    'stop with a signal',
    { method: 'POST', url: '/containers/web/stop?signal=SIGKILL' },
    403,
    'query key "signal"',
  ],
  ['non-numeric t', { method: 'POST', url: '/containers/web/restart?t=10s' }, 403, 'malformed'],
  [
    'start with detachKeys',
    { method: 'POST', url: '/containers/web/start?detachKeys=ctrl-p' },
    403,
    'query key "detachKeys"',
  ],
  [
    'a query on exec create',
    {
      method: 'POST',
      url: '/containers/web/exec?Privileged=true',
      body: { Cmd: ['echo', 'hello'] },
    },
    403,
    'query key "Privileged"',
  ],
  [
    'archive path smuggled as a query of an allowed route',
    { method: 'GET', url: '/containers/web/json?path=/etc/shadow' },
    403,
    'query key "path"',
  ],
  [
    'malformed percent-encoding in the query',
    { method: 'GET', url: '/containers/json?all=%zz' },
    403,
    'malformed percent-encoding',
  ],
  [
    'artefact key with a value',
    { method: 'GET', url: '/containers/json?abortSignal=1' },
    403,
    'malformed',
  ],
  // bodies
  [
    'start with a body (HostConfig on start)',
    {
      method: 'POST',
      url: '/containers/web/start',
      body: { Privileged: true, Binds: ['/:/host'] },
    },
    403,
    'takes no body',
  ],
  [
    'start with a chunked body',
    { method: 'POST', url: '/containers/web/start', chunked: true },
    403,
    'takes no body',
  ],
  [
    'GET with a body',
    { method: 'GET', url: '/containers/json', contentLength: 10 },
    403,
    'takes no body',
  ],
  [
    'stop body with another key',
    { method: 'POST', url: '/containers/web/stop?t=1', body: { t: 1, signal: 'KILL' } },
    403,
    'body key "signal"',
  ],
  [
    'stop body t differs from the query',
    { method: 'POST', url: '/containers/web/stop?t=1', body: { t: 600 } },
    403,
    'differs',
  ],
  [
    'update with Privileged',
    { method: 'POST', url: '/containers/web/update', body: { Memory: 1048576, Privileged: true } },
    403,
    '"Privileged"',
  ],
  [
    'update with Devices',
    {
      method: 'POST',
      url: '/containers/web/update',
      body: { Devices: [{ PathOnHost: '/dev/sda' }] },
    },
    403,
    '"Devices"',
  ],
  [
    'update with DeviceCgroupRules',
    { method: 'POST', url: '/containers/web/update', body: { DeviceCgroupRules: ['b *:* rwm'] } },
    403,
    '"DeviceCgroupRules"',
  ],
  [
    'update with RestartPolicy',
    { method: 'POST', url: '/containers/web/update', body: { RestartPolicy: { Name: 'always' } } },
    403,
    '"RestartPolicy"',
  ],
  [
    'update with a lower-case key (Go decodes it case-insensitively)',
    { method: 'POST', url: '/containers/web/update', body: { memory: 1048576 } },
    403,
    '"memory"',
  ],
  [
    'update with a negative Memory',
    { method: 'POST', url: '/containers/web/update', body: { Memory: -5 } },
    403,
    'integer',
  ],
  [
    'update with a string Memory',
    { method: 'POST', url: '/containers/web/update', body: { Memory: '1g' } },
    403,
    'integer',
  ],
  [
    'update with a fractional Memory',
    { method: 'POST', url: '/containers/web/update', body: { Memory: 1.5 } },
    403,
    'integer',
  ],
  [
    'update with nothing to change',
    { method: 'POST', url: '/containers/web/update', body: {} },
    403,
    'without resource fields',
  ],
  [
    'update with an array body',
    { method: 'POST', url: '/containers/web/update', body: [{ Memory: 1 }] },
    403,
    'not a JSON object',
  ],
  [
    'update with a non-JSON body',
    { method: 'POST', url: '/containers/web/update', invalidBody: 'the body is not JSON' },
    403,
    'not JSON',
  ],
  [
    'update with a body over the limit',
    { method: 'POST', url: '/containers/web/update', contentLength: 64 * 1024 + 1 },
    413,
    'over 65536 bytes',
  ],
  [
    'exec with a body over the limit',
    { method: 'POST', url: '/containers/web/exec', contentLength: 10_000_000 },
    413,
    'over',
  ],
  [
    'update behind an upgrade (body uninspectable)',
    { method: 'POST', url: '/containers/web/update', upgrade: true, contentLength: 20 },
    403,
    'upgrade',
  ],
  [
    'list behind an upgrade',
    { method: 'GET', url: '/containers/json', upgrade: true },
    403,
    'upgrade',
  ],
  [
    'exec start behind an upgrade with a chunked body (its end unknown)',
    {
      method: 'POST',
      url: `/exec/${EXEC_ID}/start`,
      upgrade: true,
      chunked: true,
      execKnown: true,
    },
    403,
    'chunked body behind a connection upgrade',
  ],
  [
    'exec start behind an upgrade with a body over the limit',
    {
      method: 'POST',
      url: `/exec/${EXEC_ID}/start`,
      upgrade: true,
      contentLength: 70_000,
      execKnown: true,
    },
    413,
    'over 65536 bytes',
  ],
  // exec create
  [
    'exec not on the allowlist',
    {
      method: 'POST',
      url: '/containers/stack-web-1/exec',
      body: { Cmd: ['touch', '/tmp/pwned'], AttachStdout: true },
    },
    403,
    'not on the exec allowlist',
  ],
  [
    'exec of a shell',
    {
      method: 'POST',
      url: '/containers/stack-web-1/exec',
      body: { Cmd: ['sh', '-c', 'echo hello'] },
    },
    403,
    'not on the exec allowlist',
  ],
  [
    'exec with an extra argument on an exact entry',
    {
      method: 'POST',
      url: '/containers/stack-web-1/exec',
      body: { Cmd: ['echo', 'hello', 'world'] },
    },
    403,
    'not on the exec allowlist',
  ],
  [
    'exec with a prefix of an entry',
    { method: 'POST', url: '/containers/stack-web-1/exec', body: { Cmd: ['echo'] } },
    403,
    'not on the exec allowlist',
  ],
  [
    'exec allowed elsewhere, not in this container',
    {
      method: 'POST',
      url: '/containers/stack-db-1/exec',
      body: { Cmd: ['echo', 'hello'] },
      container: DB,
    },
    403,
    'not on the exec allowlist',
  ],
  [
    'exec named by an allowlisted name that resolves to another container',
    {
      method: 'POST',
      url: '/containers/stack-web-1/exec',
      body: { Cmd: ['echo', 'hello'] },
      container: { ...DB, name: 'evil' },
    },
    403,
    'not on the exec allowlist of evil',
  ],
  [
    'exec with Privileged',
    {
      method: 'POST',
      url: '/containers/stack-web-1/exec',
      body: { Cmd: ['echo', 'hello'], Privileged: true },
    },
    403,
    'privileged',
  ],
  [
    'exec as root',
    {
      method: 'POST',
      url: '/containers/stack-web-1/exec',
      body: { Cmd: ['echo', 'hello'], User: 'root' },
    },
    403,
    'User override',
  ],
  [
    'exec as uid 0',
    {
      method: 'POST',
      url: '/containers/stack-web-1/exec',
      body: { Cmd: ['echo', 'hello'], User: '0:0' },
    },
    403,
    'User override',
  ],
  [
    'exec with Env (PATH, LD_PRELOAD)',
    {
      method: 'POST',
      url: '/containers/stack-web-1/exec',
      body: { Cmd: ['echo', 'hello'], Env: ['LD_PRELOAD=/tmp/x.so'] },
    },
    403,
    'Env override',
  ],
  [
    'exec with a WorkingDir',
    {
      method: 'POST',
      url: '/containers/stack-web-1/exec',
      body: { Cmd: ['echo', 'hello'], WorkingDir: '/' },
    },
    403,
    'WorkingDir',
  ],
  [
    'exec with stdin',
    {
      method: 'POST',
      url: '/containers/stack-web-1/exec',
      body: { Cmd: ['echo', 'hello'], AttachStdin: true },
    },
    403,
    'stdin',
  ],
  [
    'exec with a lower-case privileged key',
    {
      method: 'POST',
      url: '/containers/stack-web-1/exec',
      body: { Cmd: ['echo', 'hello'], privileged: true },
    },
    403,
    'exec key "privileged"',
  ],
  [
    'exec with a __proto__ key',
    {
      method: 'POST',
      url: '/containers/stack-web-1/exec',
      body: JSON.parse('{"Cmd":["echo","hello"],"__proto__":{"Privileged":true}}') as unknown,
    },
    403,
    '"__proto__"',
  ],
  [
    'exec with Cmd as a string',
    { method: 'POST', url: '/containers/stack-web-1/exec', body: { Cmd: 'echo hello' } },
    403,
    'Cmd must be',
  ],
  [
    'exec without Cmd',
    { method: 'POST', url: '/containers/stack-web-1/exec', body: { AttachStdout: true } },
    403,
    'Cmd must be',
  ],
  [
    'exec with an empty argument',
    { method: 'POST', url: '/containers/stack-web-1/exec', body: { Cmd: ['echo', ''] } },
    403,
    'Cmd must be',
  ],
  [
    'exec with too many arguments',
    {
      method: 'POST',
      url: '/containers/stack-db-1/exec',
      body: { Cmd: ['pg_isready', ...Array<string>(64).fill('x')] },
      container: DB,
    },
    403,
    'Cmd must be',
  ],
  [
    'exec with a non-JSON body',
    {
      method: 'POST',
      url: '/containers/stack-web-1/exec',
      invalidBody: 'content type "text/plain" is not application/json',
    },
    403,
    'application/json',
  ],
  [
    'exec in a container labelled unmanaged',
    {
      method: 'POST',
      url: '/containers/stack-web-1/exec',
      body: { Cmd: ['echo', 'hello'] },
      container: { ...WEB, labels: { 'datamancy.manage': 'false' } },
    },
    403,
    'datamancy.manage=false',
  ],
  [
    'restart of a container labelled unmanaged',
    {
      method: 'POST',
      url: '/containers/x/restart',
      container: { ...WEB, labels: { 'datamancy.manage': 'false' } },
    },
    403,
    'datamancy.manage=false',
  ],
  [
    'start of a container the engine does not know',
    { method: 'POST', url: '/containers/ghost/start', container: null },
    404,
    'No such container: ghost',
  ],
  // exec ids
  [
    'exec start of an id this proxy did not create',
    { method: 'POST', url: `/exec/${EXEC_ID}/start`, upgrade: true, execKnown: false },
    403,
    'not created through this proxy',
  ],
  [
    'exec resize of a foreign id',
    { method: 'POST', url: `/exec/${EXEC_ID}/resize?h=1&w=1`, execKnown: false },
    403,
    'not created through this proxy',
  ],
  [
    'exec inspect of a foreign id',
    { method: 'GET', url: `/exec/${EXEC_ID}/json`, execKnown: false },
    403,
    'not created through this proxy',
  ],
  [
    'exec start with a query',
    { method: 'POST', url: `/exec/${EXEC_ID}/start?x=1`, execKnown: true },
    403,
    'query key "x"',
  ],
];

describe('control-plane policy: everything else is refused', () => {
  it.each(deniedTable)('%s', (_name, c, status, reason) => {
    const decision = settle(c);
    expect(decision, JSON.stringify(decision)).toMatchObject({ action: 'deny', status });
    expect(decision.action === 'deny' ? decision.reason : '').toContain(reason);
  });
});

describe('control-plane policy: what is forwarded', () => {
  it('acts on the full id of the container it inspected, keeping the version prefix and query', () => {
    const decision = settle({ method: 'POST', url: '/v1.41/containers/web/restart?t=5' });
    expect(decision).toMatchObject({
      action: 'allow',
      route: 'container.restart',
      url: `/v1.41/containers/${FULL_ID}/restart?t=5`,
      subject: FULL_ID,
      display: 'POST /containers/web/restart',
    });
  });

  it('re-sends an inspected body as the object it checked, without the dockerode artefact', () => {
    const decision = settle({
      method: 'POST',
      url: '/containers/web/update',
      body: { MemorySwap: 2097152, Memory: 1048576, abortSignal: {} },
    });
    expect(decision).toMatchObject({
      action: 'allow',
      body: { kind: 'json', value: { Memory: 1048576, MemorySwap: 2097152 } },
    });
    expect(decision.action === 'allow' && JSON.stringify(decision.body)).not.toContain(
      'abortSignal',
    );
  });

  it('sends no body for a stop whose body only repeated nothing', () => {
    const decision = settle({ method: 'POST', url: '/containers/web/stop', body: {} });
    expect(decision).toMatchObject({ action: 'allow', body: { kind: 'none' } });
  });

  it('streams the bodies it does not inspect (exec start) and marks exec create for tracking', () => {
    expect(
      settle({ method: 'POST', url: `/exec/${EXEC_ID}/start`, execKnown: true, upgrade: true }),
    ).toMatchObject({ action: 'allow', body: { kind: 'pipe' }, trackExec: false });
    expect(
      settle({
        method: 'POST',
        url: '/containers/stack-web-1/exec',
        body: { Cmd: ['echo', 'hello'] },
      }),
    ).toMatchObject({ action: 'allow', trackExec: true, url: `/containers/${FULL_ID}/exec` });
  });

  it('asks for the exec id first, then the body, then the container, each once', () => {
    const req: PolicyRequest = {
      method: 'POST',
      url: '/containers/web/exec',
      upgrade: false,
      contentLength: 40,
      chunked: false,
    };
    expect(decide(OPTIONS, req)).toEqual({ action: 'need', need: 'body' });
    const body: BodyFacts = { kind: 'json', value: { Cmd: ['echo', 'hello'] } };
    expect(decide(OPTIONS, req, { body })).toEqual({
      action: 'need',
      need: 'container',
      id: 'web',
    });
    // a refused body needs no inspect of the container at all
    expect(
      decide(OPTIONS, req, { body: { kind: 'json', value: { Cmd: ['id'], User: 'root' } } }),
    ).toMatchObject({ action: 'deny' });
    expect(decide(OPTIONS, { ...req, url: `/exec/${EXEC_ID}/start`, contentLength: 0 })).toEqual({
      action: 'need',
      need: 'exec',
      id: EXEC_ID,
    });
  });

  it('with an empty allowlist refuses every exec', () => {
    const decision = settle(
      { method: 'POST', url: '/containers/stack-web-1/exec', body: { Cmd: ['echo', 'hello'] } },
      { ...OPTIONS, execAllowlist: {} },
    );
    expect(decision).toMatchObject({ action: 'deny', status: 403 });
  });

  it('does not read an allowlist entry off the object prototype', () => {
    const decision = settle({
      method: 'POST',
      url: '/containers/constructor/exec',
      body: { Cmd: ['echo', 'hello'] },
      container: { id: FULL_ID, name: 'constructor', labels: {} },
    });
    expect(decision).toMatchObject({ action: 'deny', status: 403 });
  });
});

describe('full policy', () => {
  const FULL: PolicyOptions = { ...OPTIONS, policy: 'full' };
  it.each([
    ['POST', '/v1.41/containers/create?name=x'],
    ['POST', '/images/create?fromImage=alpine'],
    ['GET', '/containers/web/archive?path=/'],
    ['DELETE', '/containers/web?force=1'],
  ])('passes %s %s through unchanged', (method, url) => {
    expect(
      decide(FULL, { method, url, upgrade: false, contentLength: 100, chunked: false }),
    ).toMatchObject({ action: 'allow', url, body: { kind: 'pipe' }, route: 'full' });
  });
});

describe('denialMessage', () => {
  it('names the request, the policy and the reason, as Docker clients print it', () => {
    const decision = settle({ method: 'POST', url: '/v1.41/containers/create' });
    if (decision.action !== 'deny') throw new Error('expected a denial');
    expect(denialMessage('control-plane', decision)).toBe(
      'datamancy docker-proxy: POST /containers/create is not allowed by the control-plane policy (not on its allowlist)',
    );
  });

  it('answers a missing container the way the engine would', () => {
    const decision = settle({ method: 'POST', url: '/containers/ghost/stop', container: null });
    if (decision.action !== 'deny') throw new Error('expected a denial');
    expect(denialMessage('control-plane', decision)).toBe(
      'datamancy docker-proxy: No such container: ghost',
    );
  });
});
