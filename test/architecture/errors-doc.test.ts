import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SqlState } from '../../src/errors.js';

describe('docs/errors.md', () => {
  const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
  const documented = [...doc.matchAll(/^\| ([0-9A-Z]{5}) \|/gm)].map((m) => m[1]).sort();

  it('lists exactly the SQLSTATEs src/errors.ts defines', () => {
    expect(documented).toEqual(Object.values(SqlState).sort());
  });
});
