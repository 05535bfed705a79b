// Writes docs/api/tool-server.openapi.json from the served document (a test checks it is current).
import { writeFileSync } from 'node:fs';
import { createOpenApiDocument, TOOL_SERVER_VERSION } from '@datamancy/tool-server';

const path = new URL('../docs/api/tool-server.openapi.json', import.meta.url);
writeFileSync(path, `${JSON.stringify(createOpenApiDocument(TOOL_SERVER_VERSION), null, 2)}\n`);
process.stdout.write(`wrote ${path.pathname}\n`);
