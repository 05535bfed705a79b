#!/usr/bin/env node
// Runs the TypeScript sources directly (tsx); `tsc -b` only type-checks.
import { register } from 'tsx/esm/api';

register();
await import('../src/main.ts');
