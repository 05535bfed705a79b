/**
 * What discovery produces. The manifest types mirror the probe's manifest input
 * (`services/probe/src/manifest/schema.ts`) for the fields discovery fills in; they are defined
 * here so the library does not depend on the probe at run time. A test feeds every produced
 * manifest to the probe's `expandManifest`.
 */

export type StatusRule = number | string;

export type ManifestCheck =
  | {
      kind: 'http';
      name?: string;
      url: string;
      expectStatus?: StatusRule[];
      followRedirects?: boolean;
      insecureTls?: boolean;
    }
  | { kind: 'tcp'; name?: string; host: string; port: number }
  | { kind: 'container'; name?: string; container?: string }
  | { kind: 'browser'; name?: string; url: string; loginWall?: 'fail' | 'pass' };

export interface ManifestService {
  name: string;
  description?: string;
  container?: string;
  group?: string;
  intervalS?: number;
  dependsOn: string[];
  /** URLs reached inside the stack network; the probe expands them into HTTP checks. */
  internal: string[];
  /** URLs users reach through the proxy; the probe adds HTTP and browser checks. */
  external: string[];
  checks: ManifestCheck[];
}

export interface StackManifest {
  version: 1;
  defaults: { intervalS?: number };
  services: ManifestService[];
}

export type Source = 'compose' | 'caddy' | 'engine';
export type EdgeReason = 'depends_on' | 'database' | 'sso';

export interface GraphNode {
  name: string;
  sources: Source[];
  /** `datamancy.manage=false`: watch it, but the control plane must not act on it. */
  manage?: false;
}

export interface GraphEdge {
  /** The dependent service. */
  from: string;
  /** What it needs. */
  to: string;
  reason: EdgeReason;
  /** compose's `depends_on` condition, e.g. `service_healthy`. */
  condition?: string;
}

export interface DependencyGraph {
  nodes: GraphNode[];
  edges: GraphEdge[];
  /** Every cycle found, each as names with the first repeated last. */
  cycles: string[][];
}

export interface DiscoveryResult {
  manifest: StackManifest;
  graph: DependencyGraph;
  /** Things a human should look at; discovery went on regardless. */
  warnings: string[];
}
