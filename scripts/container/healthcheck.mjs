// The container healthcheck: GET a URL (argv[2], else $DATAMANCY_HEALTH_URL, else the tool
// server's /healthz) and exit 0 on a 2xx answer within the time limit, 1 otherwise. Plain
// Node, no dependencies, so it runs in the slim image without curl or wget.
const url = process.argv[2] ?? process.env.DATAMANCY_HEALTH_URL ?? 'http://127.0.0.1:8081/healthz';
const timeoutMs = Number(process.env.DATAMANCY_HEALTH_TIMEOUT_MS ?? 4000);

try {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'manual' });
  await res.body?.cancel();
  if (res.status >= 200 && res.status < 300) {
    process.stdout.write(`healthy: ${url} answered ${res.status}\n`);
    process.exit(0);
  }
  process.stdout.write(`unhealthy: ${url} answered ${res.status}\n`);
} catch (err) {
  const cause =
    err instanceof Error
      ? err.cause instanceof Error
        ? err.cause.message
        : err.message
      : String(err);
  process.stdout.write(`unhealthy: ${url}: ${cause}\n`);
}
process.exit(1);
