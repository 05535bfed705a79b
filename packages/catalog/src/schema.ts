import { z } from 'zod';

/**
 * The stack catalog (`stack/catalog.yaml`): one entry per service, from which the compose
 * file, the Caddyfile and the rest are rendered. Adding an app is one entry.
 */

export const NETWORKS = ['frontend', 'backend', 'database'] as const;
export type NetworkName = (typeof NETWORKS)[number];

/** The design's address plan; `database` is internal (no route out). */
export const NETWORK_SUBNETS: Readonly<Record<NetworkName, string>> = {
  frontend: '172.20.0.0/24',
  backend: '172.21.0.0/24',
  database: '172.22.0.0/24',
};

export const PROFILES = [
  'bootstrap',
  'databases',
  'applications',
  'infrastructure',
  'bootstrap_vector_dbs',
] as const;

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
        z.string().regex(/^[\w./${}-]+:\/[\w./-]*(:ro)?$/, 'name-or-path:/container/path[:ro]'),
      )
      .default([]),
    environment: z.record(z.string().regex(/^[A-Z_][A-Z0-9_]*$/), z.string()).default({}),
    /** Only the edge proxy publishes ports. */
    publish: z.array(z.string().regex(/^\d+:\d+(\/udp)?$/)).default([]),
    user: z
      .string()
      .regex(/^\d+(:\d+)?$/)
      .optional(),
    memory: z
      .string()
      .regex(/^\d+[mg]$/)
      .optional(),
    /** The raw Docker socket is refused; only the socket proxy mounts it. */
    dockerSocket: z.boolean().default(false),
    gpu: z.boolean().default(false),
    command: z.array(z.string()).optional(),
  })
  .strict();
export type CatalogService = z.output<typeof CatalogServiceSchema>;

export const CatalogSchema = z
  .object({
    version: z.literal(1),
    services: z.array(CatalogServiceSchema).min(1),
  })
  .strict();
export type Catalog = z.output<typeof CatalogSchema>;
