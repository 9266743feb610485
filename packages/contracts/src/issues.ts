/** What validation reports: a stable reason code per problem, the field, and a message that says what to do. */

export const REASON_CODES = [
  'DECODE_ERROR',
  'MISSING_FIELD',
  'INVALID_FIELD',
  'OUT_OF_RANGE',
  'TOO_LARGE',
  /** A string holds NUL, a control character it may not hold, or a lone surrogate (see textRule.ts). */
  'INVALID_TEXT',
  'CLOCK_SKEW',
  'AGENT_MISMATCH',
  'UNSUPPORTED_SCHEMA',
  'SCOPE_FORBIDDEN',
] as const;
export type ReasonCode = (typeof REASON_CODES)[number];

export interface ValidationIssue {
  code: ReasonCode;
  /** Dotted path of the offending field, '' for the whole event. */
  field: string;
  message: string;
}

/** One line naming every issue, for dead-letter headers and error messages. */
export const describeIssues = (issues: readonly ValidationIssue[]): string =>
  issues.map((i) => (i.field ? `${i.field}: ${i.message}` : i.message)).join('; ');
