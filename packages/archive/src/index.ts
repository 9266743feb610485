export { ChecksumMismatchError, SegmentCorruptError, ObjectConflictError, ObjectMissingError } from './errors.js';
export { encodeSegment, decodeSegment, readSegmentHeader, encodeHeaders, decodeHeaders, recordSize, sha256Hex, SEGMENT_MAGIC, SEGMENT_VERSION } from './segment.js';
export type { ArchivedMessage, HeaderPairs, SegmentHeader, EncodedSegment } from './segment.js';
export { partitionPrefix, segmentKey, sidecarKey, startingAt, parseKey } from './layout.js';
export { sidecarJson, parseSidecar, sameSegment, readManifest, manifestSegmentOf, insertManifest, SIDECAR_FORMAT } from './manifest.js';
export type { SegmentInfo } from './manifest.js';
export { checkKey, sameBytes } from './store.js';
export type { ArchiveStore } from './store.js';
export { FsArchiveStore } from './fsStore.js';
export { S3ArchiveStore } from './s3Store.js';
export type { S3StoreOptions } from './s3Store.js';
export { loadArchiveConfig, openArchiveStore, ARCHIVE_DEFAULTS, DEFAULT_ARCHIVE_DIR } from './config.js';
export type { ArchiveConfig, ArchiveStoreConfig, SegmentLimits } from './config.js';
export { ArchiveReader } from './reader.js';
export type { ArchiveReaderOptions, ReadOptions } from './reader.js';
export { headerPairs, toCanonical } from './canonical.js';

/**
 * The Postgres schema of a namespace's archive (manifest, pending messages, the
 * archive projection's checkpoints): its own, so that dropping a tiering
 * version's schema (even the first one's, `<ns>`) never drops the archive's.
 */
export const archiveSchema = (n: { pgSchema: string }): string => `${n.pgSchema}_archive`;
