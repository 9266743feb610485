-- [5/9] The archive (services/archive, projection archive.v1): every canonical
-- message, verbatim, first here (in the batch's transaction, with the
-- projection's checkpoint), then sealed into immutable compressed segments in
-- the object store. The archive service applies these migrations in its own
-- schema (`<ns>_archive`); in other schemas the tables stay empty.

-- Canonical messages not yet sealed into a segment. `headers` is the
-- segment format's encoding of the message's header names and values (bytes,
-- so nothing a header can hold is refused).
CREATE TABLE archive_pending (
  partition    integer NOT NULL,
  stream_seq   bigint NOT NULL,
  subject      text NOT NULL,
  headers      bytea NOT NULL,
  data         bytea NOT NULL,
  archived_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (partition, stream_seq)
);

-- The manifest: one row per sealed segment, inserted in the transaction that
-- deletes its messages from archive_pending. A segment holds every canonical
-- message of its partition with after_seq < stream_seq <= last_seq (first_seq
-- is the first of them); the next segment's after_seq is this one's last_seq.
-- Each segment also has a sidecar object (`<key>.json`) with the same facts.
CREATE TABLE archive_segments (
  partition   integer NOT NULL,
  first_seq   bigint NOT NULL,
  last_seq    bigint NOT NULL,
  after_seq   bigint NOT NULL,
  messages    integer NOT NULL,
  bytes       bigint NOT NULL,      -- stored (compressed)
  raw_bytes   bigint NOT NULL,      -- records before compression
  sha256      text NOT NULL,        -- hex, of the stored bytes
  key         text NOT NULL UNIQUE, -- the object's key in the store
  sealed_at   timestamptz NOT NULL,
  PRIMARY KEY (partition, first_seq),
  CHECK (after_seq < first_seq AND first_seq <= last_seq)
);

-- Where archiving of a partition began: the stream sequence below its first
-- message (0 when the log was whole then). A partition's first segment starts
-- after it, so the archive never claims messages it did not see.
CREATE TABLE archive_origins (
  partition  integer PRIMARY KEY,
  after_seq  bigint NOT NULL
);

-- Service tables: no client reads them (RLS on, no policy; the service owns them).
ALTER TABLE archive_pending ENABLE ROW LEVEL SECURITY;
ALTER TABLE archive_segments ENABLE ROW LEVEL SECURITY;
ALTER TABLE archive_origins ENABLE ROW LEVEL SECURITY;
