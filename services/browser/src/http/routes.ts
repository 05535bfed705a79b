import { readValidated, requestSignal, type ServiceApp } from '@datamancy/core';
import type { BrowserConfig } from '../config.ts';
import { readDom, readSnapshot, readTextSignals, takeScreenshot } from '../page/capture.ts';
import { performLogin } from '../page/login.ts';
import type { PageSession } from '../page/session.ts';
import type { ConcurrencyLimiter } from '../runtime/limiter.ts';
import type { JobResult, PageRunner } from '../runtime/page-runner.ts';
import type { SharedBrowser } from '../runtime/shared-browser.ts';
import { saveProof } from './proofs.ts';
import type { RequestSchemas } from './schemas.ts';

export interface RouteDeps {
  config: BrowserConfig;
  schemas: RequestSchemas;
  runner: PageRunner;
  limiter: ConcurrencyLimiter;
  browser: SharedBrowser;
}

/** `Accept: image/png` (and not JSON) asks for the bare PNG. */
function wantsPng(accept: string | undefined): boolean {
  const value = accept?.toLowerCase() ?? '';
  return value.includes('image/png') && !value.includes('application/json');
}

/** The fields every successful page result starts with. */
function pageFields(result: JobResult<unknown>) {
  return {
    ok: true as const,
    status: result.navigation.status,
    finalUrl: result.finalUrl,
    title: result.title,
    timing: result.timing,
    blockedCount: result.blockedCount,
    blockedRequests: result.blockedRequests,
  };
}

/** A screenshot of whatever error page rendered, attached to the failure as evidence. */
async function errorPageImage(session: PageSession): Promise<Record<string, unknown>> {
  const png = await session.page.screenshot({ timeout: Math.min(session.remaining(), 5_000) });
  return { image: png.toString('base64') };
}

export function registerPageRoutes(app: ServiceApp, deps: RouteDeps): void {
  const { config, schemas, runner } = deps;
  const limit = config.bodyLimitBytes;

  app.post('/screenshot', async (c) => {
    const req = await readValidated(c, schemas.screenshot, { limitBytes: limit });
    const png = wantsPng(c.req.header('accept'));
    const result = await runner.run({
      endpoint: 'screenshot',
      target: req,
      signal: requestSignal(c),
      evidence: errorPageImage,
      work: async (session) => {
        const image = await takeScreenshot(session, req);
        const signals =
          req.includeText && !png ? await readTextSignals(session, req.maxChars) : undefined;
        return { image, signals };
      },
    });
    const proofPath = await saveProof(
      config.proofsDir,
      'screenshot',
      c.get('requestId'),
      result.value.image,
    );
    if (png) {
      c.header('x-page-ok', 'true');
      c.header('x-page-status', String(result.navigation.status));
      c.header('x-final-url', result.finalUrl);
      c.header('x-total-ms', String(result.timing.totalMs));
      return c.body(new Uint8Array(result.value.image), 200, { 'content-type': 'image/png' });
    }
    return c.json({
      ...pageFields(result),
      fullPage: req.fullPage,
      viewport: req.viewport,
      imageBytes: result.value.image.length,
      image: result.value.image.toString('base64'),
      ...(proofPath === undefined ? {} : { proofPath }),
      ...(result.value.signals === undefined
        ? {}
        : {
            text: result.value.signals.text.text,
            textChars: result.value.signals.text.chars,
            textTruncated: result.value.signals.text.truncated,
            loginForm: result.value.signals.loginForm,
          }),
    });
  });

  app.post('/dom', async (c) => {
    const req = await readValidated(c, schemas.dom, { limitBytes: limit });
    const result = await runner.run({
      endpoint: 'dom',
      target: req,
      signal: requestSignal(c),
      work: (session) => readDom(session, req),
    });
    const { html, text } = result.value;
    return c.json({
      ...pageFields(result),
      html: html.text,
      text: text.text,
      htmlChars: html.chars,
      textChars: text.chars,
      htmlTruncated: html.truncated,
      textTruncated: text.truncated,
      maxChars: req.maxChars,
    });
  });

  app.post('/snapshot', async (c) => {
    const req = await readValidated(c, schemas.snapshot, { limitBytes: limit });
    const result = await runner.run({
      endpoint: 'snapshot',
      target: req,
      signal: requestSignal(c),
      work: (session) => readSnapshot(session, req),
    });
    return c.json({
      ...pageFields(result),
      format: 'aria-yaml',
      snapshot: result.value.text,
      chars: result.value.chars,
      truncated: result.value.truncated,
      maxChars: req.maxChars,
    });
  });

  app.post('/login', async (c) => {
    const req = await readValidated(c, schemas.login, { limitBytes: limit });
    const result = await runner.run({
      endpoint: 'login',
      target: req,
      signal: requestSignal(c),
      evidence: errorPageImage,
      work: async (session) => {
        const outcome = await performLogin(session, req);
        const image = await session.page.screenshot({ timeout: session.remaining() });
        return { outcome, image };
      },
    });
    const { outcome, image } = result.value;
    const proofPath = await saveProof(config.proofsDir, 'login', c.get('requestId'), image);
    return c.json({
      ...pageFields(result),
      ...outcome,
      image: image.toString('base64'),
      ...(proofPath === undefined ? {} : { proofPath }),
    });
  });

  app.get('/pressure', (c) =>
    c.json({
      running: deps.limiter.running,
      queued: deps.limiter.queued,
      maxConcurrency: deps.limiter.maxConcurrency,
      maxQueue: deps.limiter.maxQueue,
      browserConnected: deps.browser.connected,
      openContexts: deps.browser.openContexts(),
      relaunches: deps.browser.relaunches,
      ...runner.stats,
    }),
  );
}
