import type { AiCheck } from '../manifest/schema.ts';
import type { ProbeHttp } from './http.ts';
import { errorEvidence, excerpt, type Attempt, type CheckStatus, type Evidence } from './types.ts';

/**
 * Real-path checks of AI services: the smallest request that exercises the model itself — a
 * 1-token chat completion, one embedding, one spoken word — not just the server's `/health`.
 */

interface AiCall {
  path: string;
  body: Record<string, unknown>;
  judge(status: number, contentType: string, body: Buffer): string | undefined;
}

function callFor(check: AiCheck): AiCall {
  switch (check.mode) {
    case 'chat':
      return {
        path: '/chat/completions',
        body: {
          model: check.model,
          messages: [{ role: 'user', content: 'Reply with one word: ok' }],
          max_tokens: 1,
          temperature: 0,
        },
        judge: (_s, _t, body) => {
          const parsed = JSON.parse(body.toString('utf8')) as { choices?: unknown[] };
          return Array.isArray(parsed.choices) && parsed.choices.length > 0
            ? undefined
            : 'answer has no choices';
        },
      };
    case 'embedding':
      return {
        path: '/embeddings',
        body: { model: check.model, input: 'datamancy probe' },
        judge: (_s, _t, body) => {
          const parsed = JSON.parse(body.toString('utf8')) as { data?: { embedding?: unknown }[] };
          const vector = parsed.data?.[0]?.embedding;
          return Array.isArray(vector) && vector.length > 0 && typeof vector[0] === 'number'
            ? undefined
            : 'answer holds no embedding vector';
        },
      };
    case 'speech':
      return {
        path: '/audio/speech',
        body: { model: check.model, input: 'ok', voice: 'default', response_format: 'wav' },
        judge: (_s, type, body) =>
          !/^audio\//i.test(type)
            ? `expected audio, got ${type || 'no content type'}`
            : body.length < 64
              ? `only ${body.length} bytes of audio`
              : undefined,
      };
  }
}

export async function runAiCheck(
  http: ProbeHttp,
  check: AiCheck,
  signal: AbortSignal,
  env: NodeJS.ProcessEnv = process.env,
): Promise<Attempt> {
  const started = performance.now();
  const call = callFor(check);
  const url = new URL(`${check.url.replace(/\/+$/, '')}${call.path}`);
  const evidence: Evidence = {
    reasons: [],
    url: url.href,
    ai: { model: check.model, mode: check.mode },
  };
  const key = check.apiKeyEnv === undefined ? undefined : env[check.apiKeyEnv];
  const elapsed = (): number => Math.round((performance.now() - started) * 10) / 10;
  let status: CheckStatus = 'pass';
  try {
    const hop = await http.request(
      url,
      {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(key === undefined || key === '' ? {} : { authorization: `Bearer ${key}` }),
        },
        body: JSON.stringify(call.body),
        insecureTls: false,
      },
      signal,
    );
    evidence.httpStatus = hop.status;
    const type = String(hop.headers['content-type'] ?? '');
    if (hop.status >= 400) {
      status = 'fail';
      evidence.reasons.push(`status ${hop.status}`);
      evidence.textExcerpt = excerpt(hop.body.toString('utf8'), 500);
    } else {
      let problem: string | undefined;
      try {
        problem = call.judge(hop.status, type, hop.body);
      } catch {
        problem = 'answer is not valid JSON';
      }
      if (problem !== undefined) {
        status = 'fail';
        evidence.reasons.push(problem);
        if (!/^audio\//i.test(type)) evidence.textExcerpt = excerpt(hop.body.toString('utf8'), 500);
      }
    }
  } catch (err) {
    const error = signal.aborted
      ? { code: 'TIMEOUT', message: `no answer within ${check.timeoutMs} ms` }
      : errorEvidence(err);
    evidence.error = error;
    evidence.reasons.push(`${error.code}: ${error.message}`);
    return { status: 'fail', latencyMs: elapsed(), message: evidence.reasons[0] ?? '', evidence };
  }
  const latencyMs = elapsed();
  if (
    status === 'pass' &&
    check.latencyBudgetMs !== undefined &&
    latencyMs > check.latencyBudgetMs
  ) {
    status = 'degraded';
    evidence.reasons.push(`took ${Math.round(latencyMs)} ms, budget ${check.latencyBudgetMs} ms`);
  }
  const message =
    evidence.reasons.length === 0
      ? `${check.mode} with ${check.model} in ${Math.round(latencyMs)} ms`
      : evidence.reasons.join('; ');
  return { status, latencyMs, message, evidence };
}
