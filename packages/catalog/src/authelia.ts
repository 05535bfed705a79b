import { stringify } from 'yaml';
import { GENERATED_HEADER } from './render.ts';
import type { Catalog, CatalogService } from './schema.ts';

/**
 * Authelia's configuration.yml: LDAP users and groups, TOTP second factor, Redis sessions,
 * default-deny access rules by group (one per forward-auth host), an OIDC client per OIDC
 * app. Values that differ per installation come from Authelia's template filter
 * (`X_AUTHELIA_CONFIG_FILTERS=template`): `{{ env "DOMAIN" }}`, and secrets from files
 * `datamancy init` writes (client secret digests, the issuer key) or from `.env` through
 * Authelia's environment (session, storage, JWT and HMAC secrets), never from this file.
 */

const env = (name: string): string => `{{ env "${name}" }}`;
const host = (s: CatalogService): string => `${s.hostname ?? s.name}.${env('DOMAIN')}`;

const varPart = (service: string): string => service.toUpperCase().replace(/-/g, '_');

/** The `.env` variable holding an OIDC client's secret (the app reads it too). */
export const oidcSecretVar = (service: string): string => `OIDC_${varPart(service)}_SECRET`;

/** The file (relative to the stack directory) with a client secret's PBKDF2-SHA512 digest. */
export const oidcDigestFile = (service: string): string =>
  `authelia/secrets/oidc-${service}.digest`;

/** The OIDC issuer's RSA private key (PEM), relative to the stack directory. */
export const OIDC_ISSUER_KEY_FILE = 'authelia/secrets/oidc-issuer.pem';

/** Where ./authelia/secrets is mounted in Authelia's container. */
const SECRETS_MOUNT = '/config/secrets';
const mounted = (file: string): string =>
  `${SECRETS_MOUNT}/${file.slice('authelia/secrets/'.length)}`;

export function renderAutheliaConfig(catalog: Catalog): string {
  const forward = catalog.services
    .filter((s) => s.sso === 'forward-auth')
    .sort((a, b) => a.name.localeCompare(b.name));
  const oidc = catalog.services
    .filter((s) => s.sso === 'oidc')
    .sort((a, b) => a.name.localeCompare(b.name));
  const document = {
    theme: 'auto',
    server: { address: 'tcp://0.0.0.0:9091/' },
    log: { level: 'info' },
    totp: { issuer: env('DOMAIN') },
    authentication_backend: {
      password_reset: { disable: false },
      ldap: {
        implementation: 'custom',
        address: 'ldap://ldap:1389',
        base_dn: catalog.identity.baseDn,
        additional_users_dn: 'ou=users',
        users_filter: '(&({username_attribute}={input})(objectClass=inetOrgPerson))',
        additional_groups_dn: 'ou=groups',
        groups_filter: '(&(member={dn})(objectClass=groupOfNames))',
        user: `cn=admin,${catalog.identity.baseDn}`,
        // password: AUTHELIA_AUTHENTICATION_BACKEND_LDAP_PASSWORD (from .env)
        attributes: { username: 'uid', display_name: 'cn', mail: 'mail', group_name: 'cn' },
      },
    },
    session: {
      cookies: [{ domain: env('DOMAIN'), authelia_url: `https://auth.${env('DOMAIN')}` }],
      redis: { host: 'redis', port: 6379 },
    },
    regulation: { max_retries: 5, find_time: '2m', ban_time: '10m' },
    storage: { local: { path: '/data/db.sqlite3' } },
    notifier: { filesystem: { filename: '/data/notification.txt' } },
    access_control: {
      default_policy: 'deny',
      rules: [
        { domain: `auth.${env('DOMAIN')}`, policy: 'bypass' },
        ...forward.map((s) => ({
          domain: host(s),
          policy: 'two_factor',
          subject: s.groups.map((g) => `group:${g}`),
        })),
      ],
    },
    identity_providers: {
      oidc: {
        jwks: [
          {
            key: `{{ secret "${mounted(OIDC_ISSUER_KEY_FILE)}" | mindent 10 "|" | msquote }}`,
          },
        ],
        clients: oidc.map((s) => ({
          client_id: s.name,
          client_name: s.description,
          client_secret: `{{ secret "${mounted(oidcDigestFile(s.name))}" }}`,
          authorization_policy: 'two_factor',
          redirect_uris: [`https://${host(s)}${s.oidcRedirectPath ?? '/'}`],
          scopes: ['openid', 'profile', 'email', 'groups'],
        })),
      },
    },
  };
  return GENERATED_HEADER + stringify(document, { lineWidth: 0 });
}
