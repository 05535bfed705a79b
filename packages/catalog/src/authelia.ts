import { stringify } from 'yaml';
import { GENERATED_HEADER } from './render.ts';
import type { Catalog, CatalogService } from './schema.ts';

/**
 * Authelia's configuration.yml: LDAP users and groups, TOTP second factor, Redis sessions,
 * default-deny access rules by group (one per forward-auth host), an OIDC client per OIDC
 * app. Values that differ per installation come from Authelia's template filter
 * (`X_AUTHELIA_CONFIG_FILTERS=template`): `{{ env "DOMAIN" }}`, and secrets from files
 * `datamancy init` writes (client secret digests, the issuer key), never from this file.
 */

const env = (name: string): string => `{{ env "${name}" }}`;
const host = (s: CatalogService): string => `${s.hostname ?? s.name}.${env('DOMAIN')}`;

/** The env var holding an OIDC client's PBKDF2-SHA512 digest (written by `datamancy init`). */
export const oidcDigestVar = (service: string): string =>
  `OIDC_${service.toUpperCase().replace(/-/g, '_')}_DIGEST`;

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
        base_dn: env('LDAP_BASE_DN'),
        additional_users_dn: 'ou=users',
        users_filter: '(&({username_attribute}={input})(objectClass=inetOrgPerson))',
        additional_groups_dn: 'ou=groups',
        groups_filter: '(&(member={dn})(objectClass=groupOfNames))',
        user: `cn=admin,${env('LDAP_BASE_DN')}`,
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
          { key: '{{ secret "/config/secrets/oidc-issuer.pem" | mindent 10 "|" | msquote }}' },
        ],
        clients: oidc.map((s) => ({
          client_id: s.name,
          client_name: s.description,
          client_secret: env(oidcDigestVar(s.name)),
          authorization_policy: 'two_factor',
          redirect_uris: [`https://${host(s)}/`],
          scopes: ['openid', 'profile', 'email', 'groups'],
        })),
      },
    },
  };
  return GENERATED_HEADER + stringify(document, { lineWidth: 0 });
}
