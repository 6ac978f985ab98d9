import { defineConfig } from 'vitest/config';

// Projects: fast unit tests beside the code (and the benchmark's arithmetic), the HTTP-level suites
// (conformance, end to end) that start real servers and processes.
export default defineConfig({
  test: {
    projects: [
      {
        test: { name: 'unit', include: ['src/**/*.test.ts', 'bench/**/*.test.ts'], environment: 'node' },
      },
      {
        test: {
          name: 'http',
          include: ['test/**/*.test.ts'],
          environment: 'node',
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
      {
        // Type tests (test/types/*.test-d.ts): checked by tsc, never run.
        test: {
          name: 'types',
          typecheck: { enabled: true, only: true, include: ['test/types/**/*.test-d.ts'] },
        },
      },
    ],
  },
});
