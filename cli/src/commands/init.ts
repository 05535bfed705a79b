import { join, relative } from 'node:path';
import type { Command } from 'commander';
import {
  defaultTlsMode,
  EDGE_CA_CERT_PATH,
  EDGE_CA_KEY_PATH,
  derivedFileReaders,
  formatDotEnv,
  generateSecret,
  ldapUserPasswordVar,
  OIDC_ISSUER_KEY_FILE,
  optionalVariables,
  SETTING_DEFAULTS,
  SETTING_NAMES,
  secretSpecs,
  settingsEnv,
  stackFeatures,
  type StackSettings,
  type TlsMode,
} from '@datamancy/catalog';
import { ensureEdgeCa, wantsEdgeCa } from '../edge-ca.ts';
import { UsageError } from '../errors.ts';
import {
  ensureOpsKey,
  openStackDir,
  OPS_KEY_PATH,
  readEnvFile,
  requireEnv,
  syncDerivedFiles,
  writePrivateFile,
  wantsOpsKey,
  writeRendered,
  type StackDir,
} from '../stack-dir.ts';

/**
 * `datamancy init --domain example.org`: `.env` (mode 600) with the settings and every secret
 * the rendered stack reads (CSPRNG), the files derived from it, the ops SSH key pair, and the
 * rendered stack. Re-running keeps every existing value. `datamancy secrets rotate NAME`
 * replaces one secret, its derived files, and re-renders.
 */

const DOMAIN_RE =
  /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const EMAIL_RE = /^[^\s@']+@[^\s@']+$/;
const CIDR_RE = /^[0-9a-f:.]+\/\d{1,3}$/i;

interface InitFlags {
  dir: string;
  catalog?: string;
  domain?: string;
  tls?: string;
  acmeEmail?: string;
  dataDir?: string;
  project?: string;
  allowApi?: string;
  bind?: string;
  httpPort?: string;
  httpsPort?: string;
  engineSocket?: string;
}

const IPV4_RE = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/;

function portSetting(flag: string, value: string): number {
  const port = Number(value);
  if (!/^\d+$/.test(value) || port < 1 || port > 65535)
    throw new UsageError(`${flag}: "${value}" is not a port (1–65535)`);
  return port;
}

function settingsFrom(flags: InitFlags, existing: Record<string, string>): StackSettings {
  const domain = (flags.domain ?? existing.DOMAIN)?.toLowerCase();
  if (domain === undefined)
    throw new UsageError('--domain is required the first time (e.g. --domain example.org)');
  if (!DOMAIN_RE.test(domain)) throw new UsageError(`--domain: "${domain}" is not a host name`);
  // .env holds Caddy's own words: `local_certs` (internal) or `email <address>` (acme)
  const previousTls =
    existing.CADDY_TLS === undefined
      ? undefined
      : existing.CADDY_TLS.startsWith('email ')
        ? 'acme'
        : existing.CADDY_TLS === 'local_certs'
          ? 'internal'
          : existing.CADDY_TLS;
  const tls = (flags.tls ??
    (flags.domain === undefined ? previousTls : undefined) ??
    defaultTlsMode(domain)) as TlsMode;
  if (tls !== 'internal' && tls !== 'acme')
    throw new UsageError(`--tls: "${String(flags.tls)}" is not internal or acme`);
  const acmeEmail =
    flags.acmeEmail ??
    (existing.CADDY_TLS?.startsWith('email ') === true
      ? existing.CADDY_TLS.slice('email '.length)
      : undefined);
  if (tls === 'acme' && acmeEmail !== undefined && !EMAIL_RE.test(acmeEmail))
    throw new UsageError(`--acme-email: "${acmeEmail}" is not an e-mail address`);
  const allow = flags.allowApi ?? existing.API_LITELLM_ALLOWLIST ?? '127.0.0.1/32';
  for (const cidr of allow.split(/\s+/).filter(Boolean)) {
    if (!CIDR_RE.test(cidr))
      throw new UsageError(`--allow-api: "${cidr}" is not an address range like 192.0.2.0/24`);
  }
  const project = flags.project ?? existing.COMPOSE_PROJECT_NAME ?? 'datamancy';
  if (!/^[a-z0-9][a-z0-9_-]*$/.test(project))
    throw new UsageError(`--project: "${project}" must be lower-case letters, digits, _ and -`);
  const bind = flags.bind ?? existing.DATAMANCY_BIND ?? SETTING_DEFAULTS.bind;
  if (!IPV4_RE.test(bind))
    throw new UsageError(`--bind: "${bind}" is not an IPv4 address (0.0.0.0: every interface)`);
  const httpPort = portSetting(
    '--http-port',
    flags.httpPort ?? existing.DATAMANCY_HTTP_PORT ?? String(SETTING_DEFAULTS.httpPort),
  );
  const httpsPort = portSetting(
    '--https-port',
    flags.httpsPort ?? existing.DATAMANCY_HTTPS_PORT ?? String(SETTING_DEFAULTS.httpsPort),
  );
  if (httpPort === httpsPort)
    throw new UsageError(`--https-port: ${String(httpsPort)} is the HTTP port too`);
  const engineSocket =
    flags.engineSocket ?? existing.DATAMANCY_ENGINE_SOCKET ?? SETTING_DEFAULTS.engineSocket;
  if (!/^\/[\w./-]+$/.test(engineSocket))
    throw new UsageError(`--engine-socket: "${engineSocket}" is not an absolute path`);
  return {
    bind,
    httpPort,
    httpsPort,
    engineSocket,
    domain,
    tls,
    acmeEmail: tls === 'acme' && acmeEmail?.includes('@') === true ? acmeEmail : undefined,
    dataDir: flags.dataDir ?? existing.STACK_DATA_DIR ?? './data',
    projectName: project,
    liteLlmAllowlist: allow.split(/\s+/).filter(Boolean).join(' '),
  };
}

/** Writes `.env` with the given secret values (generated where missing); returns counts. */
function writeEnv(
  stack: StackDir,
  settings: Record<string, string>,
  existing: Record<string, string>,
  replace: ReadonlySet<string> = new Set(),
): { env: Record<string, string>; created: string[]; kept: string[]; extra: string[] } {
  const specs = secretSpecs(stack.catalog);
  const created: string[] = [];
  const kept: string[] = [];
  const secrets = specs.map((spec) => {
    const current = existing[spec.name];
    if (current !== undefined && current !== '' && !replace.has(spec.name)) {
      kept.push(spec.name);
      return { ...spec, value: current };
    }
    created.push(spec.name);
    return { ...spec, value: generateSecret(spec.name) };
  });
  const optionalNames = optionalVariables(stack.catalog);
  const known = new Set<string>([...SETTING_NAMES, ...specs.map((s) => s.name), ...optionalNames]);
  const extra = Object.fromEntries(Object.entries(existing).filter(([k]) => !known.has(k)));
  const optional = Object.fromEntries(
    Object.entries(existing).filter(([k]) => optionalNames.has(k) && !(k in settings)),
  );
  writePrivateFile(stack.envPath, formatDotEnv(settings, secrets, extra, optional));
  const env = { ...settings, ...Object.fromEntries(secrets.map((s) => [s.name, s.value])) };
  return { env, created, kept, extra: Object.keys(extra) };
}

function countBy<T extends string>(items: readonly T[]): string {
  const counts = new Map<string, number>();
  for (const i of items) counts.set(i, (counts.get(i) ?? 0) + 1);
  return [...counts].map(([k, n]) => `${String(n)} ${k}`).join(', ');
}

export function registerInit(program: Command): void {
  program
    .command('init')
    .description(
      'write stack/.env (settings, every secret the stack reads), derived keys and hashes; render the stack',
    )
    .option('--domain <domain>', 'the domain the cluster answers on (required the first time)')
    .option(
      '--tls <mode>',
      'internal (Caddy CA, private domains) or acme (public); default by domain',
    )
    .option('--acme-email <address>', 'ACME account e-mail (default admin@<domain>)')
    .option('--data-dir <dir>', 'where service data lives (STACK_DATA_DIR)', undefined)
    .option('--project <name>', 'compose project name (COMPOSE_PROJECT_NAME)')
    .option('--allow-api <cidrs>', "address ranges allowed to LiteLLM's API host, space-separated")
    .option(
      '--bind <address>',
      "the address Caddy's ports are published on (DATAMANCY_BIND, default 0.0.0.0)",
    )
    .option('--http-port <port>', 'the published HTTP port (DATAMANCY_HTTP_PORT, default 80)')
    .option('--https-port <port>', 'the published HTTPS port (DATAMANCY_HTTPS_PORT, default 443)')
    .option(
      '--engine-socket <path>',
      "the engine's socket the socket proxies mount (DATAMANCY_ENGINE_SOCKET, default /var/run/docker.sock; Podman: /run/podman/podman.sock)",
    )
    .option('--dir <dir>', 'the stack directory', 'stack')
    .option('--catalog <file>', 'the catalog (default <dir>/catalog.yaml)')
    .addHelpText(
      'after',
      [
        '',
        'Re-running keeps every existing secret; flags change settings only.',
        'Secret values are never printed: read them in <dir>/.env (mode 600).',
        '',
        'Examples:',
        '  datamancy init --domain cluster.example.org',
        '  datamancy init --domain lab.internal          # internal CA',
        '  datamancy init                                # re-run: keep, fill in, re-render',
      ].join('\n'),
    )
    .action((flags: InitFlags) => {
      const stack = openStackDir(flags);
      const existing = readEnvFile(stack.envPath) ?? {};
      const settings = settingsFrom(flags, existing);
      const out = process.stdout;
      const { env, created, kept, extra } = writeEnv(stack, settingsEnv(settings), existing);
      out.write(
        `${stack.envPath}: ${String(created.length + kept.length)} secrets (${String(created.length)} new, ${String(kept.length)} kept), mode 600\n`,
      );
      if (extra.length > 0)
        out.write(
          `  kept names the stack does not read: ${extra.join(', ')} (remove them by hand)\n`,
        );
      const derived = syncDerivedFiles(stack, env);
      out.write(`derived files: ${countBy(derived.map((d) => d.action))}\n`);
      if (wantsOpsKey(stack))
        out.write(`ops SSH key ${join(stack.dir, OPS_KEY_PATH)}: ${ensureOpsKey(stack)}\n`);
      if (wantsEdgeCa(stack))
        out.write(
          `edge CA ${join(stack.dir, EDGE_CA_CERT_PATH)}: ${ensureEdgeCa(stack, settings.domain)}\n`,
        );
      const rendered = writeRendered(stack);
      out.write(
        `rendered: ${rendered.length === 0 ? 'all files current' : `${String(rendered.length)} file(s) written`}\n`,
      );
      const user = stackFeatures(stack.catalog).ldap ? stack.catalog.identity.users[0] : undefined;
      out.write(
        [
          '',
          `Domain ${settings.domain}, TLS ${settings.tls === 'internal' ? "by Caddy's internal CA" : 'by ACME'}.`,
          user === undefined
            ? ''
            : `First sign-in: ${user.uid}, password in ${stack.envPath} (${ldapUserPasswordVar(user.uid)}).`,
          'Next: datamancy doctor, then datamancy volumes and datamancy up.',
          '',
        ].join('\n'),
      );
    });

  const secrets = program.command('secrets').description("manage the stack's secrets");
  secrets
    .command('list')
    .description(
      'the secrets of the stack, who reads them and which files derive from them (never values)',
    )
    .option('--dir <dir>', 'the stack directory', 'stack')
    .option('--catalog <file>', 'the catalog (default <dir>/catalog.yaml)')
    .action((flags: { dir: string; catalog?: string }) => {
      const stack = openStackDir(flags);
      const env = readEnvFile(stack.envPath) ?? {};
      for (const s of secretSpecs(stack.catalog)) {
        const state = env[s.name] === undefined ? 'MISSING' : 'set';
        process.stdout.write(
          `${s.name.padEnd(36)} ${state.padEnd(8)} ${s.readBy.join(', ') || `(${s.note ?? 'no service'})`}${s.derived.length > 0 ? ` → ${s.derived.join(', ')}` : ''}\n`,
        );
      }
      process.stdout.write(
        `${'oidc-issuer-key'.padEnd(36)} ${'file'.padEnd(8)} authelia → ${OIDC_ISSUER_KEY_FILE}\n`,
      );
      process.stdout.write(
        `${'edge-ca'.padEnd(36)} ${'file'.padEnd(8)} caddy → ${EDGE_CA_KEY_PATH} (certificate ${EDGE_CA_CERT_PATH})\n`,
      );
      process.stdout.write(
        `${'ops-ssh-key'.padEnd(36)} ${'file'.padEnd(8)} tool-server → ${OPS_KEY_PATH}\n`,
      );
    });
  secrets
    .command('rotate')
    .description(
      'replace one secret (a .env name, oidc-issuer-key, edge-ca or ops-ssh-key) and re-render',
    )
    .argument('<name>', 'the secret to replace (see datamancy secrets list)')
    .option('--dir <dir>', 'the stack directory', 'stack')
    .option('--catalog <file>', 'the catalog (default <dir>/catalog.yaml)')
    .addHelpText(
      'after',
      '\nExamples:\n  datamancy secrets rotate OIDC_OUTLINE_SECRET\n  datamancy secrets rotate oidc-issuer-key',
    )
    .action((name: string, flags: { dir: string; catalog?: string }) => {
      const stack = openStackDir(flags);
      const existing = requireEnv(stack);
      const settings = Object.fromEntries(
        SETTING_NAMES.filter((k) => existing[k] !== undefined).map((k) => [k, existing[k] ?? '']),
      );
      const out = process.stdout;
      if (name === 'ops-ssh-key') {
        out.write(
          `ops SSH key: ${ensureOpsKey(stack, true)} (install the new public key on the ops targets: datamancy ops install)\n`,
        );
        return;
      }
      if (name === 'edge-ca') {
        out.write(
          `edge CA: ${ensureEdgeCa(stack, existing.DOMAIN ?? 'datamancy', true)}; restart caddy and every service that trusts it (datamancy up)\n`,
        );
        return;
      }
      if (name === 'oidc-issuer-key') {
        syncDerivedFiles(stack, existing, new Set([OIDC_ISSUER_KEY_FILE]));
        out.write(
          `${OIDC_ISSUER_KEY_FILE}: replaced; restart authelia (signed-in OIDC sessions must sign in again)\n`,
        );
        return;
      }
      const spec = secretSpecs(stack.catalog).find((s) => s.name === name);
      if (spec === undefined) {
        throw new UsageError(
          `unknown secret "${name}"; see datamancy secrets list (names are case-sensitive)`,
        );
      }
      const { env } = writeEnv(stack, settings, existing, new Set([name]));
      // its own derived files, and those that follow from every secret (the secret digests)
      const refreshed = syncDerivedFiles(stack, env, new Set(spec.derived))
        .filter((d) => d.action !== 'kept')
        .map((d) => relative(stack.dir, d.path));
      const rendered = writeRendered(stack);
      out.write(
        `${name}: replaced in ${stack.envPath}${refreshed.length > 0 ? `; refreshed ${refreshed.join(', ')}` : ''}${rendered.length > 0 ? `; re-rendered ${String(rendered.length)} file(s)` : ''}\n`,
      );
      // services whose environment holds it are recreated by up; those that read a refreshed
      // file load it at start and need a restart
      const readers = derivedFileReaders(stack.catalog);
      const inEnv = spec.inEnvironment;
      const byFile = [...new Set(refreshed.flatMap((f) => readers[f] ?? []))]
        .filter((s) => !inEnv.includes(s))
        .sort();
      const restart = [...new Set([...inEnv, ...byFile])].sort();
      if (restart.length > 0) {
        const parts = [
          inEnv.length > 0 ? `datamancy up recreates ${inEnv.join(', ')}` : '',
          byFile.length > 0 ? `docker restart ${byFile.join(' ')}` : '',
        ].filter(Boolean);
        out.write(`restart to apply: ${restart.join(', ')} (${parts.join('; ')})\n`);
      }
      const db = stack.catalog.services.find((s) => s.database?.passwordVar === name)?.database;
      if (db !== undefined) {
        out.write(
          `note: PostgreSQL keeps the old password of role ${db.name} until changed there:\n  docker exec -it postgres psql -U postgres -c "\\password ${db.name}"\n`,
        );
      }
      if (name === 'LDAP_ADMIN_PASSWORD' || name.startsWith('LDAP_USER_')) {
        out.write(
          'note: an existing LDAP directory keeps the old password: change it in LDAP Account Manager too\n',
        );
      }
    });
}
