import { fileURLToPath } from 'node:url';

/** The store's SQL migrations (warm tables, the projection kit's tables), shipped with the package; tiering applies them. */
export const MIGRATIONS_DIR = fileURLToPath(new URL('../migrations/', import.meta.url));
