/**
 * The text rule: which strings an event may carry.
 *
 * Every string of an event ends up in Postgres (`text`, `text[]`, `jsonb`, built
 * from JSON with `jsonb_to_recordset`), in Redis as JSON, and in protobuf as
 * UTF-8. Postgres refuses U+0000 in text and jsonb, and jsonb refuses a `\ud800`
 * escape (which is what JSON.stringify makes of a lone surrogate). An event
 * holding either would pass ingest and then fail its projection on every retry,
 * halting the partition. So validation REJECTS (reason code INVALID_TEXT),
 * never silently repairs, a string holding:
 * - U+0000 (NUL), anywhere, in any field, including JSON keys and values;
 * - a lone UTF-16 surrogate (not well-formed, `String.prototype.isWellFormed`);
 * - in free text: any other C0 control (U+0001..U+001F) except tab, newline and CR;
 * - in identifier-like fields (ids, symbol, tags, labels, team, model names):
 *   any control character at all (C0, DEL, C1 U+0080..U+009F).
 * JSON values (config, filters) are checked for NUL and lone surrogates only.
 * Positions are UTF-16 code unit indexes (JavaScript string indexes).
 */

export type TextMode = 'text' | 'identifier' | 'json';

export interface TextProblem {
  /** The offending code unit (a lone surrogate) or character. */
  codePoint: number;
  /** UTF-16 index in the string. */
  index: number;
  kind: 'nul' | 'control' | 'surrogate';
}

const BAD_IN_TEXT = /[\u0000-\u0008\u000B\u000C\u000E-\u001F]/;
const BAD_IN_IDENTIFIER = /[\u0000-\u001F\u007F-\u009F]/;
const BAD_IN_JSON = /\u0000/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

// Node 20 has String.prototype.isWellFormed; the ES2023 lib typings do not.
const isWellFormed = (s: string): boolean => (s as unknown as { isWellFormed(): boolean }).isWellFormed();

/** The first character of `s` the text rule refuses in this mode, or undefined when `s` is acceptable. */
export function textProblem(s: string, mode: TextMode): TextProblem | undefined {
  const bad = (mode === 'text' ? BAD_IN_TEXT : mode === 'identifier' ? BAD_IN_IDENTIFIER : BAD_IN_JSON).exec(s);
  const lone = isWellFormed(s) ? null : LONE_SURROGATE.exec(s);
  const first = bad && lone ? (bad.index < lone.index ? bad : lone) : (bad ?? lone);
  if (!first) return undefined;
  const codePoint = first[0].charCodeAt(0);
  return { codePoint, index: first.index, kind: first === lone ? 'surrogate' : codePoint === 0 ? 'nul' : 'control' };
}

/** U+XXXX. */
export const codePointName = (cp: number): string => `U+${cp.toString(16).toUpperCase().padStart(4, '0')}`;

/** What is wrong and what to do, for a ValidationIssue message. `where` names the field (and the place inside it). */
export function describeTextProblem(where: string, p: TextProblem, mode: TextMode): string {
  const at = `${codePointName(p.codePoint)}${p.kind === 'nul' ? ' (NUL)' : ''} at index ${p.index}`;
  switch (p.kind) {
    case 'nul':
      return `${where} contains ${at}; Postgres cannot store NUL in text or JSON: remove it (or escape it, e.g. as the two characters \\0) before recording`;
    case 'surrogate':
      return `${where} contains a lone surrogate ${at} (half of a UTF-16 pair, e.g. an emoji cut in two); pass well-formed text (String.prototype.toWellFormed() replaces it with U+FFFD)`;
    case 'control':
      return mode === 'identifier'
        ? `${where} contains control character ${at}; identifiers may not contain control characters: remove it`
        : `${where} contains control character ${at}; text may hold tab, newline and carriage return but no other control characters: remove or escape it`;
  }
}

/** A string safe to put in a message: control characters and lone surrogates escaped, at most `max` characters. */
export function printable(s: string, max = 64): string {
  const cut = s.length > max ? `${s.slice(0, max)}…` : s;
  return cut.replace(/[\u0000-\u001F\u007F-\u009F]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
