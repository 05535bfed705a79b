import { z } from 'zod';
import { SCOPES } from '@datamancy/core';

/**
 * The stack catalog (`stack/catalog.yaml`): one entry per service, from which the compose
 * file, the Caddyfile and the rest are rendered. Adding an app is one entry.
 */

export const NETWORKS = ['frontend', 'backend', 'database', 'docker', 'docker-admin'] as const;
export type NetworkName = (typeof NETWORKS)[number];

/** The design's address plan (docs/stack.md has who is on which network and why). */
export const NETWORK_SUBNETS: Readonly<Record<NetworkName, string>> = {
  frontend: '172.20.0.0/24',
  backend: '172.21.0.0/24',
  database: '172.22.0.0/24',
  docker: '172.23.0.0/24',
  'docker-admin': '172.24.0.0/24',
};

/**
 * Networks with no route out: the stores, and the two that carry the Engine API (each shared
 * by one socket proxy and the few services allowed to call it).
 */
export const INTERNAL_NETWORKS: ReadonlySet<NetworkName> = new Set([
  'database',
  'docker',
  'docker-admin',
]);

/**
 * Where the engine hands out addresses to containers without a fixed one. Fixed addresses
 * (`ipv4Address`) lie outside it, so no container started first can take them.
 */
export const NETWORK_IP_RANGES: Readonly<Partial<Record<NetworkName, string>>> = {
  backend: '172.21.0.128/25',
};

/** The networks on which a socket holder serves the Engine API. */
export const SOCKET_NETWORKS: ReadonlySet<NetworkName> = new Set(['docker', 'docker-admin']);

export const PROFILES = [
  'bootstrap',
  'databases',
  'applications',
  'infrastructure',
  'bootstrap_vector_dbs',
  'local',
] as const;

/**
 * Profiles rendered as a stack of their own (`docker-compose.<profile>.yml` and its variant
 * files), not as a selection of the main compose file: their services run without the rest,
 * so what they depend on and how they are configured may differ (`profileOverrides`).
 * `local` is what one machine without a registry, a GPU or Authelia can run.
 */
export const STANDALONE_PROFILES = ['local'] as const;
export type StandaloneProfile = (typeof STANDALONE_PROFILES)[number];

const name = z.string().regex(/^[a-z][a-z0-9-]{0,40}$/, 'lower-case letters, digits and -');
const duration = z.string().regex(/^\d+(ms|s|m|h)$/, 'e.g. 30s');

/** `image:tag` with a real version: never `latest`, never untagged. */
const pinnedImage = z
  .string()
  .regex(
    /^[a-z0-9][a-z0-9._/-]*(:[0-9]+)?[a-z0-9._/-]*:[\w][\w.-]{0,127}(@sha256:[0-9a-f]{64})?$/,
    'expected image:tag',
  )
  .refine((image) => !/:latest(@|$)/.test(image), { message: 'pin a version, not latest' });

export const SsoModeSchema = z.enum(['forward-auth', 'oidc', 'bypass', 'none']);

export const CatalogServiceSchema = z
  .object({
    name,
    description: z.string().min(1).max(300),
    image: pinnedImage,
    profiles: z.array(z.enum(PROFILES)).min(1),
    /** Startup phase (DESIGN): lower phases start first; depends_on follows it. */
    phase: z.number().int().min(0).max(9),
    networks: z.array(z.enum(NETWORKS)).min(1),
    /** The port the service listens on inside its network. */
    port: z.number().int().min(1).max(65535).optional(),
    /** Public host name, `<hostname>.${DOMAIN}`; absent: not reachable from outside. */
    hostname: z
      .string()
      .regex(/^[a-z0-9-]+$/)
      .optional(),
    sso: SsoModeSchema.default('none'),
    /** The app's OIDC callback path (Authelia matches redirect URIs exactly). */
    oidcRedirectPath: z
      .string()
      .regex(/^\/[\w/.-]*$/)
      .optional(),
    /** LDAP groups allowed through forward-auth (default: the `users` group). */
    groups: z.array(z.string().regex(/^[a-z][a-z0-9_-]*$/)).default(['users']),
    healthcheck: z.object({
      test: z.array(z.string()).min(2),
      interval: duration.default('30s'),
      timeout: duration.default('5s'),
      retries: z.number().int().min(1).max(20).default(5),
      startPeriod: duration.default('30s'),
    }),
    dependsOn: z.array(name).default([]),
    volumes: z
      .array(
        z
          .string()
          .regex(
            /^(\$\{[A-Z_][A-Z0-9_]*:-[\w./-]+\}|[\w./${}-]+):\/[\w./-]*(:ro)?$/,
            'name-or-path:/container/path[:ro] (the path may be ${VAR:-/default})',
          ),
      )
      .default([]),
    environment: z.record(z.string().regex(/^[A-Z_][A-Z0-9_]*$/), z.string()).default({}),
    /** Only the edge proxy publishes ports. */
    publish: z
      .array(
        z
          .string()
          .regex(
            /^(\$\{[A-Z_][A-Z0-9_]*(:-[\d.]*)?\}:)?(\d+|\$\{[A-Z_][A-Z0-9_]*(:-\d+)?\}):\d+(\/udp)?$/,
            '[${BIND_VAR:-0.0.0.0}:]host-port-or-${PORT_VAR:-80}:container-port',
          ),
      )
      .default([]),
    user: z
      .string()
      .regex(/^\d+(:\d+)?$/)
      .optional(),
    /**
     * Run a small init as PID 1 (compose `init: true`: Docker's tini, Podman's catatonit), so a
     * signal to the service's process does what it does outside a container (a PID 1 ignores
     * signals it has no handler for) and zombies are reaped.
     */
    init: z.boolean().default(false),
    /** Without `user`: why the image's own user is kept (root that drops privileges, …). */
    userReason: z.string().min(10).max(200).optional(),
    memory: z
      .string()
      .regex(/^\d+[mg]$/)
      .optional(),
    /**
     * A socket holder: one of the two proxies that mount the engine's socket, alone on a
     * socket network (`docker`, `docker-admin`) with the services allowed to call it. Every
     * other service is refused the socket.
     */
    dockerSocket: z.boolean().default(false),
    /** Fixed IPv4 addresses per network (outside the network's dynamic range). */
    ipv4Address: z
      .partialRecord(
        z.enum(NETWORKS),
        z.string().regex(/^(\d{1,3}\.){3}\d{1,3}$/, 'an IPv4 address like 172.21.0.2'),
      )
      .default({}),
    /**
     * Environment variables the renderer sets to the edge's own address on this service's
     * network: the one source of SSO headers (`Remote-*`) the service may trust.
     */
    trustedProxyEnv: z.array(z.string().regex(/^[A-Z_][A-Z0-9_]*$/)).default([]),
    /**
     * The service holds a Datamancy token of its own with these scopes: `init` writes it to
     * `.env` as DATAMANCY_TOKEN_<NAME> and its digest to the tokens file.
     */
    datamancyToken: z
      .object({ scopes: z.array(z.enum(SCOPES)).min(1) })
      .strict()
      .optional(),
    /**
     * The service is given the SHA-256 digests of every `.env` secret (its inspect output
     * redacts any string that hashes to one).
     */
    redactsSecrets: z.boolean().default(false),
    gpu: z.boolean().default(false),
    command: z.array(z.string()).optional(),
    /** Path of a Prometheus endpoint (bearer token auth); Prometheus scrapes it. */
    metrics: z
      .string()
      .regex(/^\/[\w/.-]*$/)
      .optional(),
    /** Homepage tile group; absent: the service's first profile. */
    category: z.string().min(1).max(40).optional(),
    /**
     * A database and role of its own in the shared PostgreSQL, created at its first start
     * (rendered `postgres/init-databases.sh`); the password comes from `.env`.
     */
    database: z
      .object({
        name: z.string().regex(/^[a-z][a-z0-9_]{0,62}$/),
        passwordVar: z.string().regex(/^[A-Z_][A-Z0-9_]*$/),
      })
      .strict()
      .optional(),
    /** Trusts Caddy's internal CA (it calls other services by their public HTTPS names). */
    trustsEdgeCa: z.boolean().default(false),
    /**
     * How the service differs in a standalone profile: its dependencies there, its whole
     * environment there (replacing `environment`), its single sign-on mode there.
     */
    profileOverrides: z
      .partialRecord(
        z.enum(STANDALONE_PROFILES),
        z
          .object({
            dependsOn: z.array(name).optional(),
            environment: z.record(z.string().regex(/^[A-Z_][A-Z0-9_]*$/), z.string()).optional(),
            sso: SsoModeSchema.optional(),
          })
          .strict(),
      )
      .default({}),
  })
  .strict();
export type CatalogService = z.output<typeof CatalogServiceSchema>;

const ldapName = z.string().regex(/^[a-z][a-z0-9_-]{0,31}$/, 'lower-case letters, digits, _ and -');

/** LDAP's bootstrap tree: the groups access rules name and the first accounts. */
export const IdentitySchema = z
  .object({
    /** Fixed per catalog, not per domain: renaming a domain must not move every account. */
    baseDn: z.string().regex(/^dc=[a-z0-9-]+(,dc=[a-z0-9-]+)*$/, 'e.g. dc=datamancy,dc=local'),
    groups: z
      .array(z.object({ name: ldapName, description: z.string().min(1).max(200) }).strict())
      .min(1),
    users: z
      .array(
        z
          .object({
            uid: ldapName,
            name: z.string().min(1).max(100),
            groups: z.array(ldapName).min(1),
          })
          .strict(),
      )
      .min(1),
  })
  .strict();
export type Identity = z.output<typeof IdentitySchema>;

/** A model LiteLLM offers, and the catalog service that serves it. */
export const AiModelSchema = z
  .object({
    name: z.string().regex(/^[\w.:-]{1,80}$/),
    /** Catalog service answering OpenAI-compatible requests for it. */
    service: name,
    /** The model name the serving service knows it by (default: `name`). */
    upstreamModel: z.string().min(1).max(200).optional(),
    /** Path of the OpenAI-compatible API on that service. */
    apiPath: z
      .string()
      .regex(/^\/[\w/.-]*$/)
      .default('/v1'),
    mode: z.enum(['chat', 'embedding', 'audio_transcription', 'audio_speech']).default('chat'),
    /** Env var holding the key the upstream expects (default: none). */
    apiKeyEnv: z
      .string()
      .regex(/^[A-Z_][A-Z0-9_]*$/)
      .optional(),
  })
  .strict();
export type AiModel = z.output<typeof AiModelSchema>;

export const CatalogSchema = z
  .object({
    version: z.literal(1),
    identity: IdentitySchema,
    ai: z
      .object({ models: z.array(AiModelSchema).default([]) })
      .strict()
      .default({ models: [] }),
    /** What a standalone profile is for, and what it cannot have (said at `up`). */
    standalone: z
      .partialRecord(
        z.enum(STANDALONE_PROFILES),
        z
          .object({
            description: z.string().min(1).max(400),
            notes: z.array(z.string().min(1).max(400)).default([]),
          })
          .strict(),
      )
      .default({}),
    services: z.array(CatalogServiceSchema).min(1),
  })
  .strict();
export type Catalog = z.output<typeof CatalogSchema>;
