import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { z } from 'zod';
import type { Logger } from './logger.ts';

/**
 * Identities and scopes. A scope is a capability name (the contract's five), `audit.read`,
 * or `admin` (everything). The admin token carries `admin`; further tokens carry a list.
 */

export const CAPABILITIES = [
  'host.shell.read',
  'host.docker.inspect',
  'host.docker.write',
  'host.network.http',
  'host.network.ssh',
] as const;
export type Capability = (typeof CAPABILITIES)[number];

/** Capabilities that only observe; granted by default. The rest must be granted explicitly. */
export const READ_CAPABILITIES: readonly Capability[] = [
  'host.shell.read',
  'host.docker.inspect',
  'host.network.http',
];

/**
 * Scopes beyond the tool capabilities: each service's own use (`browser.use`, `models.use`,
 * `speech.use`), reading the probe (`probe.read`) and metrics (`metrics.read`), the audit log
 * (`audit.read`), and `admin` (everything).
 */
export const SERVICE_SCOPES = [
  'browser.use',
  'models.use',
  'speech.use',
  'probe.read',
  'metrics.read',
  'audit.read',
] as const;

export const SCOPES = [...CAPABILITIES, ...SERVICE_SCOPES, 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

export function isCapability(value: string): value is Capability {
  return (CAPABILITIES as readonly string[]).includes(value);
}

export interface Identity {
  /** Stable name of the caller, e.g. `admin` or a configured token name. */
  name: string;
  scopes: ReadonlySet<Scope>;
  /** How the caller proved who it is. */
  via: 'admin-token' | 'token' | 'local' | 'session' | 'sso';
  /**
   * A person (an operator's token, a dashboard session, an SSO user) or a service (a token a
   * program holds). Only a person may approve or reject a repair.
   */
  kind: IdentityKind;
}

export const IDENTITY_KINDS = ['person', 'service'] as const;
export type IdentityKind = (typeof IDENTITY_KINDS)[number];

export function hasScope(identity: Identity, scope: Scope): boolean {
  return identity.scopes.has('admin') || identity.scopes.has(scope);
}

export const TokenEntrySchema = z
  .object({
    name: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/i, 'use letters, digits, . _ -'),
    token: z.string().min(24, 'tokens need at least 24 characters').optional(),
    sha256: z
      .string()
      .regex(/^[0-9a-f]{64}$/, 'expected the hex SHA-256 of the token')
      .optional(),
    scopes: z.array(z.enum(SCOPES)).min(1),
    /** `service`: held by a program; such a token can never approve a repair. */
    kind: z.enum(IDENTITY_KINDS).default('person'),
  })
  .refine((t) => (t.token === undefined) !== (t.sha256 === undefined), {
    message: 'give exactly one of token or sha256',
  });
export type TokenEntry = z.infer<typeof TokenEntrySchema>;
/** A token entry as written (kind defaults to `person`). */
export type TokenEntryInput = z.input<typeof TokenEntrySchema>;

export const AuthConfigSchema = z.object({
  /** The admin token; normally from DATAMANCY_API_TOKEN or generated into the data dir. */
  adminToken: z.string().min(24, 'the admin token needs at least 24 characters').optional(),
  tokens: z.array(TokenEntrySchema).default([]),
  /**
   * A JSON file `{"tokens": [{name, sha256, scopes, kind}]}` of further tokens, by digest
   * only (the stack's per-service tokens, written by `datamancy init`). An entry named
   * `admin` is the admin token's digest, for services that must not hold the token itself.
   */
  tokensFile: z.string().min(1).optional(),
});
export type AuthConfig = z.infer<typeof AuthConfigSchema>;

const TokensFileSchema = z
  .object({
    tokens: z.array(
      TokenEntrySchema.refine((t) => t.sha256 !== undefined, {
        message: 'a tokens file holds digests (sha256), never tokens',
      }),
    ),
  })
  .strict();

/** Reads and validates a tokens file; throws naming the file and every invalid path. */
export function loadTokensFile(path: string): TokenEntry[] {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`cannot read the tokens file ${path}: ${(err as Error).message}`);
  }
  const parsed = TokensFileSchema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new Error(`invalid tokens file ${path}: ${issues.join('; ')}`);
  }
  return parsed.data.tokens;
}

export function hashToken(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

export function generateToken(): string {
  return `dmcy_${randomBytes(32).toString('base64url')}`;
}

interface Known {
  digest: Buffer;
  identity: Identity;
}

/** Looks up bearer tokens by digest, comparing in constant time. */
export class TokenRegistry {
  readonly #known: Known[] = [];

  constructor(adminToken: string | undefined, tokens: readonly TokenEntryInput[] = []) {
    if (adminToken !== undefined) {
      this.#add(hashToken(adminToken), {
        name: 'admin',
        scopes: new Set(['admin']),
        via: 'admin-token',
        kind: 'person',
      });
    }
    const names = new Set<string>();
    for (const entry of tokens) {
      // `admin` names the admin token; a tokens file may carry its digest when the token
      // itself is not given to this process.
      if (names.has(entry.name) || (entry.name === 'admin' && adminToken !== undefined)) {
        throw new Error(`duplicate token name "${entry.name}" in auth.tokens`);
      }
      names.add(entry.name);
      const digest =
        entry.sha256 !== undefined
          ? Buffer.from(entry.sha256, 'hex')
          : hashToken(entry.token ?? '');
      this.#add(digest, {
        name: entry.name,
        scopes: new Set(entry.scopes),
        via: entry.name === 'admin' ? 'admin-token' : 'token',
        kind: entry.kind ?? 'person',
      });
    }
  }

  #add(digest: Buffer, identity: Identity): void {
    if (this.#known.some((k) => timingSafeEqual(k.digest, digest))) {
      throw new Error(`token of "${identity.name}" is already used by another identity`);
    }
    this.#known.push({ digest, identity });
  }

  get size(): number {
    return this.#known.length;
  }

  /**
   * The current identity of a token name, if `digest` is still that name's token: how a
   * session made from a token is re-checked on every request (revoked or rotated: gone).
   */
  lookup(name: string, digest: Buffer): Identity | undefined {
    let found: Identity | undefined;
    for (const known of this.#known) {
      if (known.identity.name === name && timingSafeEqual(known.digest, digest))
        found = known.identity;
    }
    return found;
  }

  authenticate(token: string): Identity | undefined {
    const digest = hashToken(token);
    let found: Identity | undefined;
    for (const known of this.#known) {
      if (timingSafeEqual(known.digest, digest)) found = known.identity;
    }
    return found;
  }
}

/** Reads `Authorization: Bearer <token>`; undefined when absent or malformed. */
export function parseBearer(header: string | undefined | null): string | undefined {
  if (header === undefined || header === null) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}

/**
 * The registry a process authenticates with: `auth.tokens`, the tokens file, and the admin
 * token (configured, or from the data directory, or generated there), unless the tokens file
 * carries the admin token's digest, in which case this process never holds the token.
 */
export function createTokenRegistry(
  auth: AuthConfig,
  tokenPath: string,
  logger: Logger,
): { tokens: TokenRegistry; admin: AdminTokenResult | undefined } {
  const fromFile = auth.tokensFile === undefined ? [] : loadTokensFile(auth.tokensFile);
  const adminByDigest = fromFile.some((t) => t.name === 'admin');
  const admin =
    adminByDigest && auth.adminToken === undefined
      ? undefined
      : ensureAdminToken(auth.adminToken, tokenPath, logger);
  const entries = [...auth.tokens, ...fromFile].filter(
    (t) => !(t.name === 'admin' && admin !== undefined),
  );
  if (auth.tokensFile !== undefined) {
    logger.info(
      { path: auth.tokensFile, tokens: fromFile.map((t) => t.name) },
      'loaded the tokens file',
    );
  }
  return { tokens: new TokenRegistry(admin?.token, entries), admin };
}

export interface AdminTokenResult {
  token: string;
  source: 'env' | 'file' | 'generated';
  path?: string;
}

/**
 * The admin token: the configured one, else the one in `<dataDir>/api-token`, else a new one
 * written there with mode 600. Logs the path, never the token.
 */
export function ensureAdminToken(
  configured: string | undefined,
  tokenPath: string,
  logger: Logger,
): AdminTokenResult {
  if (configured !== undefined) return { token: configured, source: 'env' };
  if (existsSync(tokenPath)) {
    const mode = statSync(tokenPath).mode & 0o777;
    if ((mode & 0o077) !== 0) {
      chmodSync(tokenPath, 0o600);
      logger.warn(
        { path: tokenPath, mode: mode.toString(8) },
        'admin token file was readable by others; set mode 600',
      );
    }
    const token = readFileSync(tokenPath, 'utf8').trim();
    if (token.length < 24)
      throw new Error(`${tokenPath} holds no usable token (under 24 characters)`);
    logger.info({ path: tokenPath }, 'using the admin token from the data directory');
    return { token, source: 'file', path: tokenPath };
  }
  mkdirSync(dirname(tokenPath), { recursive: true, mode: 0o700 });
  const token = generateToken();
  writeFileSync(tokenPath, `${token}\n`, { mode: 0o600, flag: 'wx' });
  logger.info({ path: tokenPath }, 'generated an admin token; read it from this file');
  return { token, source: 'generated', path: tokenPath };
}
