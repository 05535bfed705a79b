import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: [
      '{packages,services}/*/test/**/*.test.ts',
      'cli/test/**/*.test.ts',
      'test/e2e/**/*.test.ts',
      'test/adversarial/**/*.test.ts',
    ],
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
