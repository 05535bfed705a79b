export { ApiError, HttpClient } from './http.ts';
export type { ClientOptions } from './http.ts';
export { ToolServerClient } from './tool-server.ts';
export type {
  AuditEntryInfo,
  AuditQueryInput,
  CallToolResponse,
  FunctionToolInfo,
  PluginStatusInfo,
} from './tool-server.ts';
