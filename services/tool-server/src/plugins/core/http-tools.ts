import { connect } from 'node:net';
import { z } from 'zod';
import { AppError, toolsFor } from '@datamancy/plugin-sdk';
import type { CorePluginConfig } from './config.ts';

const tool = toolsFor<CorePluginConfig>();

const TEXT_TYPE_RE =
  /^(text\/|application\/(json|xml|javascript|x-www-form-urlencoded)|[^;]*\+(json|xml))/i;

export const httpGet = tool({
  name: 'http_get',
  description:
    'Fetch a URL with GET (or HEAD) and return status, headers and the body up to a byte budget. Only hosts on the allowlist; metadata and link-local addresses are always refused.',
  capabilities: ['host.network.http'],
  timeoutMs: 65_000,
  input: z.object({
    url: z.url({ protocol: /^https?$/ }).describe('http or https URL'),
    method: z.enum(['GET', 'HEAD']).default('GET'),
    headers: z.record(z.string(), z.string()).default({}).describe('request headers'),
    timeout_ms: z.number().int().min(100).max(60_000).default(10_000),
    max_bytes: z
      .number()
      .int()
      .min(1)
      .max(4 * 1024 * 1024)
      .optional()
      .describe('body budget in bytes'),
    follow_redirects: z.boolean().default(true),
  }),
  async handler(ctx, args) {
    const res = await ctx.net.request(args.url, {
      method: args.method,
      headers: args.headers,
      timeoutMs: args.timeout_ms,
      maxBodyBytes: Math.min(args.max_bytes ?? ctx.config.httpMaxBytes, ctx.config.httpMaxBytes),
      maxRedirects: args.follow_redirects ? 5 : 0,
      signal: ctx.signal,
    });
    const type = String(res.headers['content-type'] ?? '');
    const text = type === '' || TEXT_TYPE_RE.test(type);
    return {
      url: res.url,
      status: res.status,
      headers: res.headers,
      encoding: text ? 'utf8' : 'base64',
      body: res.body.toString(text ? 'utf8' : 'base64'),
      bytes: res.body.length,
      truncated: res.truncated,
      redirects: res.redirects,
      elapsedMs: res.elapsedMs,
    };
  },
});

export const tcpCheck = tool({
  name: 'tcp_check',
  description:
    'Open a TCP connection to host:port and report whether it is accepting, with the connect time.',
  capabilities: ['host.network.http'],
  input: z.object({
    host: z.string().min(1).max(253),
    port: z.number().int().min(1).max(65535),
    timeout_ms: z.number().int().min(50).max(30_000).default(3_000),
  }),
  handler(ctx, args) {
    ctx.net.checkHost(args.host);
    return new Promise((resolve, reject) => {
      const started = performance.now();
      const socket = connect({
        host: args.host,
        port: args.port,
        lookup: ctx.net.lookup,
        signal: ctx.signal,
      });
      const finish = (open: boolean, error?: string): void => {
        clearTimeout(timer);
        socket.destroy();
        const latencyMs = Math.round((performance.now() - started) * 10) / 10;
        resolve({
          host: args.host,
          port: args.port,
          open,
          latencyMs,
          ...(error === undefined ? {} : { error }),
        });
      };
      const timer = setTimeout(
        () => finish(false, `no answer within ${args.timeout_ms} ms`),
        args.timeout_ms,
      );
      socket.once('connect', () => finish(true));
      socket.once('error', (err: NodeJS.ErrnoException) => {
        if (err instanceof AppError) {
          clearTimeout(timer);
          reject(err);
          return;
        }
        finish(false, err.code ?? err.message);
      });
    });
  },
});
