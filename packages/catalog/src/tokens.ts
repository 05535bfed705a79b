import { createHash } from 'node:crypto';
import type { ValidationIssue } from '@datamancy/core';
import type { Catalog, CatalogService } from './schema.ts';

/**
 * One Datamancy token per service that calls the control plane, each with the least scope it
 * needs (catalog `datamancyToken`), and the two files `init` derives from `.env` for them:
 * the tokens file (every digest, the admin token's included, so no service holds the admin
 * token) and the secret digests the tool server redacts from what it returns.
 */

/** The operator's admin token: in `.env` for the CLI on the host, in no service. */
export const ADMIN_TOKEN_VAR = 'DATAMANCY_API_TOKEN';

/** `DATAMANCY_TOKEN_<UPPER_SNAKE_NAME>`: the `.env` name of a service's own token. */
export function serviceTokenVar(service: string): string {
  return `DATAMANCY_TOKEN_${service.toUpperCase().replace(/-/g, '_')}`;
}

const SERVICE_TOKEN_RE = /\$\{(DATAMANCY_TOKEN_[A-Z0-9_]+|DATAMANCY_API_TOKEN)\}/g;

/** Services running our own image that authenticate callers (the socket proxies trust their network). */
export function isControlPlaneService(s: CatalogService): boolean {
  return s.image.startsWith('datamancy/') && !s.dockerSocket;
}

/** The tokens file (relative to the stack dir), its directory's mount and the env pointing at it. */
export const TOKENS_FILE_PATH = 'secrets/tokens/tokens.json';
export const TOKENS_DIR_MOUNT = '/run/secrets/datamancy-tokens';
export const TOKENS_FILE_MOUNT = `${TOKENS_DIR_MOUNT}/tokens.json`;

/** The digests of every `.env` secret, for the services that redact them. */
export const SECRET_DIGESTS_PATH = 'secrets/redaction/secret-digests.json';
export const SECRET_DIGESTS_DIR_MOUNT = '/run/secrets/datamancy-redaction';
export const SECRET_DIGESTS_MOUNT = `${SECRET_DIGESTS_DIR_MOUNT}/secret-digests.json`;

export interface ServiceToken {
  /** The holder, also the token's name in the tokens file. */
  service: string;
  envVar: string;
  scopes: string[];
}

export function serviceTokens(catalog: Catalog): ServiceToken[] {
  return catalog.services
    .flatMap((s) =>
      s.datamancyToken === undefined
        ? []
        : [{ service: s.name, envVar: serviceTokenVar(s.name), scopes: s.datamancyToken.scopes }],
    )
    .sort((a, b) => a.service.localeCompare(b.service));
}

const sha256 = (value: string): string => createHash('sha256').update(value, 'utf8').digest('hex');

/**
 * The tokens file core's `loadTokensFile` reads: `admin` (the operator's token, a person)
 * and each service's token (a service), by SHA-256 only. Deterministic, so it is compared
 * rather than re-derived.
 */
export function renderTokensFile(catalog: Catalog, value: (name: string) => string): string {
  const tokens = [
    { name: 'admin', sha256: sha256(value(ADMIN_TOKEN_VAR)), scopes: ['admin'], kind: 'person' },
    ...serviceTokens(catalog).map((t) => ({
      name: t.service,
      sha256: sha256(value(t.envVar)),
      scopes: [...t.scopes].sort(),
      kind: 'service',
    })),
  ];
  return `${JSON.stringify({ tokens }, null, 2)}\n`;
}

/** `{"sha256": [...]}`: the hex digest of every secret value, sorted, once each. */
export function renderSecretDigests(values: readonly string[]): string {
  const digests = [...new Set(values.filter((v) => v !== '').map(sha256))].sort();
  return `${JSON.stringify({ sha256: digests }, null, 2)}\n`;
}

/** A service token never holds these: the operator's alone (everything, approvals included). */
const OPERATOR_ONLY_SCOPES = new Set(['admin']);

/**
 * Who may name which token: a service's environment only its own `DATAMANCY_TOKEN_*`, never
 * the admin token; a LiteLLM model key only LiteLLM's own.
 */
export function checkTokens(catalog: Catalog): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  const owners = new Map(serviceTokens(catalog).map((t) => [t.envVar, t.service]));
  catalog.services.forEach((s, i) => {
    s.datamancyToken?.scopes.forEach((scope, j) => {
      if (OPERATOR_ONLY_SCOPES.has(scope))
        issues.push({
          path: `services[${i}].datamancyToken.scopes[${j}]`,
          message: `a service token never holds ${scope} (that is the operator's token)`,
        });
    });
    for (const [key, text] of Object.entries(s.environment)) {
      for (const m of text.matchAll(SERVICE_TOKEN_RE)) {
        const name = m[1] ?? '';
        const message =
          name === ADMIN_TOKEN_VAR
            ? `the admin token ${name} stays with the operator: give ${s.name} a datamancyToken`
            : owners.get(name) === s.name
              ? undefined
              : `${name} is ${owners.has(name) ? `${owners.get(name) ?? ''}'s token` : 'no service token'}, not ${s.name}'s`;
        if (message !== undefined)
          issues.push({ path: `services[${i}].environment.${key}`, message });
      }
    }
  });
  catalog.ai.models.forEach((m, i) => {
    const key = m.apiKeyEnv;
    if (key === undefined || !/^DATAMANCY_(TOKEN_|API_TOKEN$)/.test(key)) return;
    if (owners.get(key) !== 'litellm')
      issues.push({
        path: `ai.models[${i}].apiKeyEnv`,
        message: `LiteLLM sends ${serviceTokenVar('litellm')} (its own token), not ${key}`,
      });
  });
  return issues;
}
