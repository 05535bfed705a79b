import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '@datamancy/core';
import {
  healthcheckToCheck,
  interpolate,
  isActive,
  loadComposeFiles,
  mergeComposeFiles,
  parseComposeFile,
  parseDotEnv,
  type ComposeService,
} from '../src/index.ts';

const STACK = fileURLToPath(new URL('./fixtures/stack', import.meta.url));
const env = { DOMAIN: 'example.org', POSTGRES_PASSWORD: 'pw' };

function issuesOf(fn: () => unknown): { origin: string; issues: ConfigError['issues'] } {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return { origin: err.message, issues: err.issues };
    throw err;
  }
  throw new Error('expected a ConfigError');
}

const service = (text: string, name: string, e: Record<string, string> = env): ComposeService => {
  const found = parseComposeFile(text, 'inline.yml', { env: e }).services.find(
    (s) => s.name === name,
  );
  if (found === undefined) throw new Error(`no service ${name}`);
  return found;
};

describe('compose interpolation', () => {
  it.each([
    ['${A}', 'a'],
    ['$A-$B', 'a-'],
    ['${B:-fallback}', 'fallback'],
    ['${EMPTY:-fallback}', 'fallback'],
    ['${EMPTY-fallback}', ''],
    ['${B-fallback}', 'fallback'],
    ['${A:+alt}', 'alt'],
    ['${EMPTY:+alt}', ''],
    ['${B:-${A:-x}}', 'a'],
    ['$${NOT_A_VAR} costs $$5', '${NOT_A_VAR} costs $5'],
  ])('%s → %s', (template, expected) => {
    expect(interpolate(template, { env: { A: 'a', EMPTY: '' } })).toBe(expected);
  });

  it('reports unset variables, required ones and malformed templates', () => {
    const missing: string[] = [];
    interpolate('${NOPE} $ALSO_NOPE', { env: {}, onMissing: (n) => missing.push(n) });
    expect(missing).toEqual(['NOPE', 'ALSO_NOPE']);
    expect(() => interpolate('${PW:?set it}', { env: {} })).toThrow(
      'required variable PW is not set: set it',
    );
    expect(() => interpolate('${PW:?}', { env: { PW: '' } })).toThrow('PW is empty');
    expect(() => interpolate('${unclosed', { env: {} })).toThrow('unclosed');
    expect(() => interpolate('cost: $5', { env: {} })).toThrow('lone "$"');
  });

  it('reads .env files with comments, export and quotes', () => {
    expect(
      parseDotEnv(
        '# stack\nDOMAIN=example.org\nexport PW="p w"\nQ=\'x#y\'\nC=v # note\n\nbad line\n',
      ),
    ).toEqual({ DOMAIN: 'example.org', PW: 'p w', Q: 'x#y', C: 'v' });
  });
});

describe('compose files', () => {
  it('reads the fixture stack: anchors, merge keys, both depends_on forms, labels, ports', () => {
    const warnings: string[] = [];
    const project = loadComposeFiles([join(STACK, 'docker-compose.yml')], {
      env,
      warn: (w) => warnings.push(w),
    });
    expect(project.name).toBe('datamancy');
    const byName = new Map(project.services.map((s) => [s.name, s]));
    expect([...byName.keys()]).toEqual([
      'caddy',
      'authelia',
      'ldap',
      'redis',
      'postgres',
      'db-init',
      'mariadb',
      'grafana',
      'open-webui',
      'wiki',
      'vaultwarden',
      'homepage',
      'vllm',
    ]);
    // list form and map form of depends_on, with conditions
    expect(byName.get('caddy')?.dependsOn).toEqual({
      authelia: expect.objectContaining({ condition: 'service_started', required: true }),
    });
    expect(byName.get('authelia')?.dependsOn.redis?.condition).toBe('service_healthy');
    expect(byName.get('grafana')?.dependsOn['db-init']?.condition).toBe(
      'service_completed_successfully',
    );
    // the x-app anchor merged in
    expect(Object.keys(byName.get('grafana')?.networks ?? {})).toEqual(['backend']);
    expect(byName.get('authelia')?.networks.backend?.aliases).toEqual(['auth']);
    // short and long port syntax
    expect(byName.get('caddy')?.ports).toEqual([
      { target: 80, published: 80, protocol: 'tcp' },
      { target: 443, published: 443, protocol: 'tcp' },
      { target: 443, published: 443, protocol: 'udp' },
    ]);
    expect(byName.get('homepage')?.ports).toEqual([
      { target: 3000, published: 3001, hostIp: '127.0.0.1', protocol: 'tcp' },
    ]);
    expect(byName.get('ldap')?.expose).toEqual([389, 636]);
    // interpolation: a default, a value from env, a bare KEY and an escaped $$
    expect(byName.get('postgres')?.environment).toEqual({
      POSTGRES_USER: 'postgres',
      POSTGRES_PASSWORD: 'pw',
    });
    expect(byName.get('ldap')?.environment).toEqual({
      LDAP_DOMAIN: 'example.org',
      LDAP_ADMIN_PASSWORD: null,
    });
    expect(byName.get('postgres')?.healthcheck?.test).toEqual([
      'CMD-SHELL',
      'pg_isready -U ${POSTGRES_USER} -d postgres',
    ]);
    // labels, list and map form, read as probe labels
    expect(byName.get('open-webui')?.probe).toEqual({
      urls: [],
      path: '/health',
      external: ['https://chat.example.org'],
      manage: true,
    });
    expect(byName.get('vaultwarden')?.probe).toMatchObject({ manage: false, group: 'secrets' });
    expect(byName.get('wiki')?.probe.urls).toEqual(['http://wiki:80/status']);
    expect(warnings).toEqual([]);
  });

  it('merges files in order: scalars and healthcheck tests replaced, maps merged, lists added', () => {
    const project = loadComposeFiles(
      [join(STACK, 'docker-compose.yml'), join(STACK, 'docker-compose.override.yml')],
      { env },
    );
    const grafana = project.services.find((s) => s.name === 'grafana');
    expect(grafana?.image).toBe('grafana/grafana:11.3.0');
    expect(grafana?.environment).toMatchObject({
      GF_DATABASE_HOST: 'postgres:5432',
      GF_LOG_LEVEL: 'debug',
    });
    expect(grafana?.ports).toEqual([
      { target: 3000, published: 3300, hostIp: '127.0.0.1', protocol: 'tcp' },
    ]);
    expect(grafana?.expose).toEqual([3000]);
    expect(grafana?.healthcheck?.test?.[1]).toContain('curl -fsS');
    expect(grafana?.origin).toMatch(/docker-compose\.yml$/);
    // a service only the override defines comes last
    expect(project.services.at(-1)?.name).toBe('mailpit');

    const a = parseComposeFile(
      'services:\n  web:\n    image: a\n    labels: {x: "1"}\n    healthcheck: {test: "curl -f http://localhost/"}\n',
      'a.yml',
      { env },
    );
    const b = parseComposeFile(
      'services:\n  web:\n    labels: ["y=2"]\n    healthcheck: {disable: true}\n',
      'b.yml',
      { env },
    );
    const web = mergeComposeFiles([a, b]).services[0];
    expect(web?.labels).toEqual({ x: '1', y: '2' });
    expect(web?.healthcheck).toEqual({
      test: ['CMD-SHELL', 'curl -f http://localhost/'],
      disable: true,
    });
  });

  it('activates services by profile; services without profiles always count', () => {
    const project = loadComposeFiles([join(STACK, 'docker-compose.yml')], { env });
    const active = (profiles: string[]): string[] =>
      project.services.filter((s) => isActive(s, profiles)).map((s) => s.name);
    expect(active([])).toEqual(['homepage']);
    expect(active(['databases'])).toEqual(['redis', 'postgres', 'db-init', 'mariadb', 'homepage']);
    expect(active(['*'])).toHaveLength(13);
  });

  it('warns about unset variables once per variable, with where they are used', () => {
    const warnings: string[] = [];
    parseComposeFile(
      'services:\n  a:\n    image: x:${TAG}\n    environment: ["URL=https://${HOST}/", "B=${HOST}"]\n',
      'w.yml',
      { env: {}, warn: (w) => warnings.push(w) },
    );
    expect(warnings).toEqual([
      'w.yml: variable TAG is not set (services.a.image); using ""',
      'w.yml: variable HOST is not set (services.a.environment[0] and 1 more); using ""',
    ]);
  });

  it('rejects invalid files with the file and every bad path named', () => {
    const bad = issuesOf(() =>
      parseComposeFile(
        [
          'services:',
          '  web:',
          '    ports: ["99999:80", {published: 8080}]',
          '    depends_on: {db: {condition: service_ready}}',
          '    environment: 42',
          '    healthcheck: {test: ["RUN", "x"]}',
          '    labels:',
          '      datamancy.probe.url: ftp://web/',
          '      datamancy.probe.path: health',
          '      datamancy.manage: maybe',
          '    image: ${PW:?the password}',
          '  "Bad Name": {}',
        ].join('\n'),
        'bad.yml',
        { env: {} },
      ),
    );
    expect(bad.origin).toContain('(bad.yml)');
    expect(bad.issues.map((i) => i.path)).toEqual([
      'services.web.image',
      'services.web.healthcheck.test',
      'services.web.depends_on.db.condition',
      'services.web.ports[0]',
      'services.web.ports[1].target',
      'services.web.environment',
      'services.web.labels["datamancy.probe.url"]',
      'services.web.labels["datamancy.probe.path"]',
      'services.web.labels["datamancy.manage"]',
      'services.Bad Name',
    ]);
    expect(bad.issues[0]?.message).toBe('required variable PW is not set: the password');
  });

  it('rejects broken YAML, a non-mapping document and unknown depends_on targets', () => {
    const yaml = issuesOf(() =>
      parseComposeFile('services:\n  web: [unclosed\n', 'y.yml', { env }),
    );
    expect(yaml.origin).toContain('(y.yml)');
    expect(yaml.issues[0]?.message).toMatch(/not valid YAML: .*line/);
    expect(issuesOf(() => parseComposeFile('- a\n- b\n', 'l.yml', { env })).issues).toEqual([
      { path: '(root)', message: 'expected a mapping' },
    ]);
    const a = parseComposeFile('services:\n  web:\n    depends_on: [db]\n', 'a.yml', { env });
    const unknown = issuesOf(() => mergeComposeFiles([a]));
    expect(unknown.origin).toContain('(a.yml)');
    expect(unknown.issues).toEqual([
      { path: 'services.web.depends_on.db', message: '"db" is not a service in a.yml' },
    ]);
    expect(() => loadComposeFiles(['/nonexistent/compose.yml'], { env })).toThrow(
      /cannot read \/nonexistent\/compose.yml/,
    );
  });
});

describe('healthchecks', () => {
  const check = (test: unknown, name = 'app') =>
    healthcheckToCheck(
      service(`services:\n  ${name}:\n    healthcheck: {test: ${JSON.stringify(test)}}\n`, name)
        .healthcheck,
      name,
    );

  it('derives an internal HTTP check from curl and wget probes of the service itself', () => {
    expect(check('curl -f http://localhost:3000/health')).toEqual({
      kind: 'http',
      name: 'healthcheck',
      url: 'http://app:3000/health',
      expectStatus: ['200-399'],
    });
    expect(check(['CMD', 'wget', '-q', '--spider', 'http://localhost:8080/'])).toEqual({
      kind: 'http',
      name: 'healthcheck',
      url: 'http://app:8080/',
      expectStatus: ['200-399'],
      followRedirects: true,
    });
    expect(
      check(['CMD-SHELL', 'curl -sSfL "http://127.0.0.1:80/alive?full=1" || exit 1']),
    ).toMatchObject({
      url: 'http://app:80/alive?full=1',
      followRedirects: true,
    });
    // without -f curl succeeds on any answer; the probe still calls a 5xx a failure
    expect(check('curl -s http://0.0.0.0:9000/')).toMatchObject({ expectStatus: ['<500'] });
    expect(check(['CMD', 'sh', '-c', 'wget -qO- https://localhost:8443/ping'])).toMatchObject({
      url: 'https://app:8443/ping',
      insecureTls: true,
    });
  });

  it('derives nothing from non-HTTP commands, other hosts, shell variables or disabled checks', () => {
    expect(check('pg_isready -U postgres')).toBeUndefined();
    expect(check(['CMD', 'redis-cli', 'ping'])).toBeUndefined();
    expect(check('curl -f http://other-service:3000/')).toBeUndefined();
    expect(check('curl -f http://localhost:$$PORT/')).toBeUndefined();
    expect(check(['NONE'])).toBeUndefined();
    expect(
      healthcheckToCheck({ test: ['CMD', 'curl', 'http://localhost/'], disable: true }, 'x'),
    ).toBeUndefined();
  });
});
