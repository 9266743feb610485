import { randomBytes } from 'node:crypto';
import { link, mkdir, open, readdir, readFile, stat, unlink } from 'node:fs/promises';
import { dirname, join, sep } from 'node:path';
import { ObjectConflictError, ObjectMissingError } from './errors.js';
import { checkKey, sameBytes, type ArchiveStore } from './store.js';

const isCode = (err: unknown, code: string) => (err as NodeJS.ErrnoException)?.code === code;

/**
 * The archive on a filesystem (the default): a key is a file under `root`.
 * A put writes a temporary file, fsyncs it, then links it to its name, which
 * fails if the name exists (so two writers never overwrite each other), and
 * fsyncs the directory: after `put` resolves, the object survives a power loss.
 */
export class FsArchiveStore implements ArchiveStore {
  constructor(readonly root: string) {}

  get location(): string {
    return `file://${this.root}`;
  }

  #path(key: string): string {
    return join(this.root, ...checkKey(key).split('/'));
  }

  async put(key: string, bytes: Uint8Array): Promise<'written' | 'exists'> {
    const path = this.#path(key);
    const existing = await this.#read(path);
    if (existing) return this.#same(key, existing, bytes);
    const dir = dirname(path);
    const made = await mkdir(dir, { recursive: true });
    // New folders' names are durable too (each lives in its parent).
    if (made) for (let d = dir; d.length >= made.length; d = dirname(d)) await syncDir(dirname(d));
    const tmp = join(dir, `.${randomBytes(6).toString('hex')}.tmp`);
    const f = await open(tmp, 'wx');
    try {
      await f.writeFile(bytes);
      await f.sync();
    } finally {
      await f.close();
    }
    try {
      await link(tmp, path);
    } catch (err) {
      if (!isCode(err, 'EEXIST')) throw err;
      return this.#same(key, (await this.#read(path))!, bytes);
    } finally {
      await unlink(tmp).catch(() => undefined);
    }
    await syncDir(dir);
    return 'written';
  }

  #same(key: string, existing: Uint8Array, bytes: Uint8Array): 'exists' {
    if (!sameBytes(existing, bytes)) throw new ObjectConflictError(key);
    return 'exists';
  }

  async #read(path: string): Promise<Uint8Array | undefined> {
    try {
      return await readFile(path);
    } catch (err) {
      if (isCode(err, 'ENOENT')) return undefined;
      throw err;
    }
  }

  async get(key: string): Promise<Uint8Array> {
    const b = await this.#read(this.#path(key));
    if (!b) throw new ObjectMissingError(key);
    return b;
  }

  async exists(key: string): Promise<boolean> {
    return stat(this.#path(key)).then((s) => s.isFile(), (err: unknown) => {
      if (isCode(err, 'ENOENT')) return false;
      throw err;
    });
  }

  async list(prefix: string): Promise<string[]> {
    // The folder the prefix names (or is inside), walked; temporary files (dot files) are never keys.
    const slash = prefix.lastIndexOf('/');
    const base = slash >= 0 ? prefix.slice(0, slash) : '';
    if (base) checkKey(base);
    const out: string[] = [];
    const walk = async (rel: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(rel ? join(this.root, ...rel.split('/')) : this.root, { withFileTypes: true });
      } catch (err) {
        if (isCode(err, 'ENOENT') || isCode(err, 'ENOTDIR')) return;
        throw err;
      }
      for (const e of entries) {
        if (e.name.startsWith('.')) continue;
        const key = rel ? `${rel}/${e.name}` : e.name;
        if (e.isDirectory()) {
          if (`${key}/`.startsWith(prefix) || prefix.startsWith(`${key}/`)) await walk(key);
        } else if (e.isFile() && key.startsWith(prefix)) out.push(key);
      }
    };
    await walk(base);
    return out.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }

  async remove(key: string): Promise<void> {
    const path = this.#path(key);
    try {
      await unlink(path);
    } catch (err) {
      if (isCode(err, 'ENOENT')) return;
      throw err;
    }
    await syncDir(dirname(path));
  }
}

/** Makes a directory entry (a new or removed file's name) durable. */
async function syncDir(dir: string): Promise<void> {
  if (sep !== '/') return; // directories cannot be opened for fsync on Windows
  const d = await open(dir, 'r');
  try {
    await d.sync();
  } finally {
    await d.close();
  }
}
