import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { SqlError } from '../../src/errors.js';
import { parseStatement } from '../../src/sql/parser.js';
import { printStatement } from '../../src/sql/printer.js';

const GOLDEN = fileURLToPath(new URL('../golden/parser.golden', import.meta.url));

interface Case {
  readonly input: string;
  readonly expected: string;
}

function readCases(text: string): { header: string; cases: Case[] } {
  const blocks = text.split(/\n\n(?=[^\n])/);
  const header = blocks[0]!.startsWith('#') ? blocks.shift()! : '';
  const cases = blocks.map((b) => {
    const lines = b.replace(/\n+$/, '').split('\n');
    const separator = lines.indexOf('----');
    return { input: lines.slice(0, separator).join('\n'), expected: lines.slice(separator + 1).join('\n') };
  });
  return { header, cases };
}

/** The printed statement, or the error with a caret under its position. */
function render(input: string): string {
  try {
    const stmt = printStatement(parseStatement(input), { revealSecretValues: true });
    // The printed form must parse back to the same statement.
    const again = printStatement(parseStatement(stmt), { revealSecretValues: true });
    return again === stmt ? stmt : `ROUND TRIP CHANGED: ${again}`;
  } catch (err) {
    if (!(err instanceof SqlError)) throw err;
    const caret = err.position === undefined ? '' : `\n${input}\n${' '.repeat(err.position)}^`;
    return `error ${err.code}: ${err.message}${caret}`;
  }
}

describe('parser golden file', () => {
  const { header, cases } = readCases(readFileSync(GOLDEN, 'utf8'));
  if (process.env.REWRITE_GOLDEN) {
    const body = cases.map((c) => `${c.input}\n----\n${render(c.input)}`).join('\n\n');
    writeFileSync(GOLDEN, `${header}\n\n${body}\n`);
  }
  it.each(cases.map((c) => [c.input, c.expected] as const))('%s', (input, expected) => {
    expect(render(input)).toBe(expected);
  });
});

describe('printer', () => {
  it('never prints a secret value unless asked to', () => {
    const stmt = parseStatement("CREATE SECRET s AS 'canary-value'");
    expect(printStatement(stmt)).toBe("CREATE SECRET s AS '<REDACTED>'");
    expect(printStatement(stmt, { redacted: true })).toBe("CREATE SECRET s AS '<REDACTED>'");
    expect(printStatement(parseStatement("ALTER SECRET s AS 'canary-value'"))).not.toContain('canary');
  });

  it('redacts every literal in redacted mode', () => {
    const stmt = parseStatement("CREATE CONNECTION c TO AWS (ACCESS KEY ID = 'AKIA', SECRET ACCESS KEY = SECRET s)");
    expect(printStatement(stmt, { redacted: true })).toBe("CREATE CONNECTION c TO AWS (ACCESS KEY ID = '<REDACTED>', SECRET ACCESS KEY = SECRET s)");
  });
});
