import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, readers, type Env } from '@farmbrain/platform';
import { FsArchiveStore } from './fsStore.js';
import { S3ArchiveStore, type S3StoreOptions } from './s3Store.js';
import type { ArchiveStore } from './store.js';

export type ArchiveStoreConfig = { kind: 'fs'; root: string } | ({ kind: 's3' } & S3StoreOptions);

export interface SegmentLimits {
  /** A segment is sealed once this many messages are pending… */
  maxMessages: number;
  /** …or this many bytes (records before compression)… */
  maxBytes: number;
  /** …or its oldest pending message waited this long. */
  sealAfterMs: number;
}

export interface ArchiveConfig {
  store: ArchiveStoreConfig;
  /** Whether FB_ARCHIVE_URL was set (tiering replays from the archive only then). */
  configured: boolean;
  segments: SegmentLimits;
}

/** Where the archive is when FB_ARCHIVE_URL is not set: `.farmbrain/archive` under the working directory (the repository root for `npm start`). */
export const DEFAULT_ARCHIVE_DIR = '.farmbrain/archive';

export const ARCHIVE_DEFAULTS: SegmentLimits = { maxMessages: 10_000, maxBytes: 8 * 1024 * 1024, sealAfterMs: 60_000 };

/**
 * The archive's settings, checked once:
 * - FB_ARCHIVE_URL: `file:///abs/path`, a path (relative to `cwd`), or `s3://bucket[/prefix]`; default `./.farmbrain/archive`.
 * - for s3: FB_S3_ENDPOINT (unset: AWS), FB_S3_REGION (`us-east-1`), FB_S3_ACCESS_KEY_ID and FB_S3_SECRET_ACCESS_KEY
 *   (both or neither; neither: the AWS SDK's default chain), FB_S3_FORCE_PATH_STYLE (default: true when an endpoint is set).
 * - FB_ARCHIVE_SEGMENT_MAX_MESSAGES, FB_ARCHIVE_SEGMENT_MAX_BYTES, FB_ARCHIVE_SEAL_AFTER_MS.
 */
export function loadArchiveConfig(env: Env, cwd: string = process.cwd()): ArchiveConfig {
  const r = readers(env);
  const url = r.str('FB_ARCHIVE_URL', '');
  return {
    store: storeConfig(url || DEFAULT_ARCHIVE_DIR, env, cwd),
    configured: url !== '',
    segments: {
      maxMessages: r.int('FB_ARCHIVE_SEGMENT_MAX_MESSAGES', ARCHIVE_DEFAULTS.maxMessages, 1, 1_000_000),
      maxBytes: r.int('FB_ARCHIVE_SEGMENT_MAX_BYTES', ARCHIVE_DEFAULTS.maxBytes, 1024, 1024 * 1024 * 1024),
      sealAfterMs: r.int('FB_ARCHIVE_SEAL_AFTER_MS', ARCHIVE_DEFAULTS.sealAfterMs, 100, 7 * 24 * 3600_000),
    },
  };
}

function storeConfig(url: string, env: Env, cwd: string): ArchiveStoreConfig {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url)?.[1]?.toLowerCase();
  if (scheme === undefined) return { kind: 'fs', root: isAbsolute(url) ? url : resolve(cwd, url) };
  if (scheme === 'file') {
    try {
      return { kind: 'fs', root: fileURLToPath(url) };
    } catch (err) {
      throw new ConfigError(`FB_ARCHIVE_URL='${url}' is not a usable file URL (${(err as Error).message}); write file:///absolute/path or a plain path`, { cause: err });
    }
  }
  if (scheme !== 's3') {
    throw new ConfigError(`FB_ARCHIVE_URL='${url}': the archive is a folder (file:///abs/path or a path) or an S3-compatible bucket (s3://bucket/prefix), not ${scheme}://`);
  }
  const m = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/(.*))?$/i.exec(url);
  if (!m) throw new ConfigError(`FB_ARCHIVE_URL='${url}' must be s3://<bucket>[/<prefix>] with a valid bucket name (3-63 letters, digits, '.', '-')`);
  const prefix = (m[2] ?? '').replace(/^\/+|\/+$/g, '');
  if (prefix && !/^[A-Za-z0-9_.\-/]+$/.test(prefix)) throw new ConfigError(`FB_ARCHIVE_URL='${url}': the prefix may hold letters, digits, '_', '.', '-' and '/' only`);
  const r = readers(env);
  const endpoint = r.str('FB_S3_ENDPOINT', '');
  if (endpoint) {
    try {
      if (!/^https?:$/.test(new URL(endpoint).protocol)) throw new Error('not http(s)');
    } catch {
      throw new ConfigError(`FB_S3_ENDPOINT='${endpoint}' must be an http(s) URL (Supabase Storage: https://<project>.supabase.co/storage/v1/s3)`);
    }
  }
  const accessKeyId = r.str('FB_S3_ACCESS_KEY_ID', '');
  const secretAccessKey = r.str('FB_S3_SECRET_ACCESS_KEY', '');
  if (Boolean(accessKeyId) !== Boolean(secretAccessKey)) {
    throw new ConfigError('FB_S3_ACCESS_KEY_ID and FB_S3_SECRET_ACCESS_KEY go together: set both (Supabase: Storage > S3 access keys), or neither to use the AWS SDK\'s default credentials');
  }
  return {
    kind: 's3', bucket: m[1]!, prefix, endpoint: endpoint || undefined, region: r.str('FB_S3_REGION', 'us-east-1'),
    forcePathStyle: r.bool('FB_S3_FORCE_PATH_STYLE', endpoint !== ''),
    credentials: accessKeyId ? { accessKeyId, secretAccessKey } : undefined,
  };
}

export function openArchiveStore(cfg: ArchiveStoreConfig): ArchiveStore {
  return cfg.kind === 'fs' ? new FsArchiveStore(cfg.root) : new S3ArchiveStore(cfg);
}
