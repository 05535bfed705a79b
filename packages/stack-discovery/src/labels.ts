import type { ValidationIssue } from '@datamancy/core';

/** The labels a compose service or a container may carry to tell discovery how to probe it. */
export const PROBE_LABELS = {
  /** Full internal URL(s) to check, comma-separated: `http://grafana:3000/api/health`. */
  url: 'datamancy.probe.url',
  /** A path on the service's first port: `/api/health` → `http://<service>:<port>/api/health`. */
  path: 'datamancy.probe.path',
  /** Public hostname(s) or URL(s), comma-separated: `grafana.example.org` → `https://…`. */
  external: 'datamancy.probe.external',
  /** `false`: probe it, but the control plane must not act on it. */
  manage: 'datamancy.manage',
  /** Dashboard group; defaults to the service's first compose profile. */
  group: 'datamancy.group',
} as const;

export interface ProbeLabels {
  urls: string[];
  path?: string;
  external: string[];
  manage: boolean;
  group?: string;
}

/** `${DOMAIN}` is left for the probe to fill in; validate URLs with a stand-in. */
function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value.replaceAll('${DOMAIN}', 'example.org'));
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '';
  } catch {
    return false;
  }
}

const list = (value: string | undefined): string[] =>
  (value ?? '')
    .split(',')
    .map((v) => v.trim())
    .filter((v) => v !== '');

/** Reads the probe labels; bad values become issues at `<at>.labels["…"]`. */
export function readProbeLabels(
  labels: Readonly<Record<string, string>>,
  at: string,
  issues: ValidationIssue[],
): ProbeLabels {
  const issue = (label: string, message: string): void => {
    issues.push({ path: `${at}.labels["${label}"]`, message });
  };
  const out: ProbeLabels = { urls: [], external: [], manage: true };
  for (const url of list(labels[PROBE_LABELS.url])) {
    if (isHttpUrl(url)) out.urls.push(url);
    else issue(PROBE_LABELS.url, `"${url}" is not an http(s) URL`);
  }
  const path = labels[PROBE_LABELS.path];
  if (path !== undefined) {
    if (path.startsWith('/')) out.path = path;
    else issue(PROBE_LABELS.path, `"${path}" must start with /`);
  }
  for (const entry of list(labels[PROBE_LABELS.external])) {
    const url = /^[a-z][a-z0-9+.-]*:\/\//i.test(entry) ? entry : `https://${entry}`;
    if (isHttpUrl(url)) out.external.push(url);
    else issue(PROBE_LABELS.external, `"${entry}" is not a hostname or http(s) URL`);
  }
  const manage = labels[PROBE_LABELS.manage];
  if (manage !== undefined) {
    if (/^(true|false)$/i.test(manage.trim())) out.manage = manage.trim().toLowerCase() === 'true';
    else issue(PROBE_LABELS.manage, `expected true or false, not "${manage}"`);
  }
  const group = labels[PROBE_LABELS.group]?.trim();
  if (group !== undefined) {
    if (group !== '' && group.length <= 100) out.group = group;
    else issue(PROBE_LABELS.group, 'expected 1-100 characters');
  }
  return out;
}
