import { stringify } from 'yaml';
import { GENERATED_HEADER } from './render.ts';
import type { Catalog } from './schema.ts';

/**
 * Prometheus' scrape configuration (a job per service with `metrics`, bearer token from a
 * file `datamancy init` writes) and Grafana's provisioning: datasources (Prometheus,
 * PostgreSQL, ClickHouse), the dashboard provider, and the control-plane dashboard.
 */

/** Where Prometheus finds its own token, metrics.read only (rendered mount of prometheus/secrets). */
export const PROMETHEUS_TOKEN_FILE = '/etc/prometheus/secrets/token';

export function renderPrometheusConfig(catalog: Catalog): string {
  const targets = catalog.services
    .filter((s) => s.metrics !== undefined && s.port !== undefined)
    .sort((a, b) => a.name.localeCompare(b.name));
  const document = {
    global: { scrape_interval: '30s', evaluation_interval: '30s' },
    scrape_configs: [
      {
        job_name: 'prometheus',
        static_configs: [{ targets: ['localhost:9090'] }],
      },
      ...targets.map((s) => ({
        job_name: s.name,
        metrics_path: s.metrics,
        authorization: { type: 'Bearer', credentials_file: PROMETHEUS_TOKEN_FILE },
        static_configs: [{ targets: [`${s.name}:${String(s.port)}`] }],
      })),
    ],
  };
  return GENERATED_HEADER + stringify(document, { lineWidth: 0 });
}

export function renderGrafanaDatasources(): string {
  const document = {
    apiVersion: 1,
    datasources: [
      {
        name: 'Prometheus',
        uid: 'prometheus',
        type: 'prometheus',
        access: 'proxy',
        url: 'http://prometheus:9090',
        isDefault: true,
        editable: false,
      },
      {
        name: 'PostgreSQL',
        uid: 'postgres',
        type: 'grafana-postgresql-datasource',
        url: 'postgres:5432',
        user: 'grafana',
        editable: false,
        jsonData: { database: 'grafana', sslmode: 'disable', postgresVersion: 1600 },
        // Grafana expands environment variables in provisioning files
        secureJsonData: { password: '$GF_DATABASE_PASSWORD' },
      },
      {
        name: 'ClickHouse',
        uid: 'clickhouse',
        type: 'grafana-clickhouse-datasource',
        editable: false,
        jsonData: {
          host: 'clickhouse',
          port: 8123,
          protocol: 'http',
          username: 'default',
          defaultDatabase: 'default',
        },
        secureJsonData: { password: '$CLICKHOUSE_PASSWORD' },
      },
    ],
  };
  return GENERATED_HEADER + stringify(document, { lineWidth: 0 });
}

export function renderGrafanaDashboardProvider(): string {
  const document = {
    apiVersion: 1,
    providers: [
      {
        name: 'datamancy',
        folder: 'Datamancy',
        type: 'file',
        disableDeletion: true,
        allowUiUpdates: false,
        options: { path: '/etc/grafana/provisioning/dashboards/json' },
      },
    ],
  };
  return GENERATED_HEADER + stringify(document, { lineWidth: 0 });
}

interface Panel {
  title: string;
  type: 'stat' | 'timeseries';
  expr: string;
  legend: string;
  unit: string;
}

/** The control plane at a glance; every metric named here is one our services export. */
export const CONTROL_PLANE_PANELS: readonly Panel[] = [
  {
    title: 'Control-plane services up',
    type: 'stat',
    expr: 'sum(up{job!="prometheus"})',
    legend: 'up',
    unit: 'none',
  },
  {
    title: 'Monitored services up (probe)',
    type: 'stat',
    expr: 'sum(probe_service_up)',
    legend: 'up',
    unit: 'none',
  },
  {
    title: 'State changes (1 h)',
    type: 'stat',
    expr: 'sum(increase(probe_transitions_total[1h]))',
    legend: 'transitions',
    unit: 'none',
  },
  {
    title: 'Requests per second',
    type: 'timeseries',
    expr: 'sum by (service) (rate(http_requests_total[5m]))',
    legend: '{{service}}',
    unit: 'reqps',
  },
  {
    title: 'Server errors per second',
    type: 'timeseries',
    expr: 'sum by (service) (rate(http_requests_total{status=~"5.."}[5m]))',
    legend: '{{service}}',
    unit: 'reqps',
  },
  {
    title: 'Latency p95',
    type: 'timeseries',
    expr: 'histogram_quantile(0.95, sum by (service, le) (rate(http_request_duration_seconds_bucket[5m])))',
    legend: '{{service}}',
    unit: 's',
  },
  {
    title: 'Tool calls per second',
    type: 'timeseries',
    expr: 'sum by (tool) (rate(tool_calls_total[5m]))',
    legend: '{{tool}}',
    unit: 'reqps',
  },
  {
    title: 'Probe rounds per second',
    type: 'timeseries',
    expr: 'sum(rate(probe_rounds_total[5m]))',
    legend: 'rounds',
    unit: 'reqps',
  },
  {
    title: 'Browser jobs per second',
    type: 'timeseries',
    expr: 'sum(rate(browser_jobs_total[5m]))',
    legend: 'jobs',
    unit: 'reqps',
  },
  {
    title: 'Resident memory',
    type: 'timeseries',
    expr: 'sum by (service) (process_resident_memory_bytes)',
    legend: '{{service}}',
    unit: 'bytes',
  },
];

export function renderControlPlaneDashboard(): string {
  const panels = CONTROL_PLANE_PANELS.map((p, i) => {
    const stat = p.type === 'stat';
    const statIndex = CONTROL_PLANE_PANELS.slice(0, i).filter((q) => q.type === 'stat').length;
    const seriesIndex = i - CONTROL_PLANE_PANELS.filter((q) => q.type === 'stat').length;
    return {
      id: i + 1,
      title: p.title,
      type: p.type,
      datasource: { type: 'prometheus', uid: 'prometheus' },
      gridPos: stat
        ? { x: statIndex * 8, y: 0, w: 8, h: 4 }
        : { x: (seriesIndex % 2) * 12, y: 4 + Math.floor(seriesIndex / 2) * 8, w: 12, h: 8 },
      fieldConfig: { defaults: { unit: p.unit }, overrides: [] },
      options: {},
      targets: [{ refId: 'A', expr: p.expr, legendFormat: p.legend }],
    };
  });
  const dashboard = {
    uid: 'datamancy-control-plane',
    title: 'Datamancy control plane',
    tags: ['datamancy'],
    timezone: 'utc',
    schemaVersion: 39,
    version: 1,
    refresh: '30s',
    time: { from: 'now-6h', to: 'now' },
    panels,
  };
  return `${JSON.stringify(dashboard, null, 2)}\n`;
}
