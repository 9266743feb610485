import { describeIssues, type ValidationIssue } from './issues.js';

/** Base of every farmbrain error: a stable `code` callers can branch on, and a message that says what to do. */
export class FarmbrainError extends Error {
  constructor(
    readonly code: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'FarmbrainError';
  }
}

/** An event failed validation; `issues` names each problem by field. */
export class InvalidEventError extends FarmbrainError {
  constructor(
    readonly issues: readonly ValidationIssue[],
    options?: ErrorOptions,
  ) {
    super('INVALID_EVENT', `invalid event: ${describeIssues(issues)}`, options);
    this.name = 'InvalidEventError';
  }
}
