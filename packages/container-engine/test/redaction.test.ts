import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { healthcheckArgv, isSecretName, mapDetails, redactSecrets } from '../src/index.ts';

const R = '[redacted]';
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

describe('isSecretName', () => {
  it.each([
    'DB_PASSWORD',
    'MYSQL_ROOT_PASSWORD',
    'POSTGRES_PASSWD',
    'DB_PASS',
    'pgpassword',
    'SECRET_KEY',
    'AUTHELIA_JWT_SECRET',
    'GITHUB_TOKEN',
    'x-auth-token',
    'API_KEY',
    'apiKey',
    'OPENAI_APIKEY',
    'AWS_SECRET_ACCESS_KEY',
    'AWS_ACCESS_KEY',
    'SMTP_CREDENTIALS',
    'BASIC_AUTH',
    'Authorization',
    'SENTRY_DSN',
    'DB_CONNECTION_STRING',
    'private_key',
    'com.example.token',
    '--password',
    '--api-key',
  ])('%s names a secret', (name) => expect(isSecretName(name)).toBe(true));

  it.each([
    'PATH',
    'HOME',
    'LOG_LEVEL',
    'DB_HOST',
    'DB_USER',
    'POSTGRES_PASSWORD_FILE',
    'AUTH_URL',
    'AUTH_METHOD',
    'TOKEN_TTL',
    'OAUTH_CLIENT_ID',
    'AWS_ACCESS_KEY_ID',
    'BYPASS_CACHE',
    'KEYBOARD_LAYOUT',
    'com.docker.compose.project',
    'com.docker.compose.service',
    'datamancy.manage',
    'traefik.http.routers.web.rule',
    '--port',
    '--name',
  ])('%s does not', (name) => expect(isSecretName(name)).toBe(false));
});

/** One string in, one string out (as a Cmd element would be). */
const text = (s: string, digests?: string[]) =>
  redactSecrets({ s }, digests === undefined ? {} : { digests: new Set(digests) }).s;

describe('redactSecrets: one string, by name', () => {
  it.each([
    ['a long flag with =', '--password=hunter22', `--password=${R}`],
    ['a long flag and its value', 'run --token abcdef123 --port 80', `run --token ${R} --port 80`],
    ['a quoted flag value', 'run --db-password "a b c" -v', `run --db-password "${R}" -v`],
    [
      'KEY=value in a shell string',
      'FOO_TOKEN=abc123xyz ./run --fast',
      `FOO_TOKEN=${R} ./run --fast`,
    ],
    [
      'an exported assignment after another command',
      "cd /app && export API_KEY='k-9' && exec ./app",
      `cd /app && export API_KEY='${R}' && exec ./app`,
    ],
    ['URL userinfo', 'postgres://u:pass@h:5432/db', `postgres://u:${R}@h:5432/db`],
    ['URL userinfo without a user', 'redis://:s3cr3t@redis:6379', `redis://:${R}@redis:6379`],
    [
      'a bearer header in a curl healthcheck',
      'curl -fsS -H "Authorization: Bearer tok.en-1" http://localhost:8080/health',
      `curl -fsS -H "Authorization: Bearer ${R}" http://localhost:8080/health`,
    ],
    [
      'a secret-named header',
      "wget -q --header 'X-Api-Key: abc' http://x/",
      `wget -q --header 'X-Api-Key: ${R}' http://x/`,
    ],
    ['curl -u user:password', 'curl -u admin:pa55 http://x/', `curl -u admin:${R} http://x/`],
    [
      'mysql -pPASSWORD (attached only)',
      'mysqladmin ping -h db -u root -pRootPw',
      `mysqladmin ping -h db -u root -p${R}`,
    ],
    ['redis-cli -a', 'redis-cli -a hunter2 ping', `redis-cli -a ${R} ping`],
    ['JSON inside a string', '{"user":"bob","password":"pw1"}', `{"user":"bob","password":"${R}"}`],
    [
      'a private key block',
      'key=-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----',
      `key=${R}`,
    ],
  ])('%s', (_what, input, output) => expect(text(input)).toBe(output));

  it.each([
    ['an image reference', 'docker.io/library/postgres:16-alpine'],
    ['ports and normal flags', 'nginx -g daemon off; --port 8080 -p 80:80 --name web'],
    ['a URL without userinfo', 'curl -fsS http://localhost:8080/healthz || exit 1'],
    ['a user-only URL', 'ssh://git@github.com/org/repo'],
    ['a timestamp', '2026-12-04T01:28:32Z'],
    ['-p outside mysql', 'sshd -D -p 2222'],
    ['an env entry with an ordinary name', 'LOG_LEVEL=debug'],
    ['a password file path', 'POSTGRES_PASSWORD_FILE=/run/secrets/db'],
    ['a flag naming a file', '--password-file /run/secrets/pw'],
    ['a boolean no- flag', 'app --no-auth serve'],
    ['prose', 'error: could not connect to database'],
  ])('keeps %s readable', (_what, input) => expect(text(input)).toBe(input));
});

describe('redactSecrets: argv arrays', () => {
  it('an Env entry: all after = is the value, spaces and all', () => {
    expect(redactSecrets({ Env: ['DB_PASSWORD=hunter2 with spaces', 'A=b c'] })).toEqual({
      Env: [`DB_PASSWORD=${R}`, 'A=b c'],
    });
  });

  it('redacts the element after a secret flag, and nothing else', () => {
    expect(redactSecrets(['app', '--password', 'hunter22', '--port', '80', '--token=xyz'])).toEqual(
      ['app', '--password', R, '--port', '80', `--token=${R}`],
    );
  });

  it("redacts Podman's CreateCommand: -e, --label, --health-cmd and trailing args", () => {
    const cmd = [
      'podman',
      'create',
      '--name',
      'db',
      '-e',
      'DB_PASSWORD=hunter22',
      '--label',
      'api_token=tok12345',
      '--health-cmd',
      'mysqladmin ping -pRootPw1',
      'localhost/img:1',
      '--secret-key',
      'abcd',
    ];
    expect(redactSecrets(cmd)).toEqual([
      'podman',
      'create',
      '--name',
      'db',
      '-e',
      `DB_PASSWORD=${R}`,
      '--label',
      `api_token=${R}`,
      '--health-cmd',
      `mysqladmin ping -p${R}`,
      'localhost/img:1',
      '--secret-key',
      R,
    ]);
  });

  it('sshpass -p as its own element', () => {
    expect(redactSecrets(['sshpass', '-p', 'pw', 'ssh', 'host'])).toEqual([
      'sshpass',
      '-p',
      R,
      'ssh',
      'host',
    ]);
  });
});

describe('redactSecrets: by value', () => {
  it("hunts a secret-named env var's value in every other field", () => {
    const doc = {
      Config: {
        Env: ['APP_SECRET=s3cr3t-value', 'PATH=/bin'],
        Cmd: ['sh', '-c', 'echo s3cr3t-value > /tmp/x'],
        Labels: { note: 'uses s3cr3t-value here' },
        Healthcheck: { Test: ['CMD', 'check', 's3cr3t-value'] },
      },
      State: { Health: { Log: [{ Output: 'got s3cr3t-value back' }] } },
    };
    const out = redactSecrets(doc);
    expect(JSON.stringify(out)).not.toContain('s3cr3t-value');
    expect(out.Config.Cmd).toEqual(['sh', '-c', `echo ${R} > /tmp/x`]);
    expect(out.Config.Labels.note).toBe(`uses ${R} here`);
    expect(out.Config.Env).toEqual([`APP_SECRET=${R}`, 'PATH=/bin']);
  });

  it('redacts secret-named label and annotation keys by value, keeps the others', () => {
    const out = redactSecrets({
      Labels: { 'app.api_token': 'tok', 'com.docker.compose.service': 'web' },
      Annotations: { 'io.podman.annotations.init': 'FALSE', 'example.password': 'pw' },
      HostConfig: {
        LogConfig: { Config: { 'splunk-token': 'abc', 'loki-url': 'https://u:p@loki/' } },
      },
      NetworkSettings: { SandboxKey: '/run/netns/x' },
    });
    expect(out).toEqual({
      Labels: { 'app.api_token': R, 'com.docker.compose.service': 'web' },
      Annotations: { 'io.podman.annotations.init': 'FALSE', 'example.password': R },
      HostConfig: {
        LogConfig: { Config: { 'splunk-token': R, 'loki-url': `https://u:${R}@loki/` } },
      },
      NetworkSettings: { SandboxKey: '/run/netns/x' },
    });
  });

  it('does not hunt short values everywhere (a one-character password would eat the document)', () => {
    const out = redactSecrets({ Env: ['DB_PASS=1'], Cmd: ['sleep', '100'] });
    expect(out).toEqual({ Env: [`DB_PASS=${R}`], Cmd: ['sleep', '100'] });
  });

  it('finds a listed digest as a token of any string, under any name', () => {
    const secret = 'dmcy_Zm9vYmFyYmF6cXV4';
    const digests = [sha256(secret), sha256('another-one-entirely')];
    const doc = {
      Env: [`WEIRD=${secret}`, `X=prefix:${secret}`],
      Cmd: ['sh', '-c', `curl -s "http://x/?k=${secret}&y=1"`],
      Labels: { note: `see ${secret}` },
      Entrypoint: `/bin/app ${secret}`,
      Url: `postgres://app@db/${secret}`,
      whole: secret,
    };
    const out = redactSecrets(doc, { digests: new Set(digests) });
    expect(JSON.stringify(out)).not.toContain(secret);
    expect(out.Cmd[2]).toBe(`curl -s "http://x/?k=${R}&y=1"`);
    expect(out.Env[0]).toBe(`WEIRD=${R}`);
    expect(out.Url).toBe(`postgres://app@db/${R}`);
    // without the digests, a secret in an ordinary name stays: the digests are what found it
    expect(redactSecrets(doc).whole).toBe(secret);
  });

  it('a secret containing a delimiter is still found whole', () => {
    const secret = 'a/b=c:d@e-long';
    const out = text(`--opt ${secret} --x`, [sha256(secret)]);
    expect(out).toBe(`--opt ${R} --x`);
  });

  it('leaves ordinary content alone even with digests listed', () => {
    const doc = { Image: 'postgres:16', Cmd: ['postgres', '-c', 'max_connections=200'] };
    expect(redactSecrets(doc, { digests: new Set([sha256('unrelated-secret')]) })).toEqual(doc);
  });
});

describe('mapDetails', () => {
  const raw = {
    Id: 'abc',
    Name: '/web',
    Path: '/bin/sh',
    Args: ['-c', 'TOKEN=abcdef99 ./serve'],
    State: { Status: 'running', Health: { Status: 'healthy' } },
    Config: {
      Image: 'web:1',
      Env: ['WEB_TOKEN=abcdef99'],
      Labels: { 'com.docker.compose.service': 'web', 'web.api_key': 'abcdef99' },
      Healthcheck: { Test: ['CMD-SHELL', 'curl -H "Authorization: Bearer abcdef99" http://l/'] },
    },
  };

  it('redacts the parsed fields as well as the raw document', () => {
    const d = mapDetails(raw);
    expect(JSON.stringify(d)).not.toContain('abcdef99');
    expect(d.labels).toEqual({ 'com.docker.compose.service': 'web', 'web.api_key': R });
    expect(d.compose.service).toBe('web');
    expect(d.healthcheck?.argv).toEqual([
      '/bin/sh',
      '-c',
      `curl -H "Authorization: Bearer ${R}" http://l/`,
    ]);
  });

  it('keeps the configured healthcheck for running it, out of any serialisation', () => {
    const d = mapDetails(raw);
    expect(healthcheckArgv(d)).toEqual([
      '/bin/sh',
      '-c',
      'curl -H "Authorization: Bearer abcdef99" http://l/',
    ]);
    expect(healthcheckArgv({ ...d })).toEqual(d.healthcheck?.argv);
  });
});
