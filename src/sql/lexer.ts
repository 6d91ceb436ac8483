/**
 * A PostgreSQL-compatible lexer, enough to parse our DDL and to split a query string into
 * statements without being fooled by quotes, dollar quotes or comments.
 */
import { SqlError, SqlState } from '../errors.js';

export type TokenKind =
  | 'word' // unquoted identifier or keyword; `value` is lower-cased
  | 'quoted' // "quoted identifier"; `value` is as written
  | 'string' // 'literal', E'literal' or $$literal$$; `value` is the decoded text
  | 'number'
  | 'param' // $1
  | 'op' // punctuation and operators: ( ) , ; = . and the rest
  | 'eof';

export interface Token {
  readonly kind: TokenKind;
  readonly value: string;
  /** 0-based character offset of the token's first character. */
  readonly start: number;
  readonly end: number;
}

const WORD_START = /[A-Za-z_\u0080-\uffff]/;
const WORD_PART = /[A-Za-z0-9_$\u0080-\uffff]/;
const OP_CHARS = '+-*/<>=~!@#%^&|`?';
/** Sticky: matched at lastIndex, never on a copy of the rest of the text. */
const NUMBER = /(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?/y;

function syntaxError(message: string, position: number): SqlError {
  return new SqlError(SqlState.syntaxError, message, { position });
}

/** Tokenize `text`. Comments and whitespace are dropped. Always ends with an `eof` token. */
export function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text[i]!;
    // PostgreSQL's scanner: space is [ \t\n\r\f\v], and a -- comment ends at \n or \r.
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\f' || c === '\v') {
      i++;
      continue;
    }
    if (c === '-' && text[i + 1] === '-') {
      while (i < n && text[i] !== '\n' && text[i] !== '\r') i++;
      continue;
    }
    if (c === '/' && text[i + 1] === '*') {
      i = skipBlockComment(text, i);
      continue;
    }
    const start = i;
    if ((c === 'E' || c === 'e') && text[i + 1] === "'") {
      const { value, end } = readQuoted(text, i + 1, "'", true);
      tokens.push({ kind: 'string', value, start, end });
      i = end;
      continue;
    }
    if (WORD_START.test(c)) {
      while (i < n && WORD_PART.test(text[i]!)) i++;
      tokens.push({ kind: 'word', value: text.slice(start, i).toLowerCase(), start, end: i });
      continue;
    }
    if (c === "'") {
      const { value, end } = readQuoted(text, i, "'", false);
      tokens.push({ kind: 'string', value, start, end });
      i = end;
      continue;
    }
    if (c === '"') {
      const { value, end } = readQuoted(text, i, '"', false);
      if (value.length === 0) throw syntaxError('zero-length delimited identifier', start);
      tokens.push({ kind: 'quoted', value, start, end });
      i = end;
      continue;
    }
    if (c === '$') {
      const param = /^\$(\d+)/.exec(text.slice(i, i + 12));
      if (param) {
        i += param[0].length;
        tokens.push({ kind: 'param', value: param[1]!, start, end: i });
        continue;
      }
      const tag = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(text.slice(i, i + 70));
      if (tag) {
        const delimiter = tag[0];
        const close = text.indexOf(delimiter, i + delimiter.length);
        if (close < 0) throw syntaxError('unterminated dollar-quoted string', start);
        tokens.push({ kind: 'string', value: text.slice(i + delimiter.length, close), start, end: close + delimiter.length });
        i = close + delimiter.length;
        continue;
      }
    }
    if (c >= '0' && c <= '9' || (c === '.' && /[0-9]/.test(text[i + 1] ?? ''))) {
      NUMBER.lastIndex = i;
      const m = NUMBER.exec(text)!;
      i += m[0].length;
      tokens.push({ kind: 'number', value: m[0], start, end: i });
      continue;
    }
    if ('(),;.[]:'.includes(c)) {
      if (c === ':' && text[i + 1] === ':') {
        i += 2;
        tokens.push({ kind: 'op', value: '::', start, end: i });
        continue;
      }
      i++;
      tokens.push({ kind: 'op', value: c, start, end: i });
      continue;
    }
    if (OP_CHARS.includes(c)) {
      while (i < n && OP_CHARS.includes(text[i]!) && !(text[i] === '-' && text[i + 1] === '-') && !(text[i] === '/' && text[i + 1] === '*')) i++;
      tokens.push({ kind: 'op', value: text.slice(start, i), start, end: i });
      continue;
    }
    throw syntaxError(`unexpected character ${JSON.stringify(c)}`, start);
  }
  tokens.push({ kind: 'eof', value: '', start: n, end: n });
  return tokens;
}

function skipBlockComment(text: string, start: number): number {
  let depth = 0;
  let i = start;
  while (i < text.length) {
    if (text[i] === '/' && text[i + 1] === '*') {
      depth++;
      i += 2;
    } else if (text[i] === '*' && text[i + 1] === '/') {
      depth--;
      i += 2;
      if (depth === 0) return i;
    } else {
      i++;
    }
  }
  throw syntaxError('unterminated /* comment', start);
}

const ESCAPES: Record<string, string> = { b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };

/**
 * Read a quote-delimited run starting at the opening quote; doubled quotes escape. Runs between
 * quotes (and backslashes) are copied as slices: a 30 MB literal costs one pass, not one string
 * concatenation per character.
 */
function readQuoted(text: string, open: number, quote: string, backslashEscapes: boolean): { value: string; end: number } {
  const parts: string[] = [];
  let i = open + 1;
  // Next quote and backslash at or after i (Infinity: none), searched again only once i has
  // passed them, so a literal of many escapes is still one pass.
  let q = -1;
  let b = backslashEscapes ? -1 : Infinity;
  for (;;) {
    if (q < i) q = positionOf(text, quote, i);
    if (b < i) b = positionOf(text, '\\', i);
    if (b < q && b + 1 < text.length) {
      parts.push(text.slice(i, b));
      const next = text[b + 1]!;
      parts.push(ESCAPES[next] ?? next);
      i = b + 2;
      continue;
    }
    if (q === Infinity) break;
    parts.push(text.slice(i, q));
    if (text[q + 1] === quote) {
      parts.push(quote);
      i = q + 2;
      continue;
    }
    return { value: parts.join(''), end: q + 1 };
  }
  const what = quote === '"' ? 'unterminated quoted identifier' : 'unterminated quoted string';
  throw syntaxError(what, open);
}

function positionOf(text: string, what: string, from: number): number {
  const at = text.indexOf(what, from);
  return at < 0 ? Infinity : at;
}

/** A part of a query string between top-level semicolons. */
export interface StatementText {
  readonly text: string;
  /** Offset of `text` in the whole query string. */
  readonly offset: number;
  readonly tokens: readonly Token[];
}

/**
 * Split a query string into statements at top-level semicolons. Empty statements are
 * dropped. Throws a 42601 SqlError for an unterminated quote or comment.
 */
export function splitStatements(query: string): StatementText[] {
  const tokens = tokenize(query);
  const out: StatementText[] = [];
  let first = 0;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t.kind === 'eof' || (t.kind === 'op' && t.value === ';')) {
      if (i > first) {
        const start = tokens[first]!.start;
        const end = tokens[i - 1]!.end;
        const own = tokens.slice(first, i).map((tok) => ({ ...tok, start: tok.start - start, end: tok.end - start }));
        own.push({ kind: 'eof', value: '', start: end - start, end: end - start });
        out.push({ text: query.slice(start, end), offset: start, tokens: own });
      }
      first = i + 1;
    }
  }
  return out;
}

/** Describe a token for an error message without ever echoing a literal's contents. */
export function describeToken(t: Token): string {
  switch (t.kind) {
    case 'eof':
      return 'end of input';
    case 'string':
      return 'string literal';
    case 'number':
      return `number "${t.value}"`;
    case 'param':
      return `parameter $${t.value}`;
    case 'word':
      return t.value.length > 64 ? 'identifier' : `identifier "${t.value}"`;
    case 'quoted':
      return 'quoted identifier';
    case 'op':
      return `"${t.value}"`;
  }
}
