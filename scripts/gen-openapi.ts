// Writes docs/api/<service>.openapi.json from the served documents (tests check they are current).
import { writeFileSync } from 'node:fs';
import { BROWSER_VERSION, createOpenApiDocument as browserDocument } from '@datamancy/browser';
import {
  createOpenApiDocument as routerDocument,
  MODEL_ROUTER_VERSION,
} from '@datamancy/model-router';
import { createOpenApiDocument as probeDocument, PROBE_VERSION } from '@datamancy/probe';
import {
  createOpenApiDocument as speechGatewayDocument,
  SPEECH_GATEWAY_VERSION,
} from '@datamancy/speech-gateway';
import { createOpenApiDocument, TOOL_SERVER_VERSION } from '@datamancy/tool-server';

const documents: [string, Record<string, unknown>][] = [
  ['tool-server', createOpenApiDocument(TOOL_SERVER_VERSION)],
  ['browser', browserDocument(BROWSER_VERSION)],
  ['probe', probeDocument(PROBE_VERSION)],
  ['model-router', routerDocument(MODEL_ROUTER_VERSION)],
  ['speech-gateway', speechGatewayDocument(SPEECH_GATEWAY_VERSION)],
];
for (const [name, document] of documents) {
  const path = new URL(`../docs/api/${name}.openapi.json`, import.meta.url);
  writeFileSync(path, `${JSON.stringify(document, null, 2)}\n`);
  process.stdout.write(`wrote ${path.pathname}\n`);
}
