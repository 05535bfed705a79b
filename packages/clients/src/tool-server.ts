import { HttpClient, type ClientOptions } from './http.ts';

export interface FunctionToolInfo {
  type: 'function';
  function: { name: string; description: string; parameters: Record<string, unknown> };
}

export interface CallToolResponse<T = unknown> {
  result: T;
  elapsedMs: number;
}

export interface PluginStatusInfo {
  id: string;
  version: string;
  loaded: boolean;
  reason?: string;
  tools: string[];
}

export interface AuditEntryInfo {
  id: number;
  ts: string;
  caller: string;
  channel: string;
  tool: string;
  argsDigest: string;
  outcome: string;
  errorCode: string | null;
  durationMs: number;
  requestId: string | null;
}

export interface AuditQueryInput {
  tool?: string;
  caller?: string;
  outcome?: string;
  since?: string;
  until?: string;
  before?: number;
  limit?: number;
}

/** Typed client of the tool server's HTTP API. */
export class ToolServerClient {
  readonly http: HttpClient;
  constructor(options: ClientOptions) {
    this.http = new HttpClient(options);
  }

  health(): Promise<{ status: string; version: string }> {
    return this.http.request('GET', '/healthz');
  }

  async listTools(): Promise<FunctionToolInfo[]> {
    return (await this.http.request<{ tools: FunctionToolInfo[] }>('GET', '/tools')).tools;
  }

  async listPlugins(): Promise<PluginStatusInfo[]> {
    return (await this.http.request<{ plugins: PluginStatusInfo[] }>('GET', '/plugins')).plugins;
  }

  callTool<T = unknown>(
    name: string,
    args: Record<string, unknown> = {},
    signal?: AbortSignal,
  ): Promise<CallToolResponse<T>> {
    return this.http.request('POST', '/call-tool', { name, args }, signal);
  }

  audit(
    query: AuditQueryInput = {},
  ): Promise<{ entries: AuditEntryInfo[]; nextBefore: number | null }> {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined) params.set(k, String(v));
    const qs = params.toString();
    return this.http.request('GET', `/audit${qs === '' ? '' : `?${qs}`}`);
  }
}
