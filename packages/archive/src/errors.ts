import { FarmbrainError } from '@farmbrain/contracts';

/** The stored bytes of a segment are not the bytes its manifest describes (corrupted or replaced in the store). */
export class ChecksumMismatchError extends FarmbrainError {
  constructor(readonly key: string, readonly expected: string, readonly actual: string) {
    super('ARCHIVE_CHECKSUM_MISMATCH', `archive object '${key}' has sha256 ${actual}, but its manifest says ${expected}: the stored segment is corrupt or was replaced; restore it from a copy of the store (the canonical stream, if it still holds the range, can be archived again)`);
    this.name = 'ChecksumMismatchError';
  }
}

/** Bytes that are not a segment of a format this code reads, or whose content contradicts its own header. */
export class SegmentCorruptError extends FarmbrainError {
  constructor(readonly key: string, reason: string, options?: ErrorOptions) {
    super('ARCHIVE_SEGMENT_CORRUPT', `archive segment '${key}' cannot be read: ${reason}`, options);
    this.name = 'SegmentCorruptError';
  }
}

/** An immutable object exists under this key with other bytes: nothing overwrites an archive object. */
export class ObjectConflictError extends FarmbrainError {
  constructor(readonly key: string) {
    super('ARCHIVE_OBJECT_CONFLICT', `archive object '${key}' already exists with different content; archive objects are immutable (move the object aside after checking it, or remove it deliberately)`);
    this.name = 'ObjectConflictError';
  }
}

/** No object under this key. */
export class ObjectMissingError extends FarmbrainError {
  constructor(readonly key: string, options?: ErrorOptions) {
    super('ARCHIVE_OBJECT_MISSING', `archive object '${key}' does not exist in the store (was the store or its prefix changed, or the object removed?)`, options);
    this.name = 'ObjectMissingError';
  }
}
