/**
 * Requests as a browser sends them to the probe: a form login that yields the session cookie,
 * and requests carrying that cookie (or SSO headers) with the fetch-metadata a browser adds.
 */

export interface Login {
  status: number;
  /** `name=value` of the session cookie, '' when none was set. */
  cookie: string;
  /** The whole Set-Cookie header. */
  setCookie: string | null;
}

export async function login(
  url: string,
  token: string,
  headers: Record<string, string> = { 'sec-fetch-site': 'same-origin' },
): Promise<Login> {
  const res = await fetch(`${url}/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: `token=${encodeURIComponent(token)}`,
    redirect: 'manual',
  });
  await res.arrayBuffer();
  const setCookie = res.headers.get('set-cookie');
  return { status: res.status, cookie: setCookie?.split(';')[0] ?? '', setCookie };
}

/** Where a request comes from, as the browser tells it. */
export const FROM = {
  sameOrigin: { 'sec-fetch-site': 'same-origin' },
  sameSite: { 'sec-fetch-site': 'same-site', origin: 'https://jupyter.example.test' },
  crossSite: { 'sec-fetch-site': 'cross-site', origin: 'https://evil.example' },
  /** An older browser: no fetch metadata, only a foreign Origin. */
  foreignOrigin: { origin: 'https://evil.example' },
} as const;

export async function send(
  url: string,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: unknown,
): Promise<{ status: number; text: string; headers: Headers }> {
  const form = typeof body === 'string';
  const res = await fetch(`${url}${path}`, {
    method,
    headers: {
      ...(body === undefined
        ? {}
        : { 'content-type': form ? 'application/x-www-form-urlencoded' : 'application/json' }),
      ...headers,
    },
    ...(body === undefined ? {} : { body: form ? body : JSON.stringify(body) }),
    redirect: 'manual',
  });
  return { status: res.status, text: await res.text(), headers: res.headers };
}
