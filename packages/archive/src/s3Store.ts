import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { ObjectConflictError, ObjectMissingError } from './errors.js';
import { checkKey, sameBytes, type ArchiveStore } from './store.js';

export interface S3StoreOptions {
  bucket: string;
  /** Key prefix inside the bucket (no leading or trailing '/'), or ''. */
  prefix: string;
  /** An S3-compatible endpoint (Supabase Storage: https://<project>.supabase.co/storage/v1/s3); unset: AWS. */
  endpoint?: string | undefined;
  region: string;
  forcePathStyle: boolean;
  /** Unset: the AWS SDK's default chain (environment, profile, instance role). */
  credentials?: { accessKeyId: string; secretAccessKey: string } | undefined;
}

const status = (err: unknown): number | undefined => (err as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
const isMissing = (err: unknown) => status(err) === 404 || ['NoSuchKey', 'NotFound'].includes((err as Error)?.name);

/**
 * The archive in an S3-compatible bucket (AWS S3, Supabase Storage, MinIO),
 * through the AWS SDK. A put first reads the key (same bytes: nothing to do;
 * other bytes: refused), then writes with `If-None-Match: *`, which stores
 * that enforce conditional writes use to refuse a concurrent overwrite.
 */
export class S3ArchiveStore implements ArchiveStore {
  readonly #s3: S3Client;

  constructor(private readonly o: S3StoreOptions) {
    this.#s3 = new S3Client({
      region: o.region,
      forcePathStyle: o.forcePathStyle,
      ...(o.endpoint ? { endpoint: o.endpoint } : {}),
      ...(o.credentials ? { credentials: o.credentials } : {}),
      // S3-compatible stores do not all know the SDK's newer default checksums.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
  }

  get location(): string {
    return `s3://${this.o.bucket}/${this.o.prefix}${this.o.endpoint ? ` at ${this.o.endpoint}` : ''}`;
  }

  #key(key: string): string {
    checkKey(key);
    return this.o.prefix ? `${this.o.prefix}/${key}` : key;
  }

  async put(key: string, bytes: Uint8Array): Promise<'written' | 'exists'> {
    const existing = await this.#read(key);
    if (existing) return this.#same(key, existing, bytes);
    try {
      await this.#s3.send(new PutObjectCommand({ Bucket: this.o.bucket, Key: this.#key(key), Body: bytes, IfNoneMatch: '*', ContentType: 'application/octet-stream' }));
    } catch (err) {
      // 412: another writer created it first; 409: a conditional write raced with one in flight.
      if (status(err) !== 412 && status(err) !== 409) throw err;
      const now = await this.#read(key);
      if (!now) throw err;
      return this.#same(key, now, bytes);
    }
    return 'written';
  }

  #same(key: string, existing: Uint8Array, bytes: Uint8Array): 'exists' {
    if (!sameBytes(existing, bytes)) throw new ObjectConflictError(key);
    return 'exists';
  }

  async #read(key: string): Promise<Uint8Array | undefined> {
    try {
      const r = await this.#s3.send(new GetObjectCommand({ Bucket: this.o.bucket, Key: this.#key(key) }));
      return await r.Body!.transformToByteArray();
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw err;
    }
  }

  async get(key: string): Promise<Uint8Array> {
    const b = await this.#read(key);
    if (!b) throw new ObjectMissingError(key);
    return b;
  }

  async exists(key: string): Promise<boolean> {
    try {
      await this.#s3.send(new HeadObjectCommand({ Bucket: this.o.bucket, Key: this.#key(key) }));
      return true;
    } catch (err) {
      if (isMissing(err)) return false;
      throw err;
    }
  }

  async list(prefix: string): Promise<string[]> {
    const full = this.o.prefix ? `${this.o.prefix}/${prefix}` : prefix;
    const out: string[] = [];
    let token: string | undefined;
    do {
      const r = await this.#s3.send(new ListObjectsV2Command({ Bucket: this.o.bucket, Prefix: full, ContinuationToken: token }));
      for (const c of r.Contents ?? []) if (c.Key) out.push(this.o.prefix ? c.Key.slice(this.o.prefix.length + 1) : c.Key);
      token = r.IsTruncated ? r.NextContinuationToken : undefined;
    } while (token);
    return out.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }

  async remove(key: string): Promise<void> {
    await this.#s3.send(new DeleteObjectCommand({ Bucket: this.o.bucket, Key: this.#key(key) }));
  }

  async close(): Promise<void> {
    this.#s3.destroy();
  }
}
