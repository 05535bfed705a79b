import type { IncomingMessage, ServerResponse } from 'node:http';
import { startHttpFixture, type FixtureServer } from '@datamancy/testkit';

/**
 * Local pages for the browser tests, on a loopback port. Refused targets are only ever named
 * (169.254.169.254, example.com): the guard refuses them before any connection.
 */

export const METADATA = 'http://169.254.169.254/latest/meta-data/';
export const LOGIN_USER = 'alice';
export const LOGIN_PASSWORD = 'correct horse battery staple 7f3a';

const html = (res: ServerResponse, status: number, body: string, headers = {}): void => {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', ...headers });
  res.end(`<!doctype html>${body}`);
};

const AUTHELIA_FORM = (error = ''): string => `<title>Login - Authelia</title>
<h1>Sign in</h1>${error}
<form method="post" action="/login">
  <input id="username-textfield" name="username" type="text">
  <input id="password-textfield" name="password" type="password">
  <button id="sign-in-button" type="submit">Sign in</button>
</form>`;

const GENERIC_FORM = `<title>Grafana</title>
<form method="post" action="/login">
  <label>Email or username <input name="user" type="text"></label>
  <label>Password <input name="pass" type="password"></label>
  <input type="submit" value="Log in">
</form>`;

function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  return new Promise((resolve) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    req.on('end', () => resolve(new URLSearchParams(body)));
  });
}

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://fixture');
  switch (url.pathname) {
    case '/ok':
      return html(
        res,
        200,
        `<title>Fixture OK</title><h1>Hello from the fixture</h1>
         <p id="intro">Visible text <a href="/ok">home</a></p>
         <div style="display:none">hidden words</div><button>Press</button>`,
      );
    case '/long':
      return html(
        res,
        200,
        `<title>Long</title>${Array.from({ length: 400 }, (_, i) => `<p>Paragraph ${i} ✓ 𝄞</p>`).join('')}`,
      );
    case '/missing':
      return html(res, 404, '<title>Not Found</title><h1>404: nothing here</h1>');
    case '/broken':
      return html(res, 500, '<title>Oops</title><h1>Internal Server Error</h1>');
    case '/slow': {
      const ms = Number(url.searchParams.get('ms') ?? '500');
      setTimeout(() => html(res, 200, `<title>Slow</title><p>waited ${ms} ms</p>`), ms);
      return;
    }
    case '/hang':
      return; // never answers; the fixture's close() drops the socket
    case '/img-metadata':
      return html(
        res,
        200,
        `<title>Img</title><img src="${METADATA}"><p>page with a bad image</p>`,
      );
    case '/img-redirect':
      return html(res, 200, '<title>Img redirect</title><img src="/to-metadata"><p>hop</p>');
    case '/to-metadata':
    case '/redirect-metadata':
      res.writeHead(302, { location: METADATA });
      return void res.end();
    case '/redirect-https-metadata':
      res.writeHead(302, { location: 'https://169.254.169.254/latest/' });
      return void res.end();
    case '/redirect-ok':
      res.writeHead(302, { location: '/ok' });
      return void res.end();
    case '/generic-login':
      return html(res, 200, GENERIC_FORM);
    case '/login': {
      if (req.method !== 'POST') return html(res, 200, AUTHELIA_FORM());
      const form = await readForm(req);
      const user = form.get('username') ?? form.get('user');
      const pass = form.get('password') ?? form.get('pass');
      if (user === LOGIN_USER && pass === LOGIN_PASSWORD) {
        res.writeHead(302, { location: '/welcome', 'set-cookie': 'session=s3cr3t; Path=/' });
        return void res.end();
      }
      return html(res, 401, AUTHELIA_FORM('<p class="error">Incorrect username or password.</p>'));
    }
    case '/welcome': {
      const signedIn = (req.headers.cookie ?? '').includes('session=s3cr3t');
      if (!signedIn) return html(res, 401, '<title>Nope</title><p>not signed in</p>');
      return html(res, 200, `<title>Welcome</title><h1 id="welcome">Welcome, ${LOGIN_USER}</h1>`);
    }
    default:
      return html(res, 404, '<title>Not Found</title>');
  }
}

export function startPages(): Promise<FixtureServer> {
  return startHttpFixture((req, res) => {
    void handle(req, res);
  });
}
