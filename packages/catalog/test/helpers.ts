import type { ConfigError } from '@datamancy/core';
import { parseCatalog } from '../src/index.ts';

/** Every issue `parseCatalog` names for a document (`path: message`), or none. */
export function catalogIssues(doc: unknown): string[] {
  try {
    parseCatalog(doc);
  } catch (err) {
    return (err as ConfigError).issues.map((i) => `${i.path}: ${i.message}`);
  }
  return [];
}

/** The smallest valid identity section. */
export const MINIMAL_IDENTITY = {
  baseDn: 'dc=x',
  groups: [{ name: 'users', description: 'everyone' }],
  users: [{ uid: 'ann', name: 'Ann', groups: ['users'] }],
};
