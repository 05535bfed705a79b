import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../src/index.ts';

describe('createLogger', () => {
  it('redacts authorization headers, keys, tokens and passwords', () => {
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _enc, cb) {
        lines.push(chunk.toString());
        cb();
      },
    });
    const logger = createLogger({ destination: destination });
    logger.info(
      {
        headers: { authorization: 'Bearer secret-1', cookie: 'sid=secret-2' },
        apiKey: 'secret-3',
        llm: { apiKey: 'secret-4', password: 'secret-5' },
        token: 'secret-6',
      },
      'hello',
    );
    const text = lines.join('');
    expect(text).toContain('hello');
    for (let i = 1; i <= 6; i++) expect(text).not.toContain(`secret-${i}`);
    expect(text).toContain('[redacted]');
  });
});
