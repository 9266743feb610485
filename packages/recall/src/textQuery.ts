/** The words of a free-text query that count: letters and digits, lower-cased, distinct, at most 32. */
const queryWords = (text: string): string[] => [...new Set(text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [])].slice(0, 32);

/** Words of a free-text query as an OR tsquery: relevance counts any overlap, ranked by coverage. */
export function orQuery(text: string): string | undefined {
  const words = queryWords(text);
  return words.length === 0 ? undefined : words.join(' | ');
}

/** The same words as an AND tsquery: what a text-only candidate must match. */
export function allWords(text: string): string | undefined {
  const words = queryWords(text);
  return words.length === 0 ? undefined : words.join(' & ');
}
