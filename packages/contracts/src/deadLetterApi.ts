/** The dead-letter API's shapes (gateway `GET /v1/dead-letters`, replay), shared by the gateway and its clients (`farmbrain dlq`). */

/** A dead letter, from ingest (invalid input) or from a projection (could not apply, or skipped on purpose). */
export interface DeadLetterItem {
  /** Stable id: `p:<n>` (projection) or `i:<dlq stream seq>` (ingest). */
  id: string;
  source: 'ingest' | 'projection';
  /** The projection's versioned name ('' for ingest). */
  projection: string;
  agentId: string;
  eventId: string | null;
  eventType: string;
  code: string;
  reason: string;
  /** Postgres SQLSTATE of a store error. */
  sqlstate: string | null;
  deadLetteredAt: string | null;
  /** When it was replayed (projection dead letters only: ingest's keep null). */
  replayedAt: string | null;
  /** The event, base64 protobuf (as it was on the stream). */
  event: string;
}

export interface DeadLetterPage {
  items: DeadLetterItem[];
  nextCursor: string | null;
}

export interface ReplayedDeadLetter {
  id: string;
  /** The (first) event id of what was replayed. */
  eventId: string;
  /** Where the replay landed on the ingress stream. */
  streamSeq: number;
  /** Pass as `consistency` to a read: it answers once the replay went through ingest and the projections. */
  consistencyToken: string;
}
