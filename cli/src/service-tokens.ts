import { generateToken, type Scope, type TokenEntry } from '@datamancy/core';

/**
 * The tokens the services `datamancy serve` runs use to call each other in-process: one per
 * caller and callee, with only the scopes that call needs, made afresh at every start and
 * known only to this process (registered by value, never written anywhere). The admin token is
 * never handed to a service: a browser rendering a hostile page sees a token that can only use
 * the browser.
 */

export interface ServiceTokens {
  /** The probe's container checks and repairs through the tool server. */
  probeToToolServer: string;
  /** The probe's browser checks. */
  probeToBrowser: string;
  /** The tool server's browser tools. */
  toolServerToBrowser: string;
}

/** Who calls whom with what; names start with `serve.` (reserved for these tokens). */
export const SERVICE_TOKEN_GRANTS: readonly {
  key: keyof ServiceTokens;
  name: string;
  scopes: readonly Scope[];
}[] = [
  {
    key: 'probeToToolServer',
    name: 'serve.probe-to-tool-server',
    scopes: ['host.docker.inspect', 'host.docker.write', 'host.network.http', 'host.shell.read'],
  },
  { key: 'probeToBrowser', name: 'serve.probe-to-browser', scopes: ['browser.use'] },
  { key: 'toolServerToBrowser', name: 'serve.tool-server-to-browser', scopes: ['browser.use'] },
];

/** Fresh tokens and the registry entries (kind `service`) that grant them. */
export function createServiceTokens(): { tokens: ServiceTokens; entries: TokenEntry[] } {
  const tokens = {} as ServiceTokens;
  const entries: TokenEntry[] = [];
  for (const grant of SERVICE_TOKEN_GRANTS) {
    const token = generateToken();
    tokens[grant.key] = token;
    entries.push({ name: grant.name, token, scopes: [...grant.scopes], kind: 'service' });
  }
  return { tokens, entries };
}
