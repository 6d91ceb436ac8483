/** Deciding who answers a statement: our own parser, the session, or the engine. */
import type { Statement } from '../sql/ast.js';
import { tokenize, type Token } from '../sql/lexer.js';
import { isOwnStatement, parseStatement } from '../sql/parser.js';
import { printStatement } from '../sql/printer.js';
import { gateStatement, normalizeForLog, type GatedStatement } from './query-gate.js';

export type Classified =
  | { readonly kind: 'empty' }
  | { readonly kind: 'own'; readonly stmt: Statement }
  | { readonly kind: 'gated'; readonly gated: GatedStatement; readonly text: string };

/** Classify one statement's text (no trailing semicolon). Throws SqlError on bad input. */
export function classify(text: string, tokens: readonly Token[] = tokenize(text)): Classified {
  if (tokens.length === 0 || tokens[0]!.kind === 'eof') return { kind: 'empty' };
  if (isOwnStatement(tokens)) return { kind: 'own', stmt: parseStatement(text, tokens) };
  return { kind: 'gated', gated: gateStatement(text, tokens), text };
}

/** The statement as it may appear in a log line: never a literal value. */
export function redactForLog(text: string, classified?: Classified): string {
  if (classified?.kind === 'own') return printStatement(classified.stmt, { redacted: true });
  if (classified?.kind === 'gated') {
    // A lifted read already has its literals replaced: no second parse for the log.
    const g = classified.gated;
    if (g.kind === 'read') return g.lifted ? g.lifted.text : normalizeForLog(g.parsedText ?? classified.text);
    return normalizeForLog(classified.text);
  }
  try {
    return tokenize(text)
      .filter((t) => t.kind !== 'eof')
      .map((t) => (t.kind === 'string' || t.kind === 'quoted' ? "'<REDACTED>'" : t.value))
      .join(' ')
      .slice(0, 2000);
  } catch {
    return '<unparsable statement>';
  }
}

/** Whether a statement returns rows (so Describe must say what they look like). */
export function returnsRows(c: Classified): boolean {
  if (c.kind === 'own') return c.stmt.kind === 'show_objects' || c.stmt.kind === 'show_create_connection';
  if (c.kind === 'gated') return c.gated.kind === 'read' || c.gated.kind === 'show';
  return false;
}
