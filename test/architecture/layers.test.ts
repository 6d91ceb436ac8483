import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = fileURLToPath(new URL('../../src', import.meta.url));

/** Which folders each folder may import from (top-level files like errors.ts are shared leaves). */
const ALLOWED: Record<string, readonly string[]> = {
  sql: [],
  secrets: [],
  session: ['sql'],
  catalog: ['sql', 'secrets'],
  plan: ['sql', 'catalog', 'secrets'],
  aws: ['catalog', 'secrets'],
  exec: ['sql', 'catalog', 'plan', 'session', 'secrets', 'aws'],
  pgwire: ['sql', 'session', 'exec', 'catalog', 'secrets'],
};

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => join(e.parentPath, e.name));
}

describe('imports flow one way (STYLE.md)', () => {
  const violations: string[] = [];
  for (const file of tsFiles(SRC)) {
    const rel = relative(SRC, file);
    const folder = rel.includes('/') ? rel.split('/')[0]! : undefined;
    const imports = [...readFileSync(file, 'utf8').matchAll(/from '(\.[^']+)'/g)].map((m) => m[1]!);
    for (const spec of imports) {
      const target = relative(SRC, join(file, '..', spec));
      const targetFolder = target.includes('/') ? target.split('/')[0]! : undefined;
      if (!folder) continue; // main.ts and server.ts compose everything
      if (targetFolder === undefined) {
        if (['server.js', 'main.js'].includes(target)) violations.push(`${rel} imports ${target}`);
        continue;
      }
      if (targetFolder !== folder && !ALLOWED[folder]!.includes(targetFolder)) violations.push(`${rel} imports ${target}`);
    }
  }

  it('no folder imports one it should not', () => {
    expect(violations).toEqual([]);
  });
});
