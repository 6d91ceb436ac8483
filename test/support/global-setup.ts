/**
 * Build one migrated catalog data directory per test run; each test server starts from a
 * copy (docs/design.md §3: a fresh engine costs seconds and ~800 MB, a reopened copy a fraction).
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { tmpdir } from 'node:os';
import type { TestProject } from 'vitest/node';
import { join } from 'node:path';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import { startServer } from '../../src/server.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // Child-process tests run the built server, as `npm start` does.
  await run(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(ROOT, 'tsconfig.build.json')], { cwd: ROOT });
  const root = await mkdtemp(join(tmpdir(), 'iamlink-template-'));
  const dataDir = join(root, 'data');
  const server = await startServer(loadConfig(['--data-dir', dataDir, '--listen', '127.0.0.1:0', '--aws-external-id-prefix', 'test-prefix', '--environment-id', 'test-env']), {
    log: createLogger('silent'),
  });
  await server.close();
  project.provide('templateDataDir', dataDir);
  return async () => {
    await rm(root, { recursive: true, force: true });
  };
}

declare module 'vitest' {
  export interface ProvidedContext {
    templateDataDir: string;
  }
}
