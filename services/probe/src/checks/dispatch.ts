import type { SsrfGuard } from '@datamancy/core';
import type { CheckSpec } from '../manifest/schema.ts';
import { runAiCheck } from './ai.ts';
import { runBrowserCheck, type BrowserCheckDeps } from './browser.ts';
import { runContainerCheck, type InspectContainer, type RestartHistory } from './container.ts';
import { runHttpCheck, type ProbeHttp } from './http.ts';
import type { AttemptRunner } from './run.ts';
import { runTcpCheck } from './tcp.ts';
import type { Attempt } from './types.ts';

export interface CheckDeps {
  http: ProbeHttp;
  guard: SsrfGuard;
  /** Absent when no browser service is configured. */
  browser?: BrowserCheckDeps | undefined;
  /** Absent when no tool server is configured. */
  inspect?: InspectContainer | undefined;
  restarts: RestartHistory;
  env?: NodeJS.ProcessEnv;
}

const unknown = (reason: string): Attempt => ({
  status: 'unknown',
  latencyMs: 0,
  message: reason,
  evidence: { reasons: [reason] },
});

/** One attempt of any check kind, with the dependencies each kind needs. */
export function createAttemptRunner(deps: CheckDeps): AttemptRunner {
  return (check: CheckSpec, signal: AbortSignal): Promise<Attempt> => {
    switch (check.kind) {
      case 'http':
        return runHttpCheck(deps.http, check, signal);
      case 'tcp':
        return runTcpCheck(deps.guard, check, signal);
      case 'ai':
        return runAiCheck(deps.http, check, signal, deps.env);
      case 'browser':
        return deps.browser === undefined
          ? Promise.resolve(unknown('no browser service configured (probe.browser.url)'))
          : runBrowserCheck(deps.browser, check, signal);
      case 'container':
        return deps.inspect === undefined
          ? Promise.resolve(unknown('no tool server configured (KFUN_URL) to inspect containers'))
          : runContainerCheck(deps.inspect, deps.restarts, check, signal);
    }
  };
}
