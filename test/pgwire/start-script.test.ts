import { execFile } from 'node:child_process';
import { appendFile, cp, mkdtemp, readFile, rm, stat, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/**
 * `npm start` runs the project's own start script, in a copy of the project (so that the tree's
 * dist/, which other tests run, is never rebuilt under them); `--version` makes the started
 * server print its version and exit.
 */
describe('npm start', () => {
  let dir: string;
  const start = (): Promise<{ stdout: string }> => run('npm', ['start', '--silent', '--', '--version'], { cwd: dir });
  const mtime = async (file: string): Promise<number> => (await stat(join(dir, 'dist', file))).mtimeMs;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'iamlink-start-'));
    for (const f of ['src', 'tsconfig.json', 'tsconfig.build.json', 'package.json']) await cp(join(ROOT, f), join(dir, f), { recursive: true });
    await symlink(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it('builds once, does not rebuild when nothing changed, and rebuilds what changed', async () => {
    const pkg = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as { version: string };
    expect((await start()).stdout).toBe(`iamlink ${pkg.version}\n`);
    const built = { main: await mtime('main.js'), log: await mtime('log.js') };

    expect((await start()).stdout).toBe(`iamlink ${pkg.version}\n`);
    expect({ main: await mtime('main.js'), log: await mtime('log.js') }).toEqual(built);

    await appendFile(join(dir, 'src', 'log.ts'), '\nexport const startScriptProbe = 1;\n');
    expect((await start()).stdout).toBe(`iamlink ${pkg.version}\n`);
    expect(await readFile(join(dir, 'dist', 'log.js'), 'utf8')).toContain('startScriptProbe');
    expect(await mtime('log.js')).toBeGreaterThan(built.log);
  });
});
