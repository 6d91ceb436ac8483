/**
 * What the PostgreSQL parser is given for a statement with very long string literals: the same
 * statement with each such literal written as '' (the parse tree's shape does not depend on a
 * literal's contents), and a map from its offsets back to the original's. A 30 MB literal then
 * costs the parser nothing, and the server's event loop is not held for seconds.
 */
import type { Token } from '../sql/lexer.js';

/** Literals longer than this (in characters, quotes included) are left out of the parse. */
const LONG_LITERAL = 1024;

export interface Skeleton {
  readonly text: string;
  /** The original statement's offset for an offset in `text`. */
  toOriginal(offset: number): number;
  /** Original start offsets of the literals written as ''; their values come from our lexer. */
  readonly replaced: ReadonlySet<number>;
  /** Where each '' stands in `text`: PostgreSQL's parse must find a string constant at each. */
  readonly blanks: readonly number[];
}

/**
 * Whether PostgreSQL's parse of a skeleton saw a string constant exactly where each literal was
 * blanked. If its scanner read the text differently from ours (a comment, a quote), it did not,
 * and the skeleton must not be trusted: the gate then parses the whole statement.
 */
export function skeletonConfirmed(skeleton: Skeleton, tree: unknown): boolean {
  const constants = new Set<number>();
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(visit);
    if (node === null || typeof node !== 'object') return;
    const c = (node as { A_Const?: { sval?: unknown; location?: number } }).A_Const;
    if (c?.sval !== undefined && typeof c.location === 'number') constants.add(c.location);
    Object.values(node).forEach(visit);
  };
  visit(tree);
  return skeleton.blanks.every((at) => constants.has(at));
}

/**
 * The skeleton of `sql`, or undefined when it has no long literal. Only literals our lexer
 * decodes exactly as PostgreSQL does are replaced: plain '...' and $$...$$ strings, not E''
 * or U&'' ones, and not strings next to another string (which PostgreSQL joins into one).
 */
export function skeletonOf(sql: string, tokens: readonly Token[]): Skeleton | undefined {
  const cuts: Token[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t.kind !== 'string' || t.end - t.start <= LONG_LITERAL) continue;
    if (sql[t.start] !== "'" && sql[t.start] !== '$') continue;
    if (sql[t.start - 1] === '&' || tokens[i - 1]?.kind === 'string' || tokens[i + 1]?.kind === 'string') continue;
    cuts.push(t);
  }
  if (cuts.length === 0) return undefined;
  const parts: string[] = [];
  /** Per cut: where its '' starts in the skeleton, and how many characters were removed up to its end. */
  const anchors: { at: number; originalStart: number; removedAfter: number }[] = [];
  let from = 0;
  let removed = 0;
  for (const cut of cuts) {
    parts.push(sql.slice(from, cut.start), "''");
    const at = cut.start - removed;
    removed += cut.end - cut.start - 2;
    anchors.push({ at, originalStart: cut.start, removedAfter: removed });
    from = cut.end;
  }
  parts.push(sql.slice(from));
  return {
    text: parts.join(''),
    replaced: new Set(cuts.map((c) => c.start)),
    blanks: anchors.map((a) => a.at),
    toOriginal(offset: number): number {
      let shift = 0;
      for (const a of anchors) {
        if (offset < a.at) break;
        if (offset < a.at + 2) return a.originalStart + (offset - a.at);
        shift = a.removedAfter;
      }
      return offset + shift;
    },
  };
}
