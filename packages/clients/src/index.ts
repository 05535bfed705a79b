export { BrowserClient, pageFailureOf } from './browser.ts';
export type {
  BlockedRequestInfo,
  BrowserPressure,
  DomRequest,
  DomResult,
  LoginRequest,
  LoginResult,
  PageFailureInfo,
  PageFailureKind,
  PageRequest,
  PageResult,
  PngScreenshot,
  ScreenshotRequest,
  ScreenshotResult,
  SnapshotRequest,
  SnapshotResult,
  WaitUntil,
} from './browser.ts';
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
export { ProbeClient } from './probe.ts';
export type {
  CheckResultInfo,
  IncidentDetail,
  IncidentInfo,
  MaintenanceWindowInfo,
  ProposalInfo,
  ProbeSummary,
  RoundOutcomeName,
  RoundReportInfo,
  ServiceStateName,
  ServiceViewInfo,
} from './probe.ts';
