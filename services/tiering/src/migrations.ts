import { fileURLToPath } from 'node:url';

/** The warm store's SQL migrations, shipped with the package. */
export const MIGRATIONS_DIR = fileURLToPath(new URL('../migrations/', import.meta.url));
