import {
  createHash,
  generateKeyPairSync,
  createPrivateKey,
  pbkdf2Sync,
  randomBytes,
  randomInt,
  timingSafeEqual,
} from 'node:crypto';
import { generateToken } from '@datamancy/core';
import { oidcDigestFile, oidcSecretVar, OIDC_ISSUER_KEY_FILE } from './authelia.ts';
import { composeVariables } from './env-vars.ts';
import { ldapHashFiles, ldapUserPasswordVar } from './ldif.ts';
import { renderCompose } from './render.ts';
import type { Catalog } from './schema.ts';
import {
  ADMIN_TOKEN_VAR,
  isControlPlaneService,
  renderSecretDigests,
  renderTokensFile,
  SECRET_DIGESTS_PATH,
  serviceTokens,
  serviceTokenVar,
  TOKENS_FILE_PATH,
} from './tokens.ts';

/**
 * What `datamancy init` writes: `.env` (settings and every secret the rendered stack reads,
 * no other name) and the files derived from it (LDAP SSHA hashes, Authelia's client-secret
 * digests and issuer key, Prometheus' token). Pure apart from the CSPRNG; the CLI does I/O.
 */

export type TlsMode = 'internal' | 'acme';

/** Settings `init` writes that are not secrets. */
export interface StackSettings {
  domain: string;
  tls: TlsMode;
  /** ACME account e-mail (tls=acme). */
  acmeEmail?: string;
  dataDir: string;
  projectName: string;
  liteLlmAllowlist: string;
  /** The address Caddy's ports are published on (DATAMANCY_BIND). */
  bind: string;
  httpPort: number;
  httpsPort: number;
  /** The engine's socket on the host, mounted by the socket proxies. */
  engineSocket: string;
}

const SETTING_NAMES = [
  'COMPOSE_PROJECT_NAME',
  'DOMAIN',
  'STACK_DATA_DIR',
  'CADDY_TLS',
  'API_LITELLM_ALLOWLIST',
  'DATAMANCY_BIND',
  'DATAMANCY_HTTP_PORT',
  'DATAMANCY_HTTPS_PORT',
  'DATAMANCY_ENGINE_SOCKET',
] as const;

/** What the settings are when `.env` does not say (the compose file's own defaults). */
export const SETTING_DEFAULTS = {
  bind: '0.0.0.0',
  httpPort: 80,
  httpsPort: 443,
  engineSocket: '/var/run/docker.sock',
} as const;

export function settingsEnv(settings: StackSettings): Record<string, string> {
  return {
    COMPOSE_PROJECT_NAME: settings.projectName,
    DOMAIN: settings.domain,
    STACK_DATA_DIR: settings.dataDir,
    CADDY_TLS:
      settings.tls === 'internal'
        ? 'local_certs'
        : `email ${settings.acmeEmail ?? `admin@${settings.domain}`}`,
    API_LITELLM_ALLOWLIST: settings.liteLlmAllowlist,
    DATAMANCY_BIND: settings.bind,
    DATAMANCY_HTTP_PORT: String(settings.httpPort),
    DATAMANCY_HTTPS_PORT: String(settings.httpsPort),
    DATAMANCY_ENGINE_SOCKET: settings.engineSocket,
  };
}

/** A private domain gets Caddy's internal CA; a public one ACME. */
export function defaultTlsMode(domain: string): TlsMode {
  return /\.(local|lan|internal|intranet|home\.arpa|test|localhost|corp|home)$/.test(domain) ||
    !domain.includes('.')
    ? 'internal'
    : 'acme';
}

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** A password safe in URLs and shells: 32 characters from [A-Za-z0-9] (~190 bits). */
export function generatePassword(length = 32): string {
  let out = '';
  for (let i = 0; i < length; i++) out += ALNUM[randomInt(ALNUM.length)];
  return out;
}

/** A secret value for a variable, shaped by what its consumer expects. */
export function generateSecret(name: string): string {
  // Datamancy tokens: the admin token's generator in core (`dmcy_` and 256 bits)
  if (name === ADMIN_TOKEN_VAR || name.startsWith('DATAMANCY_TOKEN_')) return generateToken();
  if (name === 'LITELLM_MASTER_KEY') return `sk-${randomBytes(24).toString('hex')}`;
  if (name === 'MASTODON_SECRET_KEY_BASE') return randomBytes(64).toString('hex');
  if (name.endsWith('_PASSWORD')) return generatePassword();
  // keys, tokens and secrets: 256 bits as hex (Outline insists on hex)
  return randomBytes(32).toString('hex');
}

export interface SecretSpec {
  name: string;
  /** Services that read it: in their environment, or (a token) through a derived file. */
  readBy: string[];
  /** Those of `readBy` whose environment holds it (`datamancy up` recreates them on a change). */
  inEnvironment: string[];
  /** Its own derived files (the secret digests follow every secret: they are re-derived too). */
  derived: string[];
  /** What `.env` says about it when no service reads it. */
  note?: string;
}

/**
 * Every secret `.env` holds for this catalog: compose variables without a default, not
 * settings; the bootstrap accounts' passwords; the Datamancy tokens (the operator's admin
 * token and each service's own, some read only through a derived file).
 */
export function secretSpecs(catalog: Catalog): SecretSpec[] {
  const compose = renderCompose(catalog);
  const { required } = composeVariables(compose);
  const settings = new Set<string>(SETTING_NAMES);
  const features = stackFeatures(catalog);
  const envReaders = (name: string): string[] =>
    catalog.services
      .filter(
        (s) =>
          Object.values({ ...s.environment }).some((v) => v.includes(`\${${name}}`)) ||
          (s.name === 'postgres' &&
            catalog.services.some((o) => o.database?.passwordVar === name)) ||
          (s.name === 'litellm' && catalog.ai.models.some((m) => m.apiKeyEnv === name)),
      )
      .map((s) => s.name);
  const derivedFrom = new Map<string, string[]>();
  const addDerived = (name: string, file: string): void => {
    derivedFrom.set(name, [...(derivedFrom.get(name) ?? []), file]);
  };
  for (const h of ldapHashFiles(catalog)) addDerived(h.passwordVar, h.path);
  for (const s of catalog.services.filter((x) => x.sso === 'oidc'))
    addDerived(oidcSecretVar(s.name), oidcDigestFile(s.name));
  const tokens = features.tokens
    ? [ADMIN_TOKEN_VAR, ...serviceTokens(catalog).map((t) => t.envVar)]
    : [];
  for (const name of tokens) addDerived(name, TOKENS_FILE_PATH);
  if (features.metrics) addDerived(serviceTokenVar('prometheus'), PROMETHEUS_TOKEN_PATH);
  const names = [
    ...required.filter((n) => !settings.has(n)),
    ...(features.ldap ? catalog.identity.users.map((u) => ldapUserPasswordVar(u.uid)) : []),
    ...tokens,
  ];
  return [...new Set(names)].sort().map((name) => {
    const holder = serviceTokens(catalog).find((t) => t.envVar === name)?.service;
    const inEnvironment = envReaders(name);
    const readBy = [
      ...new Set([...inEnvironment, ...(holder === undefined ? [] : [holder])]),
    ].sort();
    return {
      name,
      readBy,
      inEnvironment,
      derived: derivedFrom.get(name) ?? [],
      ...(name === ADMIN_TOKEN_VAR
        ? { note: "the operator's admin token, for the CLI; services get its digest only" }
        : readBy.length === 0
          ? { note: 'LDAP bootstrap account (signs in through Authelia)' }
          : {}),
    };
  });
}

/**
 * The services that read each derived file through a mount (they load it at start: restart
 * them when it changes; `datamancy up` recreates only services whose configuration changed).
 */
export function derivedFileReaders(catalog: Catalog): Record<string, string[]> {
  const features = stackFeatures(catalog);
  const names = (pred: (s: Catalog['services'][number]) => boolean): string[] =>
    catalog.services.filter(pred).map((s) => s.name);
  return {
    ...(features.tokens ? { [TOKENS_FILE_PATH]: names(isControlPlaneService) } : {}),
    ...(features.secretDigests ? { [SECRET_DIGESTS_PATH]: names((s) => s.redactsSecrets) } : {}),
    ...(features.metrics ? { [PROMETHEUS_TOKEN_PATH]: ['prometheus'] } : {}),
  };
}

/** Which derived secrets a catalog needs: a stack without LDAP gets no LDAP hashes, and so on. */
export function stackFeatures(catalog: Catalog): {
  ldap: boolean;
  oidc: boolean;
  metrics: boolean;
  tokens: boolean;
  secretDigests: boolean;
} {
  const mounts = (prefix: string): boolean =>
    catalog.services.some((s) => s.volumes.some((v) => v.startsWith(prefix)));
  return {
    ldap: mounts('./ldap:'),
    oidc: catalog.services.some((s) => s.sso === 'oidc'),
    metrics:
      mounts('./prometheus/secrets:') &&
      catalog.services.some((s) => s.name === 'prometheus' && s.datamancyToken !== undefined),
    tokens: catalog.services.some(isControlPlaneService),
    secretDigests: catalog.services.some((s) => s.redactsSecrets),
  };
}

/** Prometheus' own token, for scraping (relative to the stack directory). */
export const PROMETHEUS_TOKEN_PATH = 'prometheus/secrets/token';

// --- hashes ------------------------------------------------------------------------------

/** OpenLDAP `{SSHA}`: base64(SHA-1(password ‖ salt) ‖ salt), an 8-byte random salt. */
export function sshaHash(password: string, salt: Buffer = randomBytes(8)): string {
  const digest = createHash('sha1').update(password, 'utf8').update(salt).digest();
  return `{SSHA}${Buffer.concat([digest, salt]).toString('base64')}`;
}

export function verifySsha(password: string, hash: string): boolean {
  const m = /^\{SSHA\}([A-Za-z0-9+/=]+)$/.exec(hash.trim());
  if (m?.[1] === undefined) return false;
  const raw = Buffer.from(m[1], 'base64');
  if (raw.length <= 20) return false;
  const expected = Buffer.from(sshaHash(password, raw.subarray(20)).slice(6), 'base64');
  return raw.length === expected.length && timingSafeEqual(raw, expected);
}

/** Authelia's (and passlib's) adapted base64: `.` for `+`, no padding. */
const ab64 = (b: Buffer): string => b.toString('base64').replace(/\+/g, '.').replace(/=+$/, '');
const unab64 = (s: string): Buffer => Buffer.from(s.replace(/\./g, '+'), 'base64');

/** The iteration count Authelia recommends for PBKDF2-SHA512 client secret digests. */
export const PBKDF2_ITERATIONS = 310_000;

/** `$pbkdf2-sha512$<iterations>$<salt>$<key>` as Authelia and passlib read it. */
export function pbkdf2Sha512Digest(
  secret: string,
  salt: Buffer = randomBytes(16),
  iterations = PBKDF2_ITERATIONS,
): string {
  const key = pbkdf2Sync(secret, salt, iterations, 64, 'sha512');
  return `$pbkdf2-sha512$${String(iterations)}$${ab64(salt)}$${ab64(key)}`;
}

export function verifyPbkdf2Sha512(secret: string, digest: string): boolean {
  const m = /^\$pbkdf2-sha512\$(\d+)\$([A-Za-z0-9./]+)\$([A-Za-z0-9./]+)$/.exec(digest.trim());
  if (m?.[1] === undefined || m[2] === undefined || m[3] === undefined) return false;
  const iterations = Number(m[1]);
  if (!Number.isSafeInteger(iterations) || iterations < 1 || iterations > 10_000_000) return false;
  const expected = unab64(m[3]);
  const actual = pbkdf2Sync(secret, unab64(m[2]), iterations, expected.length, 'sha512');
  return expected.length > 0 && timingSafeEqual(actual, expected);
}

/** A fresh RSA issuer key for Authelia's OIDC provider (PKCS#8 PEM). */
export function generateIssuerKey(bits = 3072): string {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: bits });
  return privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
}

/** True when `pem` is an RSA private key of at least 2048 bits. */
export function isUsableIssuerKey(pem: string): boolean {
  try {
    const key = createPrivateKey(pem);
    return (
      key.asymmetricKeyType === 'rsa' && (key.asymmetricKeyDetails?.modulusLength ?? 0) >= 2048
    );
  } catch {
    return false;
  }
}

// --- derived files -----------------------------------------------------------------------

export interface DerivedFile {
  path: string;
  /** Builds fresh content from the current `.env`. */
  create: () => string;
  /** True when existing content is still valid for the current `.env` (then it is kept). */
  valid: (content: string) => boolean;
}

/** The files derived from `.env`, each kept while it still matches its secret. */
export function derivedFiles(
  catalog: Catalog,
  env: Readonly<Record<string, string>>,
): DerivedFile[] {
  const value = (name: string): string => {
    const v = env[name];
    if (v === undefined || v === '') throw new Error(`.env has no ${name}`);
    return v;
  };
  const files: DerivedFile[] = [];
  const features = stackFeatures(catalog);
  for (const h of features.ldap ? ldapHashFiles(catalog) : []) {
    files.push({
      path: h.path,
      create: () => `${sshaHash(value(h.passwordVar))}\n`,
      valid: (c) => verifySsha(value(h.passwordVar), c),
    });
  }
  for (const s of catalog.services.filter((x) => x.sso === 'oidc')) {
    const name = oidcSecretVar(s.name);
    files.push({
      path: oidcDigestFile(s.name),
      create: () => pbkdf2Sha512Digest(value(name)),
      valid: (c) => verifyPbkdf2Sha512(value(name), c),
    });
  }
  if (features.oidc) {
    files.push({
      path: OIDC_ISSUER_KEY_FILE,
      create: () => generateIssuerKey(),
      valid: isUsableIssuerKey,
    });
  }
  if (features.metrics) {
    const name = serviceTokenVar('prometheus');
    files.push({
      path: PROMETHEUS_TOKEN_PATH,
      create: () => value(name),
      valid: (c) => c === value(name),
    });
  }
  // deterministic files: valid exactly when equal to what the current .env gives
  const exact = (path: string, create: () => string): DerivedFile => ({
    path,
    create,
    valid: (c) => c === create(),
  });
  if (features.tokens) files.push(exact(TOKENS_FILE_PATH, () => renderTokensFile(catalog, value)));
  if (features.secretDigests) {
    files.push(
      exact(SECRET_DIGESTS_PATH, () =>
        renderSecretDigests(secretSpecs(catalog).map((s) => value(s.name))),
      ),
    );
  }
  return files;
}

// --- .env --------------------------------------------------------------------------------

/** Formats `.env`: settings first, then secrets, each with a comment naming its readers. */
export function formatDotEnv(
  settings: Readonly<Record<string, string>>,
  secrets: readonly { name: string; value: string; readBy: string[]; note?: string }[],
  extra: Readonly<Record<string, string>> = {},
  optional: Readonly<Record<string, string>> = {},
): string {
  const quote = (v: string): string => (/^[\w@./:,+-]*$/.test(v) ? v : `'${v}'`);
  const lines = [
    '# Written by `datamancy init`. Secrets: keep this file private (mode 600), back it up.',
    '# Re-running init keeps every value; `datamancy secrets rotate NAME` replaces one.',
    '',
    '# --- settings',
    ...Object.entries(settings).map(([k, v]) => `${k}=${quote(v)}`),
    '',
    '# --- secrets',
    ...secrets.flatMap((s) => [
      `# ${s.readBy.length > 0 ? `read by ${s.readBy.join(', ')}` : (s.note ?? 'not read by a service')}`,
      `${s.name}=${quote(s.value)}`,
    ]),
  ];
  const tunables = Object.entries(optional);
  if (tunables.length > 0) {
    lines.push('', '# --- optional settings (the compose file has a default for each)');
    lines.push(...tunables.map(([k, v]) => `${k}=${quote(v)}`));
  }
  const extras = Object.entries(extra);
  if (extras.length > 0) {
    lines.push('', '# --- not read by the stack (kept from an earlier .env)');
    lines.push(...extras.map(([k, v]) => `${k}=${quote(v)}`));
  }
  return `${lines.join('\n')}\n`;
}

export { SETTING_NAMES };

/** The variables the rendered compose file reads with a default (`${NAME:-30}`), not settings. */
export function optionalVariables(catalog: Catalog): Set<string> {
  const names = new Set(composeVariables(renderCompose(catalog)).withDefault);
  for (const name of SETTING_NAMES) names.delete(name);
  return names;
}
