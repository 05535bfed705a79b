import type { ComposeHealthcheck } from './compose-fields.ts';
import type { ManifestCheck } from './types.ts';

/**
 * A compose healthcheck that asks the service itself over HTTP (`curl -f
 * http://localhost:3000/health`, `wget -q --spider http://127.0.0.1:8080/`) says where its
 * health endpoint is: the same URL, reached from the probe as `http://<service>:<port><path>`.
 * Anything else (`pg_isready`, `redis-cli ping`, a script, a URL on another host) derives nothing.
 */

const LOCAL_HOSTS = new Set(['localhost', '127.0.0.1', '0.0.0.0', '[::1]', '[::]', '::1']);

/** Splits a shell command into words, honouring quotes; good enough for healthchecks. */
export function shellWords(command: string): string[][] {
  const commands: string[][] = [[]];
  let word = '';
  let quote: '"' | "'" | undefined;
  let inWord = false;
  const end = (): void => {
    if (inWord) commands[commands.length - 1]?.push(word);
    word = '';
    inWord = false;
  };
  for (let i = 0; i < command.length; i++) {
    const ch = command[i] ?? '';
    if (quote !== undefined) {
      if (ch === quote) quote = undefined;
      else if (ch === '\\' && quote === '"' && i + 1 < command.length) word += command[++i];
      else word += ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      inWord = true;
    } else if (ch === '\\' && i + 1 < command.length) {
      word += command[++i];
      inWord = true;
    } else if (/\s/.test(ch)) end();
    else if (ch === ';' || ch === '|' || ch === '&') {
      end();
      while (command[i + 1] === '|' || command[i + 1] === '&') i++;
      commands.push([]);
    } else {
      word += ch;
      inWord = true;
    }
  }
  end();
  return commands.filter((c) => c.length > 0);
}

function fromCommand(argv: readonly string[], service: string): ManifestCheck | undefined {
  const tool = (argv[0] ?? '').split('/').pop();
  if (tool !== 'curl' && tool !== 'wget') return undefined;
  const target = argv.slice(1).find((a) => /^https?:\/\//i.test(a));
  if (target === undefined || target.includes('$')) return undefined;
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    return undefined;
  }
  if (!LOCAL_HOSTS.has(url.hostname) && url.hostname !== service) return undefined;
  const https = url.protocol === 'https:';
  // keep a port written out even where it is the scheme's default (`localhost:80`)
  const written = /^[a-z]+:\/\/(?:\[[^\]]*\]|[^/:?#]*)(:\d+)/i.exec(target)?.[1];
  const port = written ?? (url.port === '' ? '' : `:${url.port}`);
  const derived = `${url.protocol}//${service}${port}${url.pathname}${url.search}`;
  const flags = argv.slice(1).filter((a) => a.startsWith('-'));
  const has = (short: string, long: string): boolean =>
    flags.some((a) => a === long || (/^-[a-zA-Z]+$/.test(a) && a.includes(short)));
  // wget fails on 4xx/5xx and follows redirects; curl fails only with -f and follows with -L.
  const failsOnError = tool === 'wget' || has('f', '--fail') || flags.includes('--fail-with-body');
  const follows = tool === 'wget' ? !flags.includes('--max-redirect=0') : has('L', '--location');
  return {
    kind: 'http',
    name: 'healthcheck',
    url: derived,
    expectStatus: [failsOnError ? '200-399' : '<500'],
    ...(follows ? { followRedirects: true } : {}),
    // the certificate names localhost, not the service; only reachability is asked
    ...(https ? { insecureTls: true } : {}),
  };
}

/** The HTTP check a compose healthcheck implies, if it is an HTTP probe of the service itself. */
export function healthcheckToCheck(
  healthcheck: ComposeHealthcheck | undefined,
  service: string,
): ManifestCheck | undefined {
  const test = healthcheck?.test;
  if (healthcheck?.disable === true || test === undefined) return undefined;
  const [form, ...rest] = test;
  let commands: string[][];
  if (form === 'CMD') {
    // `["CMD", "sh", "-c", "curl …"]` is a shell after all
    const shell = ['sh', 'bash', '/bin/sh', '/bin/bash'].includes(rest[0] ?? '');
    commands = shell && rest[1] === '-c' ? shellWords(rest[2] ?? '') : [rest];
  } else if (form === 'CMD-SHELL') commands = shellWords(rest.join(' '));
  else return undefined;
  for (const argv of commands) {
    const check = fromCommand(argv, service);
    if (check !== undefined) return check;
  }
  return undefined;
}
