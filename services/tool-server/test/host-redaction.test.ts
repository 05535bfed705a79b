import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redactInspect } from '@datamancy/container-engine';
import { startEngine, testEngines, type EngineFixture } from '@datamancy/testkit';
import { createTestToolServer, postJson, READER } from './helpers.ts';

/**
 * docker_inspect against each real engine, with secrets planted in every field an engine keeps a
 * command line, environment or label in. The assertion is on the whole serialised answer.
 */

/** Held by a secret-named env var: found by name, then hunted by value everywhere else. */
const NAMED = 'Named-S3cret-4711';
/** Held only under ordinary names: only the stack's digests file can find it. */
const STACK = 'dmcy_StackSecret0815xyz';
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

type App = Awaited<ReturnType<typeof createTestToolServer>>['app'];

async function inspect(app: App, container: string) {
  const res = await app.request(
    '/call-tool',
    postJson(READER, { name: 'docker_inspect', args: { container } }),
  );
  return { status: res.status, text: await res.text() };
}

describe.each(testEngines())('against %s', (kind) => {
  let fixture: EngineFixture;
  let dir: string;
  let plain: App;
  let withDigests: App;
  let missingDigests: App;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'dm-redaction-'));
    fixture = await startEngine(kind);
    const image = await fixture.importBusybox();
    // An entrypoint of several arguments comes from an image on both engines: Podman's CLI
    // reads a JSON array in --entrypoint, Docker's takes the whole string as the program.
    const withEntrypoint = async (tag: string, entrypoint: string[]): Promise<string> => {
      await fixture.cli(['create', '--name', 'dm-base', image]);
      const change = `ENTRYPOINT ${JSON.stringify(entrypoint)}`;
      await fixture.cli(['commit', '--change', change, 'dm-base', tag]);
      await fixture.cli(['rm', 'dm-base']);
      return tag;
    };
    // A secret-named env var's value, repeated in the command line, entrypoint, healthcheck,
    // labels and, on Podman, an annotation (Podman's CreateCommand repeats the flags). Docker
    // 20.10's CLI has no --annotation (its API took annotations in 1.43, Docker 24).
    await fixture.cli([
      'run',
      '-d',
      '--name',
      'dm-named',
      '-e',
      `DB_PASSWORD=${NAMED}`,
      '-e',
      'LOG_LEVEL=debug',
      '--label',
      `app.api_token=${NAMED}`,
      '--label',
      `note=connects with ${NAMED}`,
      '--label',
      'com.docker.compose.service=named',
      ...(kind === 'podman' ? ['--annotation', `example.secret=${NAMED}`] : []),
      '--health-cmd',
      `test -f /tmp/${NAMED}`,
      '--health-interval',
      '1h',
      await withEntrypoint('localhost/dm-named-entry:1', [
        '/bin/sh',
        '-c',
        `touch /tmp/${NAMED}; exec sleep 100000`,
        'sh',
      ]),
      `--password=${NAMED}`,
    ]);
    // The stack's secret under ordinary names only: no name rule can know it.
    await fixture.cli([
      'run',
      '-d',
      '--name',
      'dm-stack',
      '-e',
      `APP_OPTS=--connect db:5432/${STACK}`,
      '--label',
      `note=${STACK}`,
      '--health-cmd',
      `echo ${STACK}`,
      '--health-interval',
      '1h',
      await withEntrypoint('localhost/dm-stack-entry:1', [
        '/bin/sh',
        '-c',
        `echo ${STACK} >/dev/null; exec sleep 100000`,
        'sh',
      ]),
      STACK,
    ]);
    const digestsFile = join(dir, 'secret-digests.json');
    writeFileSync(digestsFile, JSON.stringify({ sha256: [sha256(STACK), sha256('unused-one')] }));
    const server = async (hostPluginConfig: Record<string, unknown>) =>
      (await createTestToolServer({ dockerHost: fixture.dockerHost, hostPluginConfig })).app;
    plain = await server({});
    withDigests = await server({ redactDigestsFile: digestsFile });
    missingDigests = await server({ redactDigestsFile: join(dir, 'absent.json') });
  }, 120_000);

  afterAll(async () => {
    await fixture?.close();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  describe('docker_inspect never carries secrets', () => {
    it("a secret-named env var's value is gone from env, Cmd, entrypoint, healthcheck and labels", async () => {
      for (const app of [plain, withDigests]) {
        const { status, text } = await inspect(app, 'dm-named');
        expect(status).toBe(200);
        expect(text).not.toContain(NAMED);
        // the secret was really there, in every field, and each is still readable
        const result = (JSON.parse(text) as { result: Record<string, unknown> }).result;
        const raw = result.raw as { Config: Record<string, unknown>; Args: string[] };
        expect(raw.Config.Env).toContain('DB_PASSWORD=[redacted]');
        expect(raw.Config.Env).toContain('LOG_LEVEL=debug');
        expect(raw.Config.Cmd).toEqual(['--password=[redacted]']);
        expect(raw.Config.Entrypoint).toEqual([
          '/bin/sh',
          '-c',
          'touch /tmp/[redacted]; exec sleep 100000',
          'sh',
        ]);
        expect(result.labels).toMatchObject({
          'app.api_token': '[redacted]',
          note: 'connects with [redacted]',
          'com.docker.compose.service': 'named',
        });
        expect(result.healthcheck).toMatchObject({
          argv: ['/bin/sh', '-c', 'test -f /tmp/[redacted]'],
        });
        expect(result).toMatchObject({ name: 'dm-named', state: 'running' });
      }
    });

    it('the stack’s own secret, under ordinary names, is found by its digest', async () => {
      const without = await inspect(plain, 'dm-stack');
      expect(without.status).toBe(200);
      expect(without.text).toContain(STACK); // no name gives it away: only the digests can
      const { status, text } = await inspect(withDigests, 'dm-stack');
      expect(status).toBe(200);
      expect(text).not.toContain(STACK);
      const raw = (JSON.parse(text) as { result: { raw: { Config: Record<string, unknown> } } })
        .result.raw;
      expect(raw.Config.Env).toContain('APP_OPTS=--connect db:5432/[redacted]');
      expect(raw.Config.Cmd).toEqual(['[redacted]']);
      expect(raw.Config.Labels).toEqual({ note: '[redacted]' });
    });

    it('withholds the answer (503) when the configured digests file cannot be read', async () => {
      const { status, text } = await inspect(missingDigests, 'dm-stack');
      expect(status).toBe(503);
      expect(text).not.toContain(STACK);
      expect(text).toContain('redactDigestsFile');
    });

    it('the list and health-wait answers carry neither secret', async () => {
      const list = await withDigests.request(
        '/call-tool',
        postJson(READER, { name: 'docker_list_containers', args: {} }),
      );
      const listed = await list.text();
      expect(listed).toContain('dm-named');
      expect(listed).not.toContain(NAMED);
      expect(listed).not.toContain(STACK);
      // dm-stack's healthcheck prints the secret: the answer's lastCheckOutput must not
      const wait = await withDigests.request(
        '/call-tool',
        postJson(READER, {
          name: 'docker_health_wait',
          args: { container: 'dm-stack', timeout_ms: 5000 },
        }),
      );
      const waited = await wait.text();
      expect(JSON.parse(waited)).toMatchObject({
        result: {
          outcome: 'healthy',
          via: 'exec-healthcheck',
          lastCheckOutput: expect.stringMatching(/^\[redacted\]\s*$/),
        },
      });
      expect(waited).not.toContain(STACK);
    });

    it('health-wait still runs the healthcheck as configured, not as redacted', async () => {
      // `test -f /tmp/<secret>` passes only with the real argv; `/tmp/[redacted]` does not exist
      const res = await plain.request(
        '/call-tool',
        postJson(READER, {
          name: 'docker_health_wait',
          args: { container: 'dm-named', timeout_ms: 5000 },
        }),
      );
      expect(res.status).toBe(200);
      expect(JSON.parse(await res.text())).toMatchObject({
        result: { outcome: 'healthy', via: 'exec-healthcheck' },
      });
    });

    it("the engine CLI's own inspect document (Path and Args, Env, Labels) is redacted too", async () => {
      const doc = JSON.parse(await fixture.cli(['inspect', 'dm-named'])) as Record<
        string,
        unknown
      >[];
      // Both engines repeat the command line, entrypoint first, in Path and Args.
      expect(doc[0]?.Path).toBe('/bin/sh');
      expect(JSON.stringify(doc[0]?.Args)).toContain(`--password=${NAMED}`);
      const redacted = JSON.stringify(doc.map((d) => redactInspect(d)));
      expect(redacted).not.toContain(NAMED);
      expect(redacted).toContain('"DB_PASSWORD=[redacted]"');
      expect(redacted).toContain('"--password=[redacted]"');
      const stack = JSON.parse(await fixture.cli(['inspect', 'dm-stack'])) as Record<
        string,
        unknown
      >[];
      expect(JSON.stringify(stack)).toContain(STACK);
      const digests = new Set([sha256(STACK)]);
      expect(JSON.stringify(stack.map((d) => redactInspect(d, { digests })))).not.toContain(STACK);
    });

    it.runIf(kind === 'podman')(
      "Podman's own fields (CreateCommand, Annotations, string Entrypoint) are redacted too",
      async () => {
        const doc = JSON.parse(await fixture.cli(['inspect', 'dm-named'])) as Record<
          string,
          unknown
        >[];
        const config = doc[0]?.Config as Record<string, unknown>;
        expect(JSON.stringify(config.CreateCommand)).toContain(NAMED);
        expect(JSON.stringify(config.Annotations)).toContain(NAMED);
        expect(config.Entrypoint).toEqual(expect.stringContaining(NAMED));
        const redacted = JSON.stringify(doc.map((d) => redactInspect(d)));
        expect(redacted).not.toContain(NAMED);
        expect(redacted).toContain('"example.secret":"[redacted]"');
      },
    );
  });
});
