import { connect } from 'node:net';
import type { SsrfGuard } from '@datamancy/core';
import type { TcpCheck } from '../manifest/schema.ts';
import { errorEvidence, type Attempt, type Evidence } from './types.ts';

/** Runs a `tcp` check once: the port accepts a connection within the timeout. */
export function runTcpCheck(
  guard: SsrfGuard,
  check: TcpCheck,
  signal: AbortSignal,
): Promise<Attempt> {
  const started = performance.now();
  const evidence: Evidence = { reasons: [], url: `tcp://${check.host}:${check.port}` };
  return new Promise<Attempt>((resolve) => {
    const done = (err?: unknown): void => {
      const latencyMs = Math.round((performance.now() - started) * 10) / 10;
      socket.destroy();
      if (err !== undefined) {
        const error = signal.aborted
          ? { code: 'TIMEOUT', message: `no connection within ${check.timeoutMs} ms` }
          : errorEvidence(err);
        evidence.error = error;
        evidence.reasons.push(`${error.code}: ${error.message}`);
        resolve({
          status: 'fail',
          latencyMs,
          message: `${error.code}: ${error.message}`,
          evidence,
        });
        return;
      }
      if (check.latencyBudgetMs !== undefined && latencyMs > check.latencyBudgetMs) {
        evidence.reasons.push(
          `connected in ${Math.round(latencyMs)} ms, budget ${check.latencyBudgetMs} ms`,
        );
        resolve({ status: 'degraded', latencyMs, message: evidence.reasons[0] ?? '', evidence });
        return;
      }
      resolve({
        status: 'pass',
        latencyMs,
        message: `port open (${Math.round(latencyMs)} ms)`,
        evidence,
      });
    };
    try {
      guard.checkHost(check.host);
    } catch (err) {
      const error = errorEvidence(err);
      evidence.error = error;
      evidence.reasons.push(error.message);
      resolve({ status: 'fail', latencyMs: 0, message: error.message, evidence });
      return;
    }
    const socket = connect({ host: check.host, port: check.port, lookup: guard.lookup, signal });
    socket.once('connect', () => done());
    socket.once('error', (err) => done(err));
  });
}
